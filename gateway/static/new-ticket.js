// The new ticket page's enhancements (the form works without them):
//
// - choosing a category shows its fields at once (every category's fieldset is on the page,
//   hidden and disabled but the chosen one's), so the "Show the fields" button goes away;
// - knowledge-base suggestions while the subject is typed: debounced calls to
//   /api/v1/kb/suggest, a list of links after the field (no popup, nothing steals focus), the
//   count announced politely; feedback (impression, click, answered) to /api/v1/kb/feedback;
// - the draft lives in sessionStorage while the contact reads an article in the same tab, and
//   comes back when they return; "This answered my question" drops it and leaves without filing;
// - the captcha (guests, when on) is solved in the browser when the form is sent.
//
// Every word shown comes from the template (data attributes and <template>), never from here.
(function () {
  'use strict';
  const form = document.querySelector('[data-new-ticket]');
  if (!form) return;

  const DRAFT = 'hd-new-ticket-draft';
  const OPENED = 'hd-new-ticket-opened';
  const store = {
    get(key) {
      try { return JSON.parse(sessionStorage.getItem(key) || 'null'); } catch (_) { return null; }
    },
    set(key, value) {
      try { sessionStorage.setItem(key, JSON.stringify(value)); } catch (_) { /* private mode: no draft */ }
    },
    drop(key) {
      try { sessionStorage.removeItem(key); } catch (_) { /* nothing kept */ }
    },
  };

  // --- the chosen category's fields ------------------------------------------------------------
  const category = form.querySelector('[data-category-select]');
  function showFields() {
    form.querySelectorAll('[data-category]').forEach((fieldset) => {
      const chosen = fieldset.dataset.category === category.value;
      fieldset.hidden = !chosen;
      fieldset.disabled = !chosen;
    });
  }
  if (category) {
    const button = form.querySelector('[data-fields-button]');
    if (button) button.remove();
    category.addEventListener('change', showFields);
  }

  // --- the draft ---------------------------------------------------------------------------------
  const kept = (el) => el.name && el.name !== 'csrf_token' && el.name !== 'captcha' && el.name !== 'intent' && el.type !== 'file';
  function draft() {
    const values = {};
    const ticked = [];
    for (const el of form.elements) {
      if (!kept(el) || el.disabled) continue;
      if (el.type === 'checkbox') {
        if (el.checked) ticked.push(el.name + '=' + el.value);
      } else if (el.value !== undefined && el.tagName !== 'BUTTON' && el.tagName !== 'FIELDSET') {
        values[el.name] = el.value;
      }
    }
    return { values, ticked };
  }
  function saveDraft() {
    store.set(DRAFT, draft());
  }
  function restoreDraft(saved) {
    if (category && typeof saved.values.category === 'string') {
      category.value = saved.values.category;
      showFields();
    }
    for (const el of form.elements) {
      if (!kept(el) || el.disabled) continue;
      if (el.type === 'checkbox') {
        el.checked = saved.ticked.includes(el.name + '=' + el.value);
      } else if (typeof saved.values[el.name] === 'string') {
        el.value = saved.values[el.name];
      }
    }
  }
  let saveTimer;
  form.addEventListener('input', () => {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, 300);
  });
  form.addEventListener('change', saveDraft);

  // A re-rendered form (errors, or the fields button) already holds what was typed.
  const saved = store.get(DRAFT);
  if (saved && saved.values && !form.hasAttribute('data-rerendered')) restoreDraft(saved);

  // --- knowledge-base suggestions ----------------------------------------------------------------
  const subject = form.querySelector('#subject');
  const status = form.querySelector('[data-suggest-status]');
  const box = form.querySelector('[data-suggest]');
  const list = form.querySelector('[data-suggest-list]');
  const template = form.querySelector('template[data-suggestion]');
  const impressed = new Set();
  let lastQuery = '';

  function feedback(articleId, kind, query) {
    const headers = { 'Content-Type': 'application/json' };
    const csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf && csrf.content) headers['X-CSRF-Token'] = csrf.content;
    return fetch('/api/v1/kb/feedback', {
      method: 'POST',
      headers,
      credentials: 'same-origin',
      keepalive: true,
      body: JSON.stringify({ article_id: articleId, kind, query }),
    }).catch(() => undefined);
  }

  async function answered(article) {
    await feedback(article.id, 'answered', article.query || '');
    store.drop(DRAFT);
    store.drop(OPENED);
    location.assign('/tickets/new/answered');
  }

  function announce(count) {
    const text = count === 0 ? '' : count === 1 ? status.dataset.one : status.dataset.many.replace('{n}', String(count));
    if (status.textContent !== text) status.textContent = text;
  }

  function show(hits, query) {
    list.replaceChildren();
    for (const hit of hits) {
      const item = template.content.firstElementChild.cloneNode(true);
      const link = item.querySelector('[data-suggestion-link]');
      link.href = '/kb/articles/' + encodeURIComponent(hit.slug);
      link.textContent = hit.title;
      item.querySelector('[data-suggestion-about]').textContent = ': ' + hit.title;
      const article = { id: hit.id, title: hit.title, slug: hit.slug, query };
      link.addEventListener('click', () => {
        saveDraft();
        store.set(OPENED, article);
        feedback(hit.id, 'click', query);
      });
      item.querySelector('[data-suggestion-answered]').addEventListener('click', () => answered(article));
      list.append(item);
      if (!impressed.has(hit.id)) {
        impressed.add(hit.id);
        feedback(hit.id, 'impression', query);
      }
    }
    box.hidden = hits.length === 0;
    announce(hits.length);
  }

  let sequence = 0;
  async function suggest() {
    const query = subject.value;
    if (query === lastQuery) return;
    lastQuery = query;
    const mine = ++sequence;
    if (query.trim().length < 3) {
      show([], query);
      return;
    }
    try {
      const response = await fetch('/api/v1/kb/suggest?limit=5&q=' + encodeURIComponent(query), {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
      const hits = response.ok ? await response.json() : [];
      if (mine === sequence) show(Array.isArray(hits) ? hits : [], query);
    } catch (_) {
      if (mine === sequence) show([], query);
    }
  }

  if (subject && status && box && list && template) {
    let timer;
    subject.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(suggest, 250);
    });
    if (subject.value) suggest();
  }

  // Back from an article opened from a suggestion: did it answer the question?
  const opened = store.get(OPENED);
  const returned = document.querySelector('[data-return]');
  if (opened && opened.id && returned) {
    returned.querySelector('[data-return-title]').textContent = opened.title;
    returned.hidden = false;
    returned.querySelector('[data-return-yes]').addEventListener('click', () => answered(opened));
    returned.querySelector('[data-return-no]').addEventListener('click', () => {
      store.drop(OPENED);
      returned.hidden = true;
      if (subject) subject.focus();
    });
  }

  // --- sending: the captcha, and the draft's end ---------------------------------------------------
  const captcha = form.querySelector('[data-captcha]');
  if (captcha) {
    captcha.querySelector('[data-captcha-nojs]').hidden = true;
    captcha.querySelector('[data-captcha-js]').hidden = false;
  }
  let solving = false;
  form.addEventListener('submit', async (event) => {
    const intent = event.submitter && event.submitter.value;
    if (intent === 'fields') return;
    const input = captcha && captcha.querySelector('[data-captcha-input]');
    if (input && !input.value) {
      event.preventDefault();
      if (solving) return;
      solving = true;
      const line = captcha.querySelector('[data-captcha-status]');
      line.textContent = line.dataset.working;
      try {
        const { challenge } = await (await fetch('/api/v1/account/captcha', { credentials: 'same-origin' })).json();
        input.value = await globalThis.helpdeskCaptcha.solve(challenge);
      } catch (_) {
        line.textContent = line.dataset.failed;
        solving = false;
        return;
      }
      store.drop(DRAFT);
      store.drop(OPENED);
      form.submit();
      return;
    }
    // The server keeps what was typed if it sends the form back, so the draft is done with.
    store.drop(DRAFT);
    store.drop(OPENED);
  });
})();
