// The shared toolbox of the portal's browser tests (run by tests/tests/portal_browser.rs under
// `node --test`): Debian's Chromium through playwright-core, the four variants every page is
// seen in (phone 390×844 and desktop 1280×800, JavaScript on and off), an axe-core audit that
// fails with a readable list, full-page screenshots, the SMTP sink's Maildir for activation and
// reset mail, and the seed the runner made (`HD_SEED`).
//
// Why one browser per test file and a fresh context per variant: a context is a clean profile
// (no cookies, no cache), so the variants cannot leak sessions into each other, while starting
// Chromium once keeps a file's run short on two cores. Agent actions over gRPC live in grpc.mjs.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

/// Required settings from the runner; a clear message when a file is run without it.
export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests through cargo (tests/browser/README.md)`);
  return value;
}

export const baseUrl = () => env('HD_BASE_URL').replace(/\/$/, '');
/// What the runner seeded: ids, emails and passwords (tests/src/portal_seed.rs names the fields).
export const seed = () => JSON.parse(env('HD_SEED'));
/// `url('/tickets')` → the portal's absolute URL.
export const url = (path) => baseUrl() + path;

export const VARIANTS = [
  { width: 390, height: 844, js: true },
  { width: 390, height: 844, js: false },
  { width: 1280, height: 800, js: true },
  { width: 1280, height: 800, js: false },
].map((v) => ({ ...v, name: `${v.width}-${v.js ? 'js' : 'nojs'}` }));

// Chromium must not reach for the network on its own (this machine has none): without the
// background-networking flags it floods the closed network with refused connections.
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/// Starts Chromium. playwright-core gives every launch a fresh temporary `--user-data-dir` (and
/// removes it on close), so no state survives between runs.
export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.HD_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
  return {
    /// A page in a clean context (no cookies) of `variant`'s size, with JavaScript on or off.
    async open(variant) {
      const context = await browser.newContext({
        viewport: { width: variant.width, height: variant.height },
        javaScriptEnabled: variant.js,
        locale: 'en-GB',
        timezoneId: 'Europe/Berlin',
      });
      await mapPortalUrl(context);
      const page = await context.newPage();
      page.variant = variant;
      page.auditTwin = () => browser.newContext({ viewport: { width: variant.width, height: variant.height } });
      return page;
    },
    close: () => browser.close(),
  };
}

/// Identity writes its configured portal URL (`HD_PORTAL_URL`, the address registered at the
/// OpenID provider) into mails and SSO redirects; the test gateway listens elsewhere. Requests to
/// that URL are answered with a redirect to the same path on `HD_BASE_URL` (cookies do not care
/// about ports, so the session survives the hop).
export async function mapPortalUrl(context) {
  const portal = process.env.HD_PORTAL_URL?.replace(/\/$/, '');
  if (!portal || portal === baseUrl()) return;
  await context.route(`${portal}/**`, (route) => {
    const target = new URL(route.request().url());
    return route.fulfill({ status: 302, headers: { location: baseUrl() + target.pathname + target.search } });
  });
}

/// Runs `body(page)` once per variant (or those `filter` keeps), each in a clean context, closing
/// it afterwards even when the body fails. Use inside a `test()` with `t.test()` per variant.
export async function eachVariant(t, browser, body, filter = () => true) {
  for (const variant of VARIANTS.filter(filter)) {
    await t.test(variant.name, async () => {
      const page = await browser.open(variant);
      try {
        await body(page, variant);
      } finally {
        await page.context().close();
      }
    });
  }
}

/// axe-core with WCAG 2.0/2.1/2.2 A and AA; `target-size` (24 px targets, the one 2.2 AA rule)
/// ships disabled in axe 4.14 and is switched on here. Fails with one line per violating node.
///
/// axe is a script, and a page with JavaScript off runs none (not even one injected). Such a
/// page is audited in a twin: a JavaScript-on context of the same size that is served the page's
/// DOM as it stands (scripts removed, `<noscript>` content unwrapped, as a browser without
/// JavaScript renders it) at the same URL, with the page's own stylesheets and images.
export async function audit(page, label) {
  const results = page.variant?.js === false ? await auditTwin(page) : await axe(page);
  const lines = results.violations.flatMap((v) =>
    v.nodes.map((n) => `  ${v.id} (${v.impact}): ${n.target.join(' ')} — ${v.help}`),
  );
  assert.equal(lines.length, 0, `axe found violations on ${label} (${variantName(page)}, ${page.url()}):\n${lines.join('\n')}`);
}

const axe = (page) =>
  new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
    .options({ rules: { 'target-size': { enabled: true } } })
    .analyze();

async function auditTwin(page) {
  const html = (await page.content())
    .replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, '')
    .replace(/<\/?noscript\b[^>]*>/gi, '');
  const at = page.url();
  const context = await page.auditTwin();
  try {
    await context.addCookies(await page.context().cookies());
    await context.route('**/*', (route) => {
      const request = route.request();
      if (request.isNavigationRequest() && request.url() === at) {
        return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html });
      }
      return request.resourceType() === 'script' ? route.abort() : route.continue();
    });
    const twin = await context.newPage();
    await twin.goto(at);
    return await axe(twin);
  } finally {
    await context.close();
  }
}

