// The account pages in every variant (390/1280 × JavaScript on/off), each state audited and
// shot: sign-up with errors, sent, the set-password page with a refused password, signed in;
// log in with a wrong password; the account page (rename, a refused password change, saved);
// log out; an ended session sends the contact to log in and back; the forgotten-password page
// with a bad address and a dead reset link; a dead Discord link (`/link-identity`); single sign-on where the provider vouches for no
// address: the "prove your email" step, its mail and the page that signs in.
// (walk.test.mjs covers the happy paths: sign-up → login → ticket, SSO, captcha, reset.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, eachVariant, check, url, seed, freshEmail, signUp, logIn, waitForMail, linkFrom, signInAtProvider,
} from './lib/portal.mjs';
import { closeGrpc } from './lib/grpc.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  closeGrpc();
});

const header = (page) => page.getByRole('banner');
const main = (page) => page.getByRole('main');

async function follow(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
}

/// The error summary is shown, names `count` problems, and (JavaScript on or off) has focus.
async function expectErrors(page, count) {
  const summary = page.getByRole('alert').filter({ hasText: 'There is a problem' });
  await summary.waitFor();
  assert.equal(await summary.getByRole('link').count(), count, 'one link per problem');
  const focused = await page.evaluate(() => document.activeElement?.hasAttribute('data-error-summary'));
  assert.equal(focused, true, 'the summary takes focus');
}

