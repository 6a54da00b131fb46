// The first browser tests: the toolbox itself (lib/portal.mjs must catch what it is there to
// catch, with JavaScript on and off), then the support center home in all four variants with
// the portal's header as the URL contract names it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { launch, eachVariant, audit, shoot, check, url, seed } from './lib/portal.mjs';
import { closeGrpc, getTicket, portalSettings } from './lib/grpc.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  closeGrpc();
});

/// A local page with the portal's kind of CSP: a clean one, and one whose only flaw is a
/// low-contrast paragraph that only a browser without JavaScript shows.
function fixture() {
  const page = (body) => `<!doctype html><html lang="en"><head><title>Fixture</title></head>
    <body><main><h1>Fixture</h1>${body}<script src="/app.js"></script></main></body></html>`;
  const server = http.createServer((request, response) => {
    response.setHeader('content-security-policy', "default-src 'self'");
    if (request.url === '/app.js') {
      response.setHeader('content-type', 'text/javascript');
      return response.end("document.querySelector('h1').textContent = 'Scripted';");
    }
    response.setHeader('content-type', 'text/html; charset=utf-8');
    const faint = '<noscript><p style="color:#c8c8c8;background:#fff">Turn JavaScript on</p></noscript>';
    response.end(page(request.url === '/faint' ? faint : '<p>All good</p>'));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('the toolbox audits and shoots pages with JavaScript on and off', async (t) => {
  const server = await fixture();
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    await eachVariant(t, browser, async (page, variant) => {
      await page.goto(`${base}/`);
      // JavaScript off really is off: the page's script did not run.
      assert.equal(await page.locator('h1').textContent(), variant.js ? 'Scripted' : 'Fixture');
      await audit(page, 'fixture');
      const png = await shoot(page, 'fixture');
      assert.ok(existsSync(png) && png.endsWith(`fixture-${variant.name}.png`), png);

      await page.goto(`${base}/faint`);
      if (variant.js) {
        await audit(page, 'faint'); // the <noscript> text is not shown, so nothing to find
      } else {
        await assert.rejects(audit(page, 'faint'), /color-contrast \(serious\)/);
      }
    });
  } finally {
    server.close();
  }
});

test('the agent tools reach the services with the staff token', async () => {
  const { colleague_ticket } = seed();
  const ticket = await getTicket(colleague_ticket.id);
  assert.equal(ticket.subject, colleague_ticket.subject);
  assert.equal((await portalSettings()).password_login, true);
});

test('the support center home shows the portal header', async (t) => {
  await eachVariant(t, browser, async (page) => {
    const response = await page.goto(url('/'));
    assert.equal(response.status(), 200, `GET / answered ${response.status()}`);
    assert.match(response.headers()['content-type'], /^text\/html/);
    const header = page.getByRole('banner');
    for (const name of ['Knowledge base', 'New ticket', 'My Tickets', 'Log in', 'Request new account']) {
      await assert.doesNotReject(header.getByRole('link', { name, exact: true }).waitFor({ state: 'attached', timeout: 5000 }), `header link ${name}`);
    }
    assert.ok((await page.title()).length > 0, 'the page has a title');
    await page.getByRole('searchbox').or(page.getByLabel('Search')).first().waitFor({ timeout: 5000 });
    await check(page, 'home');
  });
});
