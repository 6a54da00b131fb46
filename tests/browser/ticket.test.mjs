// The ticket details page in Chromium (tests/tests/portal_ticket.rs checks the same page over
// HTTP): with JavaScript on, an agent's reply over gRPC appears without a reload and is announced
// politely while the draft in the reply box stays as typed, and an internal note never shows;
// in every variant (JavaScript off included) Reply with an attachment and Mark as complete work as
// plain forms, and a reply without text comes back with the error summary. Every state is
// screenshotted and audited with axe.
//
// Each test signs a seeded contact in through the JSON API (the session cookie lands in the
// browser context) and files a fresh ticket the same way: this file is about the ticket page, and
// the login and new-ticket pages have their own tests (walk.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, eachVariant, check, url, seed, eventually } from './lib/portal.mjs';
import { addNote, closeGrpc, replyAsAgent } from './lib/grpc.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  closeGrpc();
});

/// Signs `contact` in (session cookies in the page's context) and files a ticket as them; the
/// ticket's JSON.
async function signInWithTicket(page, contact, subject) {
  const login = await page.request.post(url('/api/v1/session'), { data: { email: contact.email, password: contact.password } });
  assert.equal(login.status(), 200, `login: ${await login.text()}`);
  const csrf = (await page.context().cookies()).find((c) => c.name.endsWith('hd_csrf'));
  assert.ok(csrf, 'the login set the CSRF cookie');
  const filed = await page.request.post(url('/api/v1/tickets'), {
    data: { subject, message: `First words of "${subject}".\nA second line.` },
    headers: { 'x-csrf-token': csrf.value },
  });
  assert.equal(filed.status(), 201, `file: ${await filed.text()}`);
  return filed.json();
}

/// Clicks and waits for the page it leads to (a form post).
async function follow(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
}

const messageBox = (page) => page.getByLabel('Message', { exact: true });

test('ticket page: an agent reply appears live and is announced, the draft stays', async (t) => {
  await eachVariant(
    t,
    browser,
    async (page, variant) => {
      const subject = `Live update (${variant.name})`;
      const ticket = await signInWithTicket(page, seed().ann, subject);
      await page.goto(url(`/tickets/${ticket.id}`));
      await page.getByRole('heading', { level: 1, name: subject }).waitFor();
      await check(page, 'ticket-details');

      await messageBox(page).fill('A draft I am still typing');
      await addNote(ticket.id, `INTERNAL ${variant.name}: do not show`);
      await replyAsAgent(ticket.id, `Support here (${variant.name}): try the new link.`);
      await page.getByText(`Support here (${variant.name})`).waitFor({ timeout: 15_000 });
      const announcer = page.getByRole('status');
      await eventually('the reply is announced', async () => (await announcer.textContent()) === 'New reply from Support');
      assert.equal(await messageBox(page).inputValue(), 'A draft I am still typing', 'the draft is untouched');
      assert.equal(await page.getByText(`INTERNAL ${variant.name}`).count(), 0, 'internal notes never show');
      assert.equal(new URL(page.url()).pathname, `/tickets/${ticket.id}`, 'no navigation happened');
      await check(page, 'ticket-live-reply');

      // A second reply: the same announcement again, the first reply still there once.
      await replyAsAgent(ticket.id, `Support again (${variant.name}).`);
      await page.getByText(`Support again (${variant.name})`).waitFor({ timeout: 15_000 });
      assert.equal(await page.getByText(`Support here (${variant.name})`).count(), 1);
    },
    (v) => v.js,
  );
});

test('ticket page: reply with an attachment and mark as complete by plain forms', async (t) => {
  await eachVariant(t, browser, async (page, variant) => {
    const subject = `Plain forms (${variant.name})`;
    const ticket = await signInWithTicket(page, seed().ann, subject);
    await page.goto(url(`/tickets/${ticket.id}`));

    // No text: the form comes back with the error summary, focused, linking to the field.
    await follow(page, page.getByRole('button', { name: 'Reply', exact: true }));
    await page.getByRole('link', { name: 'Enter your reply.' }).waitFor();
    const focused = await page.evaluate(() => Boolean(document.activeElement?.closest('.error-summary')));
    assert.ok(focused, 'the error summary takes focus');
    await check(page, 'ticket-reply-error');

    await messageBox(page).fill(`It still fails (${variant.name}). Log attached.`);
    await page.getByLabel('Attachments').setInputFiles({ name: 'browser.log', mimeType: 'text/plain', buffer: Buffer.from('ERR 42\n') });
    await follow(page, page.getByRole('button', { name: 'Reply', exact: true }));
    assert.match(page.url(), new RegExp(`/tickets/${ticket.id}#message-[0-9a-f-]{36}$`), 'back at the new message');
    await page.getByText(`It still fails (${variant.name}). Log attached.`).waitFor();
    await page.getByRole('link', { name: 'browser.log' }).waitFor();
    assert.equal(await messageBox(page).inputValue(), '', 'the reply box is empty again');
    await check(page, 'ticket-replied');

    await follow(page, page.getByRole('button', { name: 'Mark as complete' }));
    await page.locator('[data-status-kind="completed"]', { hasText: 'Completed' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Mark as complete' }).count(), 0, 'not offered once completed');
    await check(page, 'ticket-completed');
  });
});
