// Small conveniences on every portal page; everything works without them.
// - <time datetime> elements are rewritten in the reader's time zone and language.
// - An error summary takes focus (the autofocus attribute already does this for most browsers;
//   this covers pages restored from the back/forward cache).
(function () {
  "use strict";
  var format;
  try {
    format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  } catch (e) {
    return;
  }
  function localize(root) {
    var times = (root || document).querySelectorAll("time[datetime]:not([data-date-only])");
    for (var i = 0; i < times.length; i++) {
      var at = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(at)) times[i].textContent = format.format(at);
    }
  }
  window.helpdeskLocalize = localize;
  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
    var summary = document.querySelector("[data-error-summary]");
    if (summary && document.activeElement !== summary) summary.focus();
  });
})();
