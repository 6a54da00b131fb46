// The issue's end-to-end walk through the contact portal, at both widths with JavaScript on and
// off: request an account → activation mail → set password → log in → new ticket (typing "reset
// my passw" suggests the password article, JavaScript on) → file it with a category's custom
// fields and an attachment → details → an agent replies over gRPC → the reply appears without a
// reload and is announced (JavaScript on; after a reload without) → the contact replies → marks it
// complete → it is under Completed with the right counts. Then the group (a colleague's ticket,
// the low-time alert), another group's contact (404), SSO through the OpenID provider, each portal
// setting, the captcha, the knowledge base's hidden articles and a keyboard-only ticket.
// Every page in every state is screenshotted and audited (`check`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, eachVariant, check, url, seed, freshEmail, signUp, logIn, waitForMail, mailTo, linkFrom, eventually,
} from './lib/portal.mjs';
import { addNote, closeGrpc, replyAsAgent, withPortalSettings } from './lib/grpc.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  closeGrpc();
});

const header = (page) => page.getByRole('banner');
const headerLink = (page, name) => header(page).getByRole('link', { name, exact: true });
const TICKET_URL = /\/tickets\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/// Clicks and waits for the page it leads to (a form post or a link).
async function follow(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
}

async function expectSignedIn(page) {
  await header(page).getByRole('button', { name: 'Log out' }).waitFor({ timeout: 10_000 });
}

/// Fills a category's custom fields by their labels (the seed's "Billing" category).
async function fillBillingFields(page) {
  await page.getByLabel('Invoice number').fill('INV-2026-0042');
  await page.getByLabel('Amount').fill('42.50');
  await page.getByLabel('Invoice date').fill('2026-11-30');
  await page.getByLabel('Plan').selectOption('Pro');
  await page.getByLabel('Refund requested').check();
}

/// Picks a category; without JavaScript the form has to be re-rendered to show its fields, so a
/// button that does that (or the form reloaded with the category) is used when they do not show.
async function chooseCategory(page, name, firstField) {
  await page.getByLabel('Category', { exact: true }).selectOption({ label: name });
  const field = page.getByLabel(firstField);
  if (await field.isVisible().catch(() => false)) return;
  try {
    await field.waitFor({ timeout: 3000 });
    return;
  } catch {
    // not shown yet
  }
  const show = page.getByRole('button', { name: /field|category|update|apply|continue/i });
  assert.ok(await show.count(), `choosing "${name}" showed no fields and the form offers no button to show them`);
  await follow(page, show.first());
  await field.waitFor({ timeout: 5000 });
}