test('account: sign-up and activation, with their errors', async (t) => {
  await eachVariant(t, browser, async (page, variant) => {
    const email = freshEmail(`acct-${variant.name}`);
    await page.goto(url('/signup'));
    await follow(page, main(page).getByRole('button', { name: 'Request account' }));
    await expectErrors(page, 1);
    await check(page, 'signup-errors');
    await page.getByLabel('Name', { exact: true }).fill(`Acct ${variant.name}`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await follow(page, main(page).getByRole('button', { name: 'Request account' }));
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();

    const mails = await waitForMail(email, 1);
    await page.goto(url(linkFrom(mails.at(-1), '/activate')));
    await page.getByRole('heading', { name: 'Set your password', level: 1 }).waitFor();
    await page.getByLabel('Password', { exact: true }).fill('password');
    await follow(page, main(page).getByRole('button', { name: 'Set password' }));
    await expectErrors(page, 1);
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    await check(page, 'activate-errors');
    await page.getByLabel('Password', { exact: true }).fill('a walk along the river');
    await follow(page, main(page).getByRole('button', { name: 'Set password' }));
    await header(page).getByRole('button', { name: 'Log out' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/tickets', 'My Tickets after activation');

    // The link is spent now.
    await page.goto(url(linkFrom(mails.at(-1), '/activate')));
    await page.getByRole('heading', { name: 'Set your password' }).waitFor();
    await page.getByLabel('Password', { exact: true }).fill('another walk entirely');
    await follow(page, main(page).getByRole('button', { name: 'Set password' }));
    await page.getByRole('heading', { name: 'This link does not work' }).waitFor();
    await check(page, 'activate-link-invalid');
  });
});

test('account: log in, the account page, log out, and back after the session ended', async (t) => {
  await eachVariant(t, browser, async (page, variant) => {
    const email = freshEmail(`acct-page-${variant.name}`);
    const password = 'first long password';
    await signUp(page, { name: `Page ${variant.name}`, email, password });
    await follow(page, header(page).getByRole('button', { name: 'Log out' }));
    await header(page).getByRole('link', { name: 'Log in', exact: true }).waitFor();

    await logIn(page, { email, password: 'not the password' }, '/account');
    await expectErrors(page, 1);
    assert.equal(await page.getByLabel('Email', { exact: true }).inputValue(), email, 'the address is kept');
    await check(page, 'login-errors');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await follow(page, main(page).getByRole('button', { name: 'Log in' }));
    assert.equal(new URL(page.url()).pathname, '/account', 'back to next=');
    await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
    await check(page, 'account');

    await page.getByLabel('Current password').fill('wrong one');
    await page.getByLabel('New password').fill('second long password');
    await follow(page, main(page).getByRole('button', { name: 'Change password' }));
    await expectErrors(page, 1);
    await check(page, 'account-errors');
    await page.getByLabel('Current password').fill(password);
    await page.getByLabel('New password').fill('second long password');
    await follow(page, main(page).getByRole('button', { name: 'Change password' }));
    await page.getByRole('status').filter({ hasText: 'Your password was changed' }).waitFor();

    await page.getByLabel('Name', { exact: true }).fill(`Renamed <b>${variant.name}</b>`);
    await follow(page, main(page).getByRole('button', { name: 'Save name' }));
    await page.getByRole('status').filter({ hasText: 'Your name was saved' }).waitFor();
    await header(page).getByText(`Renamed <b>${variant.name}</b>`).waitFor();
    await check(page, 'account-saved');

    // The session ends (here: the browser's cookie no longer names a live one): the account
    // page sends the contact to log in, and back.
    const cookies = await page.context().cookies();
    await page.context().clearCookies();
    await page.context().addCookies(cookies.map((c) => (c.name.endsWith('hd_session') ? { ...c, value: 'ended' } : c)));
    await page.goto(url('/account'));
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/account');
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill('second long password');
    await follow(page, main(page).getByRole('button', { name: 'Log in' }));
    assert.equal(new URL(page.url()).pathname, '/account');
  });
});

test('account: forgotten password with a bad address, and a dead reset link', async (t) => {
  await eachVariant(t, browser, async (page) => {
    await page.goto(url('/password/forgot'));
    await page.getByLabel('Email', { exact: true }).fill('not an address');
    await follow(page, main(page).getByRole('button', { name: 'Send reset link' }));
    await expectErrors(page, 1);
    await check(page, 'password-forgot-errors');
    await page.goto(url('/password/reset?token=no-such-token'));
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await page.getByLabel('Password', { exact: true }).fill('a fine new password');
    await follow(page, main(page).getByRole('button', { name: 'Set password' }));
    await page.getByRole('heading', { name: 'This link does not work' }).waitFor();
    await main(page).getByRole('link', { name: 'Request a new reset link' }).waitFor();
    await check(page, 'password-reset-link-invalid');
  });
});

test('account: a dead Discord link says so in the site\'s look', async (t) => {
  await eachVariant(t, browser, async (page) => {
    await page.goto(url('/link-identity?token=no-such-token'));
    await page.getByRole('heading', { name: 'This link does not work' }).waitFor();
    await main(page).getByText('/link', { exact: true }).waitFor();
    await check(page, 'link-identity-unknown');
  });
});

test('account: SSO without a vouched-for address proves it by mail', async (t) => {
  const { sso } = seed();
  await eachVariant(t, browser, async (page, variant) => {
    const email = freshEmail(`prove-${variant.name}`);
    await page.goto(url('/login?next=/account'));
    await follow(page, main(page).getByRole('link', { name: sso.name }));
    await signInAtProvider(page, `prove-${Date.now()}-${variant.name}|${email}|no|Prove ${variant.name}`);
    assert.equal(new URL(page.url()).pathname, '/sso/confirm-email', 'the portal asks for an address');
    await page.getByRole('heading', { name: 'Confirm your email address' }).waitFor();
    await check(page, 'sso-confirm-email');
    await page.getByLabel('Email', { exact: true }).fill('nope');
    await follow(page, main(page).getByRole('button', { name: 'Send confirmation link' }));
    await expectErrors(page, 1);
    await check(page, 'sso-confirm-email-errors');
    await page.getByLabel('Email', { exact: true }).fill(email);
    await follow(page, main(page).getByRole('button', { name: 'Send confirmation link' }));
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
    await check(page, 'sso-confirm-email-sent');

    const mails = await waitForMail(email, 1);
    await page.goto(url(linkFrom(mails.at(-1), '/sso/verify-email')));
    await check(page, 'sso-verify-email');
    await follow(page, main(page).getByRole('button', { name: 'Confirm and sign in' }));
    await header(page).getByRole('button', { name: 'Log out' }).waitFor();
  });
});
