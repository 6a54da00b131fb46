// Live updates on the ticket page (everything works without this: a reload shows the same).
// The page's [data-ticket-live] names two URLs: an event stream that sends a small "changed"
// signal, and the fragment with the page's live parts (status, conversation). On a signal the
// fragment is fetched and each part whose data-version changed is swapped in by id; the reply
// form is not a live part, so a reply being typed is never touched, and focus is not moved.
// A new reply from support is announced in the page's polite status region, in the words the
// template put on it (data-agent, data-colleague, data-completed, data-pending).
(function () {
  "use strict";
  var root = document.querySelector("[data-ticket-live]");
  if (!root || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var announcer = document.getElementById("ticket-announcer");
  var busy = false;
  var again = false;

  function messageIds() {
    var ids = {};
    var items = document.querySelectorAll("#conversation [data-message]");
    for (var i = 0; i < items.length; i++) ids[items[i].id] = true;
    return ids;
  }

  function statusKind(scope) {
    var pill = scope.querySelector("[data-status-kind]");
    return pill ? pill.getAttribute("data-status-kind") : "";
  }

  function announce(text) {
    if (!announcer || !text) return;
    // Cleared first, so the same words twice are announced twice.
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 100);
  }

  function swap(html) {
    var before = messageIds();
    var kindBefore = statusKind(document);
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var parts = fresh.querySelectorAll("[data-live-part]");
    for (var i = 0; i < parts.length; i++) {
      var here = document.getElementById(parts[i].id);
      if (!here || here.getAttribute("data-version") === parts[i].getAttribute("data-version")) continue;
      var part = document.importNode(parts[i], true);
      here.parentNode.replaceChild(part, here);
      if (window.helpdeskLocalize) window.helpdeskLocalize(part);
    }
    var added = [];
    var items = document.querySelectorAll("#conversation [data-message]");
    for (var j = 0; j < items.length; j++) {
      if (!before[items[j].id]) {
        items[j].classList.add("message--new");
        added.push(items[j].getAttribute("data-author"));
      }
    }
    var kindNow = statusKind(document);
    if (added.indexOf("agent") >= 0) announce(announcer.getAttribute("data-agent"));
    else if (added.indexOf("colleague") >= 0) announce(announcer.getAttribute("data-colleague"));
    else if (kindNow && kindNow !== kindBefore) announce(announcer.getAttribute("data-" + kindNow));
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(root.getAttribute("data-fragment"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("fragment " + response.status);
        return response.text();
      })
      .then(swap)
      .catch(function () { /* the next signal, or a reload, tries again */ })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var source = new EventSource(root.getAttribute("data-events"));
  var opened = false;
  source.addEventListener("changed", refresh);
  // After a reconnect (the stream ends every few minutes, or the network dropped) a signal may
  // have been missed: look once.
  source.addEventListener("open", function () {
    if (opened) refresh();
    opened = true;
  });
})();