test('walk: sign up, file a ticket with fields and an attachment, follow the conversation, complete it', async (t) => {
  const { categories, articles } = seed();
  const billing = categories.find((c) => c.name === 'Billing');
  await eachVariant(t, browser, async (page, variant) => {
    const email = freshEmail(`walk-${variant.name}`);
    const password = 'lantern-orchard-river-73';
    const name = `Walker ${variant.width} ${variant.js ? 'JS' : 'NoJS'}`;

    // Request an account; the answer is the same whatever the address.
    await page.goto(url('/signup'));
    await check(page, 'signup');
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await follow(page, page.getByRole('button', { name: 'Request account' }));
    await check(page, 'signup-sent');

    // The activation mail's link: set a password, which activates and signs in.
    const mails = await waitForMail(email, 1);
    await page.goto(url(linkFrom(mails.at(-1), '/activate')));
    await check(page, 'activate');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await follow(page, page.getByRole('button', { name: 'Set password' }));
    await expectSignedIn(page);
    await check(page, 'activated');

    // Log out (server-side) and back in.
    await follow(page, header(page).getByRole('button', { name: 'Log out' }));
    await headerLink(page, 'Log in').waitFor();
    await page.goto(url('/login?next=/tickets/new'));
    await check(page, 'login');
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await follow(page, page.getByRole('button', { name: 'Log in' }));
    await expectSignedIn(page);
    assert.match(page.url(), /\/tickets\/new$/, 'the login went back to next=');

    // New ticket; typing the subject suggests the password article (JavaScript on).
    await check(page, 'new-ticket');
    const subject = page.getByLabel('Subject', { exact: true });
    if (variant.js) {
      await subject.pressSequentially('reset my passw', { delay: 40 });
      const suggestion = page.getByRole('link', { name: articles.reset.title });
      await suggestion.waitFor({ timeout: 10_000 });
      await eventually('the suggestions are announced politely', async () =>
        /article/i.test((await page.locator('[aria-live="polite"], [role="status"]').allTextContents()).join(' ')),
      );
      await check(page, 'new-ticket-suggestions');
      // Opening a suggestion keeps the draft.
      await follow(page, suggestion);
      await page.getByRole('heading', { name: articles.reset.title }).waitFor();
      await check(page, 'kb-article-from-suggestion');
      await page.goBack();
      assert.equal(await page.getByLabel('Subject', { exact: true }).inputValue(), 'reset my passw', 'the draft is kept');
      await page.getByLabel('Subject', { exact: true }).fill('');
    }
    const title = `Cannot reset my password (${variant.name})`;
    await page.getByLabel('Subject', { exact: true }).fill(title);
    await page.getByLabel('Message', { exact: true }).fill('The reset link says it expired, twice.');
    await chooseCategory(page, billing.name, 'Invoice number');
    await check(page, 'new-ticket-billing');

    // The required field left empty: the form comes back with the input kept and the error
    // summary focused.
    await follow(page, page.getByRole('button', { name: 'Submit ticket' }));
    assert.equal(await page.getByLabel('Subject', { exact: true }).inputValue(), title, 'the subject is kept');
    const focusedInSummary = await page.evaluate(() => {
      const active = document.activeElement;
      return Boolean(active && active !== document.body && active.closest('[role="alert"], .error-summary, [aria-labelledby*="error"]'));
    });
    assert.ok(focusedInSummary, 'the error summary takes focus');
    await page.getByRole('link', { name: /Invoice number/ }).first().waitFor();
    await check(page, 'new-ticket-errors');

    await fillBillingFields(page);
    await page.getByLabel('Due date').fill('2026-12-24');
    await page.getByLabel('Attachments').setInputFiles({
      name: 'steps.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('1. Forgot password\n2. Open the link\n3. "Expired"\n'),
    });
    await follow(page, page.getByRole('button', { name: 'Submit ticket' }));
    assert.match(page.url(), TICKET_URL, 'submitting opens the ticket details page');
    const ticketId = page.url().split('/').at(-1);
    await page.getByRole('heading', { name: title }).waitFor();
    for (const shown of ['INV-2026-0042', billing.name, 'steps.txt']) {
      await page.getByText(shown).first().waitFor({ timeout: 5000 });
    }
    await check(page, 'ticket');

    // An agent replies over gRPC (and adds a note the contact must never see).
    const reply = page.getByRole('textbox', { name: /message|reply/i }).first();
    if (variant.js) await reply.fill('A draft I am still typing');
    await addNote(ticketId, `INTERNAL ${variant.name}: customer retried twice`);
    await replyAsAgent(ticketId, `Agent here (${variant.name}): please try the new link I sent.`);
    const agentText = page.getByText(`Agent here (${variant.name})`);
    if (variant.js) {
      await agentText.waitFor({ timeout: 20_000 }); // no reload: the live update
      await eventually('the new reply is announced', async () =>
        /\S/.test((await page.locator('[aria-live], [role="status"]').allTextContents()).join('')),
      );
      assert.equal(await reply.inputValue(), 'A draft I am still typing', 'the live update left the draft alone');
    } else {
      await eventually('the agent reply shows after a reload', async () => {
        await page.reload();
        return agentText.isVisible();
      });
    }
    assert.equal(await page.getByText(`INTERNAL ${variant.name}`).count(), 0, 'internal notes never reach the contact');
    await check(page, 'ticket-agent-reply');

    // The contact replies.
    await reply.fill(`Thanks, the new link worked (${variant.name}).`);
    await follow(page, page.getByRole('button', { name: 'Reply', exact: true }));
    await page.getByText(`Thanks, the new link worked (${variant.name}).`).waitFor();
    await check(page, 'ticket-contact-reply');

    // Mark as complete → it is under Completed, with the counts of a new account's one ticket.
    await follow(page, page.getByRole('button', { name: 'Mark as complete' }));
    await check(page, 'ticket-completed');
    await page.goto(url('/tickets?queue=completed'));
    await page.getByRole('link', { name: title }).waitFor();
    const queue = (label) => page.getByRole('link', { name: new RegExp(`^${label}\\b`) }).first();
    assert.match(await queue('Completed').innerText(), /\b1\b/, 'Completed counts 1');
    assert.match(await queue('Pending').innerText(), /\b0\b/, 'Pending counts 0');
    assert.match(await queue('All').innerText(), /\b1\b/, 'All counts 1');
    await check(page, 'my-tickets-completed');
    await page.goto(url('/tickets?queue=pending'));
    assert.equal(await page.getByRole('link', { name: title }).count(), 0, 'not under Pending');
    await check(page, 'my-tickets-pending-empty');
  });
});

