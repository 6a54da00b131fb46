// The new ticket page in Chromium, at 390 and 1280 px with JavaScript on and off (run by
// tests/tests/portal_browser.rs; `HD_BROWSER_FILTER='new ticket'` runs only these):
//
// - JavaScript on: typing "reset my passw" suggests the password article under the subject,
//   announced politely; opening it keeps the draft (sessionStorage), and back on the form "Yes,
//   this answered my question" records the deflection (impression, click, answered) and leaves
//   without filing; choosing a category shows its fields at once;
// - JavaScript off: the "Show the fields for this category" button re-renders the form with the
//   input kept;
// - both: a missing required field comes back with the summary and the message at the field, the
//   ticket is filed with a custom field and an attachment (read back over gRPC), a guest files and
//   gets the confirmation page, the captcha is solved in the page (or its need is said plainly),
//   and a ticket is filed with the keyboard only.
// Every state is audited by axe and shot (`check`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, eachVariant, check, url, seed, freshEmail, eventually } from './lib/portal.mjs';
import { closeGrpc, getTicket, listMessages, withPortalSettings } from './lib/grpc.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  closeGrpc();
});

const TICKET_URL = /\/tickets\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const subject = (page) => page.getByLabel('Subject', { exact: true });

/// Signs the page's context in through the JSON API (its cookies are the browser's), then opens
/// `path`: this file tests the new ticket form, not the login page (walk.test.mjs does that).
async function signedIn(page, { email, password }, path) {
  const response = await page.request.post(url('/api/v1/session'), { data: { email, password } });
  assert.ok(response.ok(), `sign-in: ${response.status()} ${await response.text()}`);
  await page.goto(url(path));
}

/// What the page says is wrong (its error summary or error page), for a failing assertion.
const problems = (page) => page.locator('.error-summary, .error-page').first().innerText({ timeout: 1000 }).catch(() => '');

async function follow(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
}

/// The Technical category's fields show: at once with JavaScript, through the button without.
async function chooseTechnical(page, variant) {
  await page.getByLabel('Category', { exact: true }).selectOption({ label: 'Technical' });
  const steps = page.getByLabel('Steps to reproduce');
  if (variant.js) {
    await steps.waitFor({ state: 'visible', timeout: 2000 });
    assert.equal(await page.getByRole('button', { name: 'Show the fields for this category' }).count(), 0,
      'the script makes the button unnecessary');
  } else {
    assert.equal(await steps.isVisible(), false, 'without JavaScript the fields wait for the button');
    await follow(page, page.getByRole('button', { name: 'Show the fields for this category' }));
    await steps.waitFor({ state: 'visible' });
    assert.equal(await page.getByLabel('Category', { exact: true }).inputValue(), seed().categories.find((c) => c.name === 'Technical').id);
  }
}

test('new ticket: suggestions while the subject is typed keep the draft and can answer the question', async (t) => {
  const { ann, articles } = seed();
  await eachVariant(t, browser, async (page) => {
    const feedback = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/api/v1/kb/feedback')) {
        feedback.push({ ...JSON.parse(request.postData() || '{}'), csrf: Boolean(request.headers()['x-csrf-token']) });
      }
    });
    await signedIn(page, ann, '/tickets/new');
    await subject(page).pressSequentially('reset my passw', { delay: 30 });
    const suggestion = page.getByRole('link', { name: articles.reset.title });
    await suggestion.waitFor({ timeout: 10_000 });
    const status = page.locator('[role="status"][aria-live="polite"]', { hasText: /may answer this/ });
    await status.waitFor();
    assert.match(await status.innerText(), /^\d+ articles? may answer this$/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'subject', 'typing is never interrupted');
    await page.getByLabel('Message', { exact: true }).fill('I asked for the reset mail twice.');
    await check(page, 'new-ticket-suggestions');

    // Opening a suggestion: same tab, the draft kept for the way back.
    await follow(page, suggestion);
    assert.equal(new URL(page.url()).pathname, `/kb/articles/${articles.reset.slug}`);
    await page.goBack({ waitUntil: 'load' });
    await eventually('the draft is restored', async () => (await subject(page).inputValue()) === 'reset my passw');
    assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'I asked for the reset mail twice.');
    const back = page.getByRole('heading', { name: new RegExp(`Did “${articles.reset.title.replace(/[?]/g, '\\?')}” answer`) });
    await back.waitFor();
    await check(page, 'new-ticket-back-from-article');

    await follow(page, page.getByRole('button', { name: 'Yes, this answered my question' }));
    assert.equal(new URL(page.url()).pathname, '/tickets/new/answered');
    await page.getByRole('heading', { name: 'Glad that helped' }).waitFor();
    await check(page, 'new-ticket-answered');
    const kinds = (kind) => feedback.filter((f) => f.kind === kind && f.article_id === articles.reset.id);
    for (const kind of ['impression', 'click', 'answered']) assert.ok(kinds(kind).length >= 1, `${kind}: ${JSON.stringify(feedback)}`);
    assert.ok(feedback.every((f) => f.csrf), 'a signed-in contact sends the CSRF header');

    // The draft is gone: a new form is empty.
    await page.goto(url('/tickets/new'));
    assert.equal(await subject(page).inputValue(), '');
  }, (v) => v.js);
});