const variantName = (page) => page.variant?.name ?? `${page.viewportSize()?.width}-js`;

/// A full-page PNG at `$HD_SCREENSHOTS/<label>-<width>-js|nojs.png`.
export async function shoot(page, label) {
  const dir = resolve(process.env.HD_SCREENSHOTS || 'target/browser-screenshots');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${label}-${variantName(page)}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/// Audit, then screenshot: what every page in every state gets.
export async function check(page, label) {
  await shoot(page, label);
  await audit(page, label);
}

// ------------------------------------------------------------------ mail (the SMTP sink)

/// Mail the stack's SMTP sink received for `address`, oldest first, as raw RFC 5322 text (the
/// same reading as tests/src/lib.rs `mail_to`: a `To:` header naming the address).
export function mailTo(address) {
  const maildir = env('HD_SMTP_MAILDIR');
  const needle = address.toLowerCase();
  const found = [];
  for (const sub of ['new', 'cur']) {
    let names = [];
    try {
      names = readdirSync(join(maildir, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(maildir, sub, name);
      let text;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue;
      }
      const headers = text.split(/\r?\n\r?\n/, 1)[0].split(/\r?\n/);
      if (headers.some((l) => l.toLowerCase().startsWith('to:') && l.toLowerCase().includes(needle))) {
        found.push({ at: statSync(path).mtimeMs, text });
      }
    }
  }
  return found.sort((a, b) => a.at - b.at).map((m) => m.text);
}

/// Waits (30 s at most) until the sink holds `count` mails for `address`; returns them all.
export async function waitForMail(address, count, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = mailTo(address);
    if (mails.length >= count) return mails;
    if (Date.now() > deadline) throw new Error(`expected ${count} mail(s) for ${address}, the sink has ${mails.length}`);
    await sleep(200);
  }
}

/// Undoes quoted-printable (soft line breaks and `=XX`), how the mail's parts travel.
export function decodeQuotedPrintable(raw) {
  const joined = raw.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/// The first link in `mail` to `path` (e.g. '/activate'), as a path + query on this portal:
/// the mail names identity's configured portal URL, which in the tests is not the gateway's port.
export function linkFrom(mail, path) {
  const text = decodeQuotedPrintable(mail);
  const match = text.match(new RegExp(`https?://[^\\s"'<>]*?${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\?[^\\s"'<>]*`));
  if (!match) throw new Error(`no ${path} link in the mail:\n${text}`);
  const link = new URL(match[0].replace(/&amp;/g, '&'));
  return link.pathname + link.search;
}

// ------------------------------------------------------------------ flows

let unique = 0;
/// A fresh address in the seed's mail domain, so a walk can sign up again on every run.
export function freshEmail(prefix) {
  unique += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${unique}@portal.example`;
}

/// Request an account at /signup (name + email; the captcha, when on, is solved by the page's
/// script), follow the activation mail's link and set `password`. Leaves the page signed in.
export async function signUp(page, { name, email, password }) {
  const before = mailTo(email).length;
  await page.goto(url('/signup'));
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Request account' }).click();
  await page.waitForLoadState();
  const mails = await waitForMail(email, before + 1);
  await page.goto(url(linkFrom(mails.at(-1), '/activate')));
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.waitForLoadState();
}

/// Log in at /login with email and password (`next` is where the portal should send us back).
export async function logIn(page, { email, password }, next) {
  await page.goto(url(next ? `/login?next=${encodeURIComponent(next)}` : '/login'));
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForLoadState();
}

/// Waits until `check()` is truthy (bounded), for effects that arrive asynchronously.
export async function eventually(what, check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(200);
  }
}