test('group: a member sees a colleague ticket and the low support-time alert', async (t) => {
  const { ann, colleague_ticket, group } = seed();
  await eachVariant(t, browser, async (page) => {
    await logIn(page, ann);
    await expectSignedIn(page);
    await page.goto(url('/tickets?scope=group'));
    await page.getByRole('link', { name: colleague_ticket.subject }).waitFor();
    const alert = page.getByRole('alert').or(page.locator('.alert')).first();
    await alert.waitFor();
    assert.match(await alert.innerText(), new RegExp(`\\b${group.remaining_minutes}\\b|0:${group.remaining_minutes}`), 'the alert shows the balance');
    await check(page, 'my-tickets-group');
    await follow(page, page.getByRole('link', { name: colleague_ticket.subject }));
    assert.match(page.url(), TICKET_URL);
    await page.getByRole('heading', { name: colleague_ticket.subject }).waitFor();
    await check(page, 'ticket-colleague');
  });
});

test('another group: the colleague ticket is a 404 page in the site look', async (t) => {
  const { olga, colleague_ticket } = seed();
  await eachVariant(t, browser, async (page) => {
    await logIn(page, olga);
    await expectSignedIn(page);
    const response = await page.goto(url(`/tickets/${colleague_ticket.id}`));
    assert.equal(response.status(), 404);
    assert.match(response.headers()['content-type'], /^text\/html/);
    await header(page).waitFor(); // the site's header: the 404 is a portal page
    assert.equal(await page.getByText(colleague_ticket.subject).count(), 0, 'nothing of the ticket leaks');
    await check(page, 'ticket-404');
    // Not in her group view either.
    await page.goto(url('/tickets?scope=group'));
    assert.equal(await page.getByRole('link', { name: colleague_ticket.subject }).count(), 0);
  });
});

/// The OpenID provider's dev login and consent pages (not ours: not audited). Its login name is
/// the account: `subject|email|verified|name` (deploy/oidc-provider.mjs).
async function signInAtProvider(page, account) {
  for (let step = 0; step < 6 && new URL(page.url()).origin === new URL(process.env.HD_OIDC_ISSUER).origin; step++) {
    const login = page.locator('input[name="login"]');
    if (await login.count()) {
      await login.fill(account);
      await page.locator('input[name="password"]').fill('any password');
    }
    await follow(page, page.locator('button[type="submit"]').first());
  }
}

