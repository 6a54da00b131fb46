// My Tickets in Chromium, at 390 and 1280 px with JavaScript on and off: the queues and their
// counts, the category navigation, the filter form, sorting by a column (its header on desktop,
// the form's "Sort by" on phones, where the table becomes stacked rows), search, the next and
// previous pages, Back and reload keeping the list, the empty queue, and a group member's view
// with the support-time alert. Every state is screenshotted and audited (`check`).
//
// The contact and their tickets are made through the JSON API (sign-up, activation, login,
// tickets), not the account pages: this file tests the list, and the walk tests those pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, eachVariant, check, url, seed, freshEmail, waitForMail, linkFrom, VARIANTS } from './lib/portal.mjs';
import { closeGrpc } from './lib/grpc.mjs';

let browser;
/// The contact this file made, with 24 tickets: 23 pending (21 routine ones, an invoice in
/// Billing, an urgent VPN problem in Technical with a due date) and a completed printer jam.
let mia;
const ROUTINE = 21;

before(async () => {
  browser = await launch();
  mia = { name: 'Mia Moreno', email: freshEmail('mia'), password: seed().password };
  const page = await browser.open(VARIANTS[2]);
  try {
    const api = page.context().request;
    const signup = await api.post(url('/api/v1/account/signup'), { data: { name: mia.name, email: mia.email } });
    assert.equal(signup.status(), 202, await signup.text());
    const mails = await waitForMail(mia.email, 1);
    const token = new URL(linkFrom(mails.at(-1), '/activate'), 'http://x').searchParams.get('token');
    const activated = await api.post(url('/api/v1/account/activate'), { data: { token, password: mia.password } });
    assert.equal(activated.status(), 200, await activated.text());
    const category = (name) => seed().categories.find((c) => c.name === name).id;
    const file = (ticket) => apiPost(page, '/api/v1/tickets', { message: 'Details inside.', ...ticket });
    for (let i = 1; i <= ROUTINE; i++) await file({ subject: `Routine question ${String(i).padStart(2, '0')}` });
    await file({ subject: 'Invoice charged twice', category_id: category('Billing'), priority: 'high', custom_fields: { invoice: 'INV-7' } });
    await file({ subject: 'VPN drops every hour', category_id: category('Technical'), priority: 'urgent', due_at: '2031-03-15T12:00:00Z' });
    const printer = await file({ subject: 'Printer jams on page two', priority: 'low' });
    await apiPost(page, `/api/v1/tickets/${printer.id}/complete`, {});
  } finally {
    await page.context().close();
  }
});
after(async () => {
  await browser?.close();
  closeGrpc();
});

/// A JSON API call with the context's session cookie and its CSRF token, as the portal's scripts send it.
async function apiPost(page, path, data) {
  const cookies = await page.context().cookies();
  const csrf = cookies.find((c) => /hd_csrf$/.test(c.name))?.value ?? '';
  const response = await page.context().request.post(url(path), { data, headers: { 'x-csrf-token': csrf } });
  assert.ok(response.ok(), `${path}: ${response.status()} ${await response.text()}`);
  return response.json();
}

/// Signs the page's context in (the session cookie, as the login page would leave it).
async function signIn(page, { email, password }) {
  const response = await page.context().request.post(url('/api/v1/session'), { data: { email, password } });
  assert.equal(response.status(), 200, await response.text());
}

async function follow(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
}

const lists = (page) => page.getByRole('navigation', { name: 'Ticket lists' });
const navLink = (page, name) => lists(page).getByRole('link', { name: new RegExp(`^${name}\\b`) });
const subjects = (page) => page.locator('.ticket-table__subject a').allInnerTexts();
const param = (page, name) => new URL(page.url()).searchParams.get(name);

/// Opens "Filter and sort" unless it is open (a native <details>: no script needed).
async function openFilters(page) {
  const details = page.locator('details.my-tickets__filters');
  if ((await details.getAttribute('open')) === null) await page.getByText('Filter and sort').click();
}

