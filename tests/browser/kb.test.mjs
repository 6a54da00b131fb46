// The support center home and the knowledge base in Chromium, at both widths with JavaScript on
// and off, each page audited by axe and shot: the home page (search box, recent articles,
// categories, calls to action), the KB index, a category, an article whose "Was this helpful?"
// form thanks the reader (a plain POST, so it works without JavaScript too), and search with
// results (highlighted) and without (offering a ticket). Hidden articles (draft, internal,
// signed-in for guests) are walked in walk.test.mjs and tests/tests/portal_kb.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, eachVariant, check, url, seed } from './lib/portal.mjs';
import { closeGrpc } from './lib/grpc.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  closeGrpc();
});

const main = (page) => page.getByRole('main');

test('kb: the home page is the support center', async (t) => {
  const { articles, kb_category } = seed();
  await eachVariant(t, browser, async (page) => {
    await page.goto(url('/'));
    assert.equal(await page.locator('h1').count(), 1, 'one h1');
    await main(page).getByRole('searchbox', { name: 'Search' }).waitFor();
    await main(page).getByRole('link', { name: articles.reset.title }).waitFor();
    await main(page).getByRole('link', { name: new RegExp(`^${kb_category.name}`) }).waitFor();
    await main(page).getByRole('link', { name: 'New ticket', exact: true }).waitFor();
    for (const hidden of [articles.draft.title, articles.internal.title, articles.signed_in.title]) {
      assert.equal(await page.getByText(hidden).count(), 0, `"${hidden}" is not for guests`);
    }
    await check(page, 'kb-home');

    // Searching from the home page lands on the results, the query kept in the box.
    await main(page).getByRole('searchbox', { name: 'Search' }).fill('reset password');
    await main(page).getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/kb\/search\?q=reset\+password/);
    assert.equal(await page.getByRole('searchbox', { name: 'Search' }).inputValue(), 'reset password');
  });
});

test('kb: the index lists categories with their articles, and a category its own', async (t) => {
  const { articles, kb_category } = seed();
  await eachVariant(t, browser, async (page) => {
    await page.goto(url('/kb'));
    await page.getByRole('heading', { level: 1, name: 'Knowledge base' }).waitFor();
    assert.equal(await page.getByRole('banner').getByRole('link', { name: 'Knowledge base' }).getAttribute('aria-current'), 'page');
    await main(page).getByRole('heading', { level: 2, name: kb_category.name }).waitFor();
    await main(page).getByRole('link', { name: articles.reset.title }).waitFor();
    await check(page, 'kb-index');

    await main(page).getByRole('link', { name: kb_category.name, exact: true }).click();
    await page.waitForURL(`**/kb/categories/${kb_category.slug}`);
    await page.getByRole('heading', { level: 1, name: kb_category.name }).waitFor();
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Knowledge base' }).waitFor();
    await main(page).getByRole('link', { name: articles.tickets.title }).waitFor();
    await check(page, 'kb-category');
  });
});

test('kb: an article asks "Was this helpful?" and thanks the reader', async (t) => {
  const { articles } = seed();
  await eachVariant(t, browser, async (page, variant) => {
    await page.goto(url(`/kb/articles/${articles.reset.slug}`));
    await page.getByRole('heading', { level: 1, name: articles.reset.title }).waitFor();
    await page.getByRole('heading', { name: 'Was this helpful?' }).waitFor();
    await check(page, 'kb-article');

    // One variant says no (the page then offers a ticket), the others yes.
    const answer = variant.name === '390-nojs' ? 'No' : 'Yes';
    await main(page).getByRole('button', { name: answer, exact: true }).click();
    await page.waitForURL(/feedback=(yes|no)/);
    const status = page.getByRole('status');
    await status.waitFor();
    assert.match(await status.textContent(), /Thank you for your feedback/);
    if (answer === 'No') {
      await status.getByRole('link', { name: 'file a new ticket' }).waitFor();
    }
    assert.equal(await main(page).getByRole('button', { name: 'Yes', exact: true }).count(), 0, 'the form is replaced by the thanks');
    await check(page, `kb-article-feedback-${answer.toLowerCase()}`);
  });
});

test('kb: search shows highlighted results, and says so when nothing matches', async (t) => {
  const { articles } = seed();
  await eachVariant(t, browser, async (page) => {
    await page.goto(url('/kb/search'));
    await page.getByRole('heading', { level: 1, name: 'Search the knowledge base' }).waitFor();
    await check(page, 'kb-search-empty');

    await page.getByRole('searchbox', { name: 'Search' }).fill('password');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=password/);
    await main(page).getByRole('link', { name: articles.reset.title }).waitFor();
    assert.ok((await main(page).locator('mark').count()) > 0, 'matched words are highlighted');
    assert.match(await page.getByRole('status').textContent(), /match/);
    await check(page, 'kb-search-results');

    await page.goto(url('/kb/search?q=xylophone+warranty'));
    const status = page.getByRole('status');
    await status.waitFor();
    assert.match(await status.textContent(), /No articles match/);
    await status.getByRole('link', { name: 'file a new ticket' }).waitFor();
    await check(page, 'kb-search-none');
  });
});