test('SSO: log in through the OpenID provider', async (t) => {
  const { sso } = seed();
  await eachVariant(t, browser, async (page, variant) => {
    const email = freshEmail(`sso-${variant.name}`);
    const name = `Sso ${variant.name}`;
    await page.goto(url('/login'));
    await check(page, 'login-sso');
    await follow(page, page.getByRole('main').getByRole('button', { name: new RegExp(sso.name) })
      .or(page.getByRole('main').getByRole('link', { name: new RegExp(sso.name) })).first());
    assert.equal(new URL(page.url()).origin, new URL(process.env.HD_OIDC_ISSUER).origin, 'the browser is at the provider');
    await signInAtProvider(page, `sso-${Date.now()}-${variant.name}|${email}|yes|${name}`);
    await expectSignedIn(page);
    assert.equal(new URL(page.url()).origin, new URL(url('/')).origin, 'back on the portal');
    await check(page, 'sso-signed-in');
  });
});

test('settings: sign-up closed hides "Request new account"', async (t) => {
  await withPortalSettings({ signup_mode: 'SIGNUP_MODE_CLOSED' }, () =>
    eachVariant(t, browser, async (page) => {
      await eventually('the header drops the sign-up link', async () => {
        await page.goto(url('/'));
        return (await headerLink(page, 'Request new account').count()) === 0;
      });
      await headerLink(page, 'Log in').waitFor();
      await check(page, 'home-signup-closed');
    }),
  );
});

test('settings: login required to submit sends guests to log in', async (t) => {
  await withPortalSettings({ login_required_to_submit: true }, () =>
    eachVariant(t, browser, async (page) => {
      await eventually('guests are sent to log in', async () => {
        await page.goto(url('/tickets/new'));
        return new URL(page.url()).pathname === '/login';
      });
      assert.equal(new URL(page.url()).searchParams.get('next'), '/tickets/new');
      await check(page, 'login-required-to-submit');
      await logIn(page, seed().ann, '/tickets/new');
      assert.equal(new URL(page.url()).pathname, '/tickets/new', 'after logging in the form opens');
      await page.getByLabel('Subject', { exact: true }).waitFor();
    }),
  );
});

test('settings: guests may file when login is not required', async (t) => {
  await eachVariant(t, browser, async (page) => {
    await page.goto(url('/tickets/new'));
    await page.getByLabel('Name', { exact: true }).waitFor();
    await page.getByLabel('Email', { exact: true }).waitFor();
    await check(page, 'new-ticket-guest');
  });
});

test('settings: KB login required', async (t) => {
  await withPortalSettings({ login_required_for_kb: true }, () =>
    eachVariant(t, browser, async (page) => {
      await eventually('the knowledge base asks guests to log in', async () => {
        await page.goto(url('/kb'));
        return new URL(page.url()).pathname === '/login';
      });
      await check(page, 'kb-login-required');
      await page.goto(url('/'));
      assert.equal(await headerLink(page, 'Knowledge base').count(), 0, 'no KB link for guests');
      await logIn(page, seed().ann, '/kb');
      assert.equal(new URL(page.url()).pathname, '/kb');
      await headerLink(page, 'Knowledge base').waitFor();
      await check(page, 'kb-signed-in');
    }),
  );
});

test('settings: contacts may not close → no "Mark as complete"', async (t) => {
  const { ben, colleague_ticket } = seed();
  await eachVariant(t, browser, async (page) => {
    await logIn(page, ben);
    await page.goto(url(`/tickets/${colleague_ticket.id}`));
    await page.getByRole('button', { name: 'Mark as complete' }).waitFor();
    await withPortalSettings({ contacts_may_close_tickets: false }, async () => {
      await eventually('"Mark as complete" goes away', async () => {
        await page.reload();
        return (await page.getByRole('button', { name: 'Mark as complete' }).count()) === 0;
      });
      await check(page, 'ticket-may-not-close');
    });
  });
});