test('my tickets: queues, categories, filters, sort, search and pages', async (t) => {
  await eachVariant(t, browser, async (page, variant) => {
    await signIn(page, mia);
    await page.goto(url('/tickets'));
    // Pending by default, with the counts of every queue and category.
    assert.match(await navLink(page, 'Pending').innerText(), /\b23\b/);
    assert.match(await navLink(page, 'Completed').innerText(), /\b1\b/);
    assert.match(await navLink(page, 'All').innerText(), /\b24\b/);
    assert.match(await navLink(page, 'Billing').innerText(), /\b1\b/);
    assert.equal(await navLink(page, 'Pending').getAttribute('aria-current'), 'page');
    assert.equal((await subjects(page)).length, 20, 'twenty a page');
    await check(page, 'my-tickets');

    // A queue and a category are plain links; the current one is marked.
    await follow(page, navLink(page, 'Completed'));
    assert.equal(param(page, 'queue'), 'completed');
    assert.deepEqual(await subjects(page), ['Printer jams on page two']);
    assert.equal(await navLink(page, 'Completed').getAttribute('aria-current'), 'page');
    await check(page, 'my-tickets-completed');
    await follow(page, navLink(page, 'All'));
    await follow(page, navLink(page, 'Billing'));
    assert.deepEqual(await subjects(page), ['Invoice charged twice']);
    assert.equal(await navLink(page, 'Billing').getAttribute('aria-current'), 'page');
    await check(page, 'my-tickets-category');
    await follow(page, navLink(page, 'Every category'));

    // The filter form is a GET form: its state lands in the URL.
    await openFilters(page);
    await page.getByLabel('Priority').selectOption({ label: 'Urgent' });
    await follow(page, page.getByRole('button', { name: 'Apply filters' }));
    assert.equal(param(page, 'priority'), 'urgent');
    assert.deepEqual(await subjects(page), ['VPN drops every hour']);
    await check(page, 'my-tickets-filtered');
    await page.getByLabel('Due from').fill('2031-03-16');
    await follow(page, page.getByRole('button', { name: 'Apply filters' }));
    assert.equal(param(page, 'due_from'), '2031-03-16');
    await page.getByText('No tickets match this search and these filters').waitFor();
    await check(page, 'my-tickets-no-match');
    await follow(page, page.getByRole('link', { name: 'Clear filters' }).first());
    assert.equal(param(page, 'priority'), null);

    // Search.
    await page.getByLabel('Search', { exact: true }).fill('vpn');
    await follow(page, page.getByRole('button', { name: 'Search', exact: true }));
    assert.equal(param(page, 'q'), 'vpn');
    assert.deepEqual(await subjects(page), ['VPN drops every hour']);
    await check(page, 'my-tickets-search');
    // Back and reload keep the list the URL describes.
    await page.goBack();
    assert.equal(param(page, 'q'), null);
    assert.equal((await subjects(page)).length, 20);
    await page.goForward();
    await page.reload();
    assert.deepEqual(await subjects(page), ['VPN drops every hour']);
    assert.equal(await page.getByLabel('Search', { exact: true }).inputValue(), 'vpn', 'the form shows the state');

    // Sort by due date: the column header on desktop (aria-sort follows), the form on phones,
    // where the table is stacked rows and its header row is not shown.
    await page.goto(url('/tickets?queue=all'));
    if (variant.width >= 1280) {
      await follow(page, page.getByRole('columnheader', { name: /Due/ }).getByRole('link'));
      assert.equal(await page.getByRole('columnheader', { name: /Due/ }).getAttribute('aria-sort'), 'ascending');
      assert.equal(await page.locator('th[aria-sort]').count(), 1);
    } else {
      await openFilters(page);
      await page.getByLabel('Sort by').selectOption('due');
      await page.getByLabel('Order').selectOption('asc');
      await follow(page, page.getByRole('button', { name: 'Apply filters' }));
      const width = await page.evaluate(() => document.documentElement.scrollWidth).catch(() => null);
      if (width !== null) assert.ok(width <= variant.width, `no sideways scrolling (${width} px)`);
    }
    assert.equal(param(page, 'sort'), 'due');
    assert.equal((await subjects(page))[0], 'VPN drops every hour', 'the one with a due date first');
    await check(page, 'my-tickets-sorted');

    // Pages: Next, Previous, First; Back and reload keep the page.
    await page.goto(url('/tickets?queue=all&sort=created&dir=asc'));
    const first = await subjects(page);
    await follow(page, page.getByRole('link', { name: 'Next page' }));
    assert.ok(param(page, 'after'), 'the cursor is in the URL');
    const second = await subjects(page);
    assert.equal(second.length, 4);
    assert.ok(!second.some((s) => first.includes(s)), 'a different page');
    await check(page, 'my-tickets-page-2');
    await page.reload();
    assert.deepEqual(await subjects(page), second);
    await follow(page, page.getByRole('link', { name: 'Previous' }));
    assert.deepEqual(await subjects(page), first);
    await page.goBack();
    assert.deepEqual(await subjects(page), second);
    await follow(page, page.getByRole('link', { name: 'First page' }));
    assert.deepEqual(await subjects(page), first);
  });
});

test('my tickets: a bad address is a notice, an empty queue says so', async (t) => {
  await eachVariant(t, browser, async (page) => {
    await signIn(page, mia);
    const response = await page.goto(url('/tickets?queue=all&sort=colour&created_from=2026-02-30&after=x'));
    assert.equal(response.status(), 200);
    await page.getByText('Part of this address could not be used').waitFor();
    await check(page, 'my-tickets-notice');
    await page.goto(url('/tickets?queue=completed&priority=urgent'));
    await page.getByText('No tickets match').waitFor();
    await page.goto(url('/tickets?queue=completed&category=' + seed().categories[0].id));
    await page.getByText('No tickets here are completed yet').waitFor();
    assert.ok(await page.getByRole('link', { name: 'File a ticket' }).isVisible());
    await check(page, 'my-tickets-empty');
  });
});

test('my tickets: a group member switches to the group view and sees the time alert', async (t) => {
  const { ann, colleague_ticket, group } = seed();
  await eachVariant(t, browser, async (page) => {
    await signIn(page, ann);
    await page.goto(url('/tickets'));
    const alert = page.getByRole('alert');
    assert.match(await alert.innerText(), new RegExp(`running low.*\\b${group.remaining_minutes} min`, 's'));
    assert.equal(await page.getByRole('link', { name: colleague_ticket.subject }).count(), 0, 'not in her own list');
    await follow(page, lists(page).getByRole('link', { name: "My group's tickets" }));
    assert.equal(param(page, 'scope'), 'group');
    assert.equal(await lists(page).getByRole('link', { name: "My group's tickets" }).getAttribute('aria-current'), 'page');
    await page.getByRole('link', { name: colleague_ticket.subject }).waitFor();
    await page.getByRole('heading', { level: 1, name: "My group's tickets" }).waitFor();
    await check(page, 'my-tickets-group-view');
  });
});
