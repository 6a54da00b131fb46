// The help desk's captcha solver: finds the proof of work of an altcha challenge (PoW v2,
// SHA-256/384/512 with the counter as 4 big-endian bytes) with the browser's WebCrypto, and
// returns the payload to send as `captcha` with the sign-up form (base64 of JSON).
//
//   const { challenge } = await (await fetch('/api/v1/account/captcha')).json();
//   const captcha = await helpdeskCaptcha.solve(challenge);
(function () {
  'use strict';
  const hexToBytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (h) => parseInt(h, 16));
  const bytesToHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

  async function deriveKey(parameters, salt, password) {
    const algorithm = String(parameters.algorithm || 'SHA-256').toUpperCase();
    if (!['SHA-256', 'SHA-384', 'SHA-512'].includes(algorithm)) {
      throw new Error('unsupported captcha algorithm ' + parameters.algorithm);
    }
    let data = new Uint8Array(salt.length + password.length);
    data.set(salt);
    data.set(password, salt.length);
    for (let i = 0; i < Math.max(1, parameters.cost || 1); i++) {
      data = new Uint8Array(await crypto.subtle.digest(algorithm, data));
    }
    return data.slice(0, parameters.keyLength);
  }

  function matches(prefix, key) {
    if (prefix.length % 2 === 0) {
      return hexToBytes(prefix).every((byte, i) => key[i] === byte);
    }
    return bytesToHex(key).startsWith(prefix.toLowerCase());
  }

  async function solve(challenge, maxCounter = 10000000) {
    const parameters = challenge.parameters;
    const nonce = hexToBytes(parameters.nonce);
    const salt = hexToBytes(parameters.salt);
    const started = Date.now();
    for (let counter = 0; counter < maxCounter; counter++) {
      const password = new Uint8Array(nonce.length + 4);
      password.set(nonce);
      new DataView(password.buffer).setUint32(nonce.length, counter, false);
      const key = await deriveKey(parameters, salt, password);
      if (matches(parameters.keyPrefix, key)) {
        const payload = { challenge, solution: { counter, derivedKey: bytesToHex(key), time: Date.now() - started } };
        return btoa(JSON.stringify(payload));
      }
    }
    throw new Error('the captcha has no solution below ' + maxCounter);
  }

  globalThis.helpdeskCaptcha = { solve };
})();

// Pages: a form field marked `data-captcha` (with the challenge in `data-captcha-challenge`)
// is solved as soon as the page loads; the payload goes into its `data-captcha-field` input
// and its `data-captcha-status` element (a polite live region) says how far it got, in the
// words of the page's `data-solving` / `data-solved` / `data-failed` attributes. A form sent
// before the solution is ready waits for it. Nothing to do for the visitor: no puzzle.
(function () {
  'use strict';
  if (typeof document === 'undefined') return;
  function wire(box) {
    const field = box.querySelector('[data-captcha-field]');
    const status = box.querySelector('[data-captcha-status]');
    const form = box.closest('form');
    let challenge;
    try { challenge = JSON.parse(box.dataset.captchaChallenge); } catch (e) { return; }
    const say = (state, text) => { if (status) { status.dataset.state = state; status.textContent = text || ''; } };
    say('solving', box.dataset.solving);
    const solved = globalThis.helpdeskCaptcha.solve(challenge).then(
      (payload) => { field.value = payload; say('solved', box.dataset.solved); return true; },
      () => { say('failed', box.dataset.failed); return false; });
    if (form) {
      form.addEventListener('submit', (event) => {
        if (field.value) return;
        event.preventDefault();
        solved.then((ok) => { if (ok) form.submit(); });
      });
    }
  }
  function start() { document.querySelectorAll('[data-captcha]').forEach(wire); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