test('captcha: solved in the page with JavaScript, said plainly without', async (t) => {
  await withPortalSettings({ captcha_enabled: true }, () =>
    eachVariant(t, browser, async (page, variant) => {
      await page.goto(url('/signup'));
      if (!variant.js) {
        await page.getByText(/JavaScript/).first().waitFor();
        await check(page, 'signup-captcha-nojs');
        return;
      }
      const email = freshEmail(`captcha-${variant.name}`);
      await page.getByLabel('Name', { exact: true }).fill('Captcha Person');
      await page.getByLabel('Email', { exact: true }).fill(email);
      await check(page, 'signup-captcha');
      await follow(page, page.getByRole('button', { name: 'Request account' }));
      await check(page, 'signup-captcha-sent');
      await waitForMail(email, 1);
    }),
  );
});

test('knowledge base: search finds the password article, never the draft or the internal one', async (t) => {
  const { articles } = seed();
  await eachVariant(t, browser, async (page) => {
    await page.goto(url('/kb/search?q=password'));
    await page.getByRole('link', { name: articles.reset.title }).waitFor();
    for (const hidden of [articles.draft.title, articles.internal.title]) {
      assert.equal(await page.getByText(hidden).count(), 0, `"${hidden}" must not show`);
    }
    await check(page, 'kb-search');
    for (const hidden of [articles.draft, articles.internal]) {
      const response = await page.goto(url(`/kb/articles/${hidden.slug}`));
      assert.equal(response.status(), 404, `/kb/articles/${hidden.slug}`);
    }
    await check(page, 'kb-article-404');
  });
});

/// Presses Tab until the focused element's accessible text matches `name` (at most 40 times).
async function tabTo(page, name) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return '';
      const label = el.labels?.[0]?.innerText ?? el.getAttribute('aria-label') ?? '';
      return `${label} ${el.tagName === 'BUTTON' || el.tagName === 'A' ? el.innerText : ''}`.trim();
    });
    if (name.test(focused)) return;
  }
  assert.fail(`Tab never reached ${name}`);
}

test('keyboard only: file a ticket with Tab, typing and Enter', async (t) => {
  const { ann } = seed();
  await eachVariant(t, browser, async (page, variant) => {
    await logIn(page, ann);
    await page.goto(url('/tickets/new'));
    const subject = `Keyboard-only ticket (${variant.name})`;
    await tabTo(page, /^Subject/);
    await page.keyboard.type(subject);
    await tabTo(page, /^Message/);
    await page.keyboard.type('Filed without touching the mouse.');
    await tabTo(page, /^Submit ticket$/);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
    assert.match(page.url(), TICKET_URL, 'Enter on "Submit ticket" filed it');
    await page.getByRole('heading', { name: subject }).waitFor();
    await check(page, 'ticket-keyboard');
  });
});

test('password reset: the mailed link sets a new password', async (t) => {
  await eachVariant(t, browser, async (page, variant) => {
    const email = freshEmail(`reset-${variant.name}`);
    await signUp(page, { name: `Reset ${variant.name}`, email, password: 'first-password-of-mine' });
    await follow(page, header(page).getByRole('button', { name: 'Log out' }));
    await page.goto(url('/password/forgot'));
    await check(page, 'password-forgot');
    const before = mailTo(email).length;
    await page.getByLabel('Email', { exact: true }).fill(email);
    await follow(page, page.getByRole('button', { name: 'Send reset link' }));
    await check(page, 'password-forgot-sent');
    const mails = await waitForMail(email, before + 1);
    await page.goto(url(linkFrom(mails.at(-1), 'reset')));
    await check(page, 'password-reset');
    await page.getByLabel('Password', { exact: true }).first().fill('second-password-of-mine');
    await follow(page, page.getByRole('button', { name: /password/i }).first());
    await logIn(page, { email, password: 'second-password-of-mine' });
    await expectSignedIn(page);
  });
});