test('new ticket: a category\'s fields, the error state, then filing with an attachment', async (t) => {
  const { ann } = seed();
  await eachVariant(t, browser, async (page, variant) => {
    await signedIn(page, ann, '/tickets/new');
    await check(page, 'new-ticket-form');
    const title = `Export crashes (${variant.name})`;
    await subject(page).fill(title);
    await chooseTechnical(page, variant);
    assert.equal(await subject(page).inputValue(), title, 'choosing a category keeps what was typed');
    await check(page, 'new-ticket-category-fields');

    // Nothing in the message: the form comes back, 422, the summary focused and linked.
    await page.getByLabel('Steps to reproduce').fill('1. Open\n2. Export');
    await follow(page, page.getByRole('button', { name: 'Submit ticket' }));
    const summary = page.locator('.error-summary');
    await summary.waitFor();
    assert.ok(await summary.evaluate((el) => el.contains(document.activeElement)), 'the summary has focus');
    const message = page.getByLabel('Message', { exact: true });
    assert.equal(await message.getAttribute('aria-invalid'), 'true');
    assert.match(await message.getAttribute('aria-describedby'), /message-error/);
    assert.equal(await page.getByLabel('Steps to reproduce').inputValue(), '1. Open\n2. Export');
    await check(page, 'new-ticket-error');

    await message.fill('The export dialog closes and the app quits.');
    await page.getByLabel('Linux').check();
    await page.getByLabel('Priority', { exact: true }).selectOption({ label: 'High' });
    await page.getByLabel('Attachments').setInputFiles({ name: 'crash.log', mimeType: 'text/plain', buffer: Buffer.from('panic at export\n') });
    await follow(page, page.getByRole('button', { name: 'Submit ticket' }));
    const [, id] = page.url().match(TICKET_URL) ?? [];
    assert.ok(id, `submitting opens the ticket's page: ${page.url()} ${await problems(page)}`);
    const ticket = await getTicket(id);
    assert.equal(ticket.subject, title);
    assert.equal(ticket.priority.id, 'high');
    assert.equal(ticket.custom_fields.steps.text, '1. Open\n2. Export');
    assert.deepEqual(ticket.custom_fields.platforms.options.values, ['Linux']);
    const [first] = await listMessages(id);
    assert.deepEqual(first.attachments.map((a) => a.filename), ['crash.log']);
  });
});

test('new ticket: a guest files and is told what happens next; the captcha is solved in the page', async (t) => {
  await eachVariant(t, browser, async (page, variant) => {
    await page.goto(url('/tickets/new'));
    await page.getByLabel('Name', { exact: true }).fill('Gita Guest');
    await page.getByLabel('Email', { exact: true }).fill(freshEmail(`guest-${variant.name}`));
    await subject(page).fill(`A guest's question (${variant.name})`);
    await page.getByLabel('Message', { exact: true }).fill('Do you ship abroad?');
    assert.equal(await page.getByLabel('Attachments').count(), 0, 'guests are asked to log in to attach files');
    await follow(page, page.getByRole('button', { name: 'Submit ticket' }));
    assert.equal(new URL(page.url()).pathname, '/tickets/new/sent');
    await page.getByText('Check your mail').waitFor();
    await check(page, 'new-ticket-guest-sent');

    await withPortalSettings({ captcha_enabled: true }, async () => {
      await page.goto(url('/tickets/new'));
      await page.getByLabel('Name', { exact: true }).fill('Gita Guest');
      await page.getByLabel('Email', { exact: true }).fill(freshEmail(`captcha-${variant.name}`));
      await subject(page).fill(`Behind the captcha (${variant.name})`);
      await page.getByLabel('Message', { exact: true }).fill('Still there?');
      if (!variant.js) {
        await page.getByText('Sending this form as a guest needs JavaScript').waitFor();
        await check(page, 'new-ticket-guest-captcha-nojs');
        await follow(page, page.getByRole('button', { name: 'Submit ticket' }));
        await page.locator('#captcha-error').waitFor();
        assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'Still there?');
        await check(page, 'new-ticket-guest-captcha-error');
        return;
      }
      await check(page, 'new-ticket-guest-captcha');
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/tickets/new/sent', { timeout: 30_000 }),
        page.getByRole('button', { name: 'Submit ticket' }).click(),
      ]);
      await page.getByText('Check your mail').waitFor();
    });
  });
});

/// Presses Tab until the focused element's label or text matches `name`.
async function tabTo(page, name) {
  for (let i = 0; i < 50; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return '';
      const label = el.labels?.[0]?.innerText ?? '';
      return `${label} ${el.tagName === 'BUTTON' || el.tagName === 'A' ? el.innerText : ''}`.trim();
    });
    if (name.test(focused)) return;
  }
  assert.fail(`Tab never reached ${name}`);
}

test('new ticket: filed with the keyboard only, a category and its required field included', async (t) => {
  const { ann } = seed();
  await eachVariant(t, browser, async (page, variant) => {
    await signedIn(page, ann, '/tickets/new');
    const title = `Keyboard with a category (${variant.name})`;
    await tabTo(page, /^Subject$/);
    await page.keyboard.type(title);
    await tabTo(page, /^Message$/);
    await page.keyboard.type('Typed, tabbed and entered.');
    await tabTo(page, /^Category$/);
    // A closed select takes the typed name of an option.
    await page.keyboard.type('Billing');
    if (!variant.js) {
      await tabTo(page, /^Show the fields for this category$/);
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
      // The re-rendered form: back to the first field of the category.
      await page.getByLabel('Category', { exact: true }).focus();
    }
    await tabTo(page, /^Invoice number/);
    await page.keyboard.type('INV-KEY-1');
    await tabTo(page, /^Submit ticket$/);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
    const [, id] = page.url().match(TICKET_URL) ?? [];
    assert.ok(id, `Enter on "Submit ticket" filed it: ${page.url()} ${await problems(page)}`);
    const ticket = await getTicket(id);
    assert.equal(ticket.subject, title);
    assert.equal(ticket.custom_fields.invoice.text, 'INV-KEY-1');
  });
});
