// A developer's journey: deploy a callback server through the API, see it
// on /developer and in the marketplace, see another user's calls to it,
// and rotate its webhook secret (shown once: in the deploy answer, or on
// /developer with the Rotate secret button).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startServer, launchBrowser, hydrated, shot, api, registerUser, signedInContext } from './support.mjs';

let server;
let browser;
let callback;
let callbackUrl;

before(async () => {
  // The developer's own service: answers calls to its one tool and health checks.
  callback = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST' && req.url.endsWith('/tools/hello')) {
        const { arguments: args } = JSON.parse(body);
        res.end(JSON.stringify({ success: true, result: { greeting: `Hello, ${args.name}!` } }));
      } else {
        res.end(JSON.stringify({ success: true }));
      }
    });
  });
  await new Promise((r) => callback.listen(0, '127.0.0.1', r));
  callbackUrl = `http://127.0.0.1:${callback.address().port}/omnimcp`;
  server = await startServer(['--outbound-allow-http', '--outbound-allow-loopback']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  callback?.close();
});

const DEPLOY = (extra = {}) => ({
  name: 'greeter', description: 'Greets people by name.', hostingType: 'developer_hosted', callbackUrl,
  category: 'utilities', version: '1.0.0',
  tools: [{ name: 'hello', description: 'Say hello', inputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } }],
  ...extra,
});

test('deploy, see it on /developer and in the marketplace, see calls, rotate the secret', async () => {
  const dev = await registerUser(server, 'dev@example.com');
  const context = await signedInContext(browser, server, dev.token);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.url}/developer`);
  await hydrated(page);
  await page.getByTestId('developer-empty').waitFor();
  await shot(page, '40-developer-empty');

  const deployed = await api(server, '/api/mcp/deploy', { token: dev.key, body: DEPLOY() });
  assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  const first = deployed.body.webhookSecret;
  assert.match(first, /^whsec_/);

  // Another user installs it and calls it.
  const user = await registerUser(server, 'caller@example.com');
  assert.equal((await api(server, '/api/installations', { token: user.key, body: { serverId: deployed.body.serverId } })).status, 201);
  const call = await api(server, '/mcp/call', { token: user.key, body: { serverId: 'greeter', toolName: 'hello', arguments: { name: 'Ada' } } });
  assert.equal(call.status, 200, JSON.stringify(call.body));
  assert.equal(call.body.result.greeting, 'Hello, Ada!');

  // The request log is written in batches: reload until the call shows.
  const card = page.getByTestId('deployed-server').filter({ hasText: 'greeter' });
  for (let i = 0; i < 20; i++) {
    await page.goto(`${server.url}/developer`);
    if ((await page.getByTestId('deployed-recent').count()) > 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await card.waitFor();
  const text = await card.textContent();
  assert.match(text, /1 install(?!s)/);
  assert.match(text, /1 call(?!s)/);
  assert.match(text, /greeter\.hello/);
  assert.ok(text.includes(`127.0.0.1:${callback.address().port}`), 'the callback URL is shown');
  assert.ok(!(await page.content()).includes(first), 'the webhook secret is never on a page');
  await page.getByTestId('deployed-recent').filter({ hasText: 'hello' }).waitFor();
  await hydrated(page);
  await shot(page, '41-developer');
  await page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
  await shot(page, '41m-developer-phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  await page.goto(`${server.url}/marketplace?q=greet`);
  await page.getByTestId('server-card').filter({ hasText: 'Greets people' }).waitFor();
  await page.getByRole('link', { name: 'greeter' }).click();
  await page.getByTestId('tool').filter({ hasText: 'greeter.hello' }).waitFor();
  await shot(page, '42-marketplace-developer-server');

  // Rotation: a new secret in the answer, once; the old one is gone.
  const rotated = await api(server, '/api/mcp/deploy', { token: dev.key, body: DEPLOY({ rotateSecret: true }) });
  assert.equal(rotated.status, 200);
  assert.match(rotated.body.webhookSecret, /^whsec_/);
  assert.notEqual(rotated.body.webhookSecret, first);
  const again = await api(server, '/api/mcp/deploy', { token: dev.key, body: DEPLOY() });
  assert.equal(again.body.webhookSecret, undefined, 'shown once');
  // Calls still work with the new secret.
  const after = await api(server, '/mcp/call', { token: user.key, body: { serverId: 'greeter', toolName: 'hello', arguments: { name: 'Lin' } } });
  assert.equal(after.body.result.greeting, 'Hello, Lin!');

  // Rotation from /developer, without a redeploy: the new secret is shown once.
  await page.goto(`${server.url}/developer`);
  await hydrated(page);
  assert.equal(await page.getByTestId('new-secret').count(), 0);
  await page.getByRole('button', { name: 'Rotate the webhook secret of greeter' }).click();
  const shown = await page.getByTestId('new-secret-value').inputValue();
  assert.match(shown, /^whsec_/);
  assert.notEqual(shown, rotated.body.webhookSecret);
  await shot(page, '43-developer-secret-rotated');
  await page.reload();
  await hydrated(page);
  assert.equal(await page.getByTestId('new-secret').count(), 0, 'shown once');
  assert.ok(!(await page.content()).includes(shown), 'the secret is not on the page again');
  // Through the API too; another user's rotation finds nothing.
  const viaApi = await api(server, `/api/servers/${deployed.body.serverId}/rotate-secret`, { token: dev.key, body: {} });
  assert.equal(viaApi.status, 200);
  assert.notEqual(viaApi.body.webhookSecret, shown);
  const foreign = await api(server, `/api/servers/${deployed.body.serverId}/rotate-secret`, { token: user.key, body: {} });
  assert.equal(foreign.status, 404);
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});

test('the API reference page lists every operation of /api/openapi.json, without the internet', async () => {
  const reader = await registerUser(server, 'reader@example.com');
  const context = await signedInContext(browser, server, reader.token);
  // Nothing outside the platform may be fetched: the page must not need it.
  const outside = [];
  await context.route((url) => !url.href.startsWith(server.url), (route) => { outside.push(route.request().url()); return route.abort(); });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const doc = (await api(server, '/api/openapi.json')).body;
  assert.match(doc.openapi, /^3\.1/);
  const expected = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));

  await page.goto(`${server.url}/api-reference`);
  await hydrated(page);
  const listed = await page.getByTestId('operation').evaluateAll((els) => els.map((e) => e.dataset.operation));
  assert.deepEqual(listed.sort(), expected.sort());
  // An operation shows its body's shape, linked to the shape's fields.
  const deploy = page.locator('[data-operation="POST /api/mcp/deploy"]');
  await deploy.getByRole('link', { name: 'DeployRequest' }).click();
  const shape = page.locator('[data-shape="DeployRequest"]');
  await shape.waitFor();
  assert.match(await shape.innerText(), /hostingType \*/);
  // The nav has it, and the raw document is one click away.
  await page.getByRole('link', { name: 'API reference' }).first().waitFor();
  assert.equal(await page.getByTestId('openapi-link').getAttribute('href'), '/api/openapi.json');
  await shot(page, '44-api-reference');
  assert.deepEqual(outside, [], 'nothing fetched from outside the platform');
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});
