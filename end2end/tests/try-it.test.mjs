// The "try it" panel on /installed: it works as a plain form post (no
// JavaScript), and it says clearly when a call runs into the plan's limits
// (with when to retry) or reaches a server that is down, with and without
// JavaScript.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startServer, launchBrowser, openHydrated, shot, api, registerUser, signedInContext } from './support.mjs';

let server;
let browser;

before(async () => {
  // Loopback callbacks, for the server that is down.
  server = await startServer(['--outbound-allow-http', '--outbound-allow-loopback']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Installs a server for a user through the REST API. */
async function install(key, serverId) {
  const res = await api(server, '/api/installations', { token: key, body: { serverId } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

async function installCalculator(key) {
  const listed = await api(server, '/api/servers?q=calculator');
  await install(key, listed.body.servers[0].id);
}

/** Calls a tool from the panel: choose it, type the arguments, submit. */
async function tryTool(page, tool, args) {
  await page.getByLabel('Tool').selectOption(tool);
  await page.getByLabel('Arguments (JSON)').fill(args);
  await page.getByRole('button', { name: 'Call tool' }).click();
}

test('without JavaScript: a call shows its result, an input mistake its error', async () => {
  const user = await registerUser(server, 'plain@example.com');
  await installCalculator(user.key);
  const context = await signedInContext(browser, server, user.token, { javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${server.url}/installed`);
  await page.getByTestId('installation').first().waitFor();

  await tryTool(page, 'calculator.evaluate', '{"expression": "6*7"}');
  await page.waitForURL(/\/installed#try-it$/);
  const result = page.getByTestId('try-result');
  assert.equal(await result.getAttribute('data-outcome'), 'success');
  assert.match(await result.textContent(), /Result of calculator\.evaluate[\s\S]*42/);
  // The form shows what was sent.
  assert.equal(await page.getByLabel('Arguments (JSON)').inputValue(), '{"expression": "6*7"}');
  assert.equal(await page.getByLabel('Tool').inputValue(), 'calculator.evaluate');
  await shot(page, '38-nojs-installed-try');

  // The result was for one render: the flash cookie is gone.
  await page.reload();
  await page.getByTestId('installation').first().waitFor();
  assert.equal(await page.getByTestId('try-result').count(), 0);
  assert.ok(!(await context.cookies()).some((c) => c.name === 'omni_try_result'), 'the flash cookie is deleted');

  // Input mistakes come back as the form's error.
  await tryTool(page, 'calculator.evaluate', '{not json');
  await page.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor();
  assert.equal(await page.getByTestId('try-result').count(), 0);
  await context.close();
});

test('a rate-limited call says so and when to retry, with and without JavaScript', async () => {
  const user = await registerUser(server, 'tiny@example.com');
  await installCalculator(user.key);
  // One call a minute.
  server.addTier({ id: 'tiny', name: 'Tiny', perMinute: 1, perMonth: 1000 });
  assert.match(server.admin('set-user', '--email', 'tiny@example.com', '--tier', 'tiny'), /tier tiny/);

  const plain = await signedInContext(browser, server, user.token, { javaScriptEnabled: false });
  let page = await plain.newPage();
  await page.goto(`${server.url}/installed`);
  await tryTool(page, 'calculator.evaluate', '{"expression": "1+1"}');
  await page.getByTestId('try-result').filter({ hasText: '2' }).waitFor();
  await tryTool(page, 'calculator.evaluate', '{"expression": "2+2"}');
  let refused = page.locator('[data-testid="try-result"][data-outcome="limited"]');
  await refused.waitFor();
  const text = await refused.textContent();
  assert.match(text, /Limit reached: the call was not made/);
  assert.match(text, /Rate limit of 1 request a minute reached/);
  const retry = page.getByTestId('retry-at');
  assert.match(await retry.textContent(), /You can call again at \d\d:\d\d:\d\d UTC\. Refused calls do not count/);
  const after = Number(await retry.getAttribute('data-retry-after'));
  assert.ok(after >= 1 && after <= 60, `retry within the minute, not ${after} s`);
  await shot(page, '38b-nojs-try-rate-limited');
  await plain.close();

  const live = await signedInContext(browser, server, user.token);
  const opened = await openHydrated(live, `${server.url}/installed`);
  page = opened.page;
  await tryTool(page, 'calculator.evaluate', '{"expression": "3+3"}');
  refused = page.locator('[data-testid="try-result"][data-outcome="limited"]');
  await refused.waitFor();
  assert.equal(page.url(), `${server.url}/installed`, 'no reload: the hydrated page called the server function');
  assert.match(await refused.textContent(), /You can call again at \d\d:\d\d:\d\d UTC/);
  assert.deepEqual(opened.errors, [], 'no script errors');
  await live.close();
});

test('a server that is down: the call fails with a clear message, with and without JavaScript', async () => {
  // A port nothing listens on.
  const port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const dev = await registerUser(server, 'gone@example.com');
  const deployed = await api(server, '/api/mcp/deploy', {
    token: dev.key,
    body: {
      name: 'weather-gone', description: 'A developer-hosted server whose service has stopped.',
      hostingType: 'developer_hosted', callbackUrl: `http://127.0.0.1:${port}/hooks`,
      tools: [{ name: 'forecast', description: 'The forecast', inputSchema: { type: 'object', properties: { city: { type: 'string' } } } }],
    },
  });
  assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  const user = await registerUser(server, 'caller@example.com');
  await install(user.key, deployed.body.serverId);

  const live = await signedInContext(browser, server, user.token);
  let { page, errors } = await openHydrated(live, `${server.url}/installed`);
  await tryTool(page, 'weather-gone.forecast', '{"city": "Oslo"}');
  let failed = page.locator('[data-testid="try-result"][data-outcome="unavailable"]');
  await failed.waitFor();
  const text = await failed.textContent();
  assert.match(text, /The server could not complete the call/);
  assert.match(text, /could not be reached/);
  assert.match(text, /weather-gone\.forecast is in your request log as an error/);
  assert.ok(!text.includes('{"error"'), 'no raw JSON');
  await shot(page, '38c-try-server-down');
  assert.deepEqual(errors, [], 'no script errors');
  await live.close();

  const plain = await signedInContext(browser, server, user.token, { javaScriptEnabled: false });
  page = await plain.newPage();
  await page.goto(`${server.url}/installed`);
  await tryTool(page, 'weather-gone.forecast', '{"city": "Bergen"}');
  failed = page.locator('[data-testid="try-result"][data-outcome="unavailable"]');
  await failed.waitFor();
  assert.match(await failed.textContent(), /could not be reached/);
  assert.equal(await page.getByLabel('Arguments (JSON)').inputValue(), '{"city": "Bergen"}');
  await plain.close();
});
