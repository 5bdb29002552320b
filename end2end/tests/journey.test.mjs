// A new user's journey in a real browser: register, find Calculator in
// the marketplace, install it, create a key, call a tool through /mcp with
// the official MCP TypeScript client, and see the call on /installed; then
// manage the installation (disable, enable, try it, uninstall), with and
// without JavaScript.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startServer, launchBrowser, hydrated, shot, api, registerUser, signedInContext } from './support.mjs';

const PASSWORD = 'correct horse battery';
let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Connects the official MCP client to /mcp with an API key. */
async function mcpClient(key) {
  const client = new Client({ name: 'omnimcp-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return client;
}

/** Waits until the request log (written in batches) has the user's calls. */
async function waitForLoggedCall(page, url, testId, pattern) {
  for (let i = 0; i < 20; i++) {
    await page.goto(url);
    if (pattern.test(await page.getByTestId(testId).first().textContent())) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${testId} never matched ${pattern}`);
}

test('register, install Calculator, create a key, call it through /mcp, see it on /installed', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.url}/register`);
  await hydrated(page);
  await page.getByLabel('Email address').fill('lin@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/dashboard');
  await page.getByTestId('get-started').waitFor();
  await page.getByTestId('daily-empty').waitFor();
  await page.getByTestId('recent-empty').waitFor();
  await shot(page, '36-dashboard-empty');

  await page.getByRole('link', { name: 'Installed' }).first().click();
  await page.getByTestId('installed-empty').waitFor();
  await shot(page, '30-installed-empty');

  await page.getByRole('link', { name: 'Browse the marketplace' }).click();
  await page.waitForURL('**/marketplace');
  await page.getByLabel('Search').fill('arithmetic');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/q=arithmetic/);
  await page.getByRole('link', { name: 'Calculator' }).click();
  await page.getByRole('button', { name: 'Install' }).click();
  await page.getByTestId('installed').waitFor();
  await page.getByRole('link', { name: 'Manage installed servers' }).click();
  await page.waitForURL('**/installed');
  await page.getByTestId('installation').first().waitFor();
  assert.equal(await page.getByTestId('endpoint-url').inputValue(), `${server.url}/mcp`);
  const claude = await page.getByTestId('client-claude').textContent();
  assert.match(claude, /"connect"/);
  assert.ok(claude.includes(`${server.url}/mcp`), 'the snippet names this endpoint');

  await page.getByRole('link', { name: 'Settings' }).first().click();
  await page.getByLabel('Key name').fill('journey');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = await page.getByTestId('new-key-value').inputValue();

  const client = await mcpClient(key);
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === 'calculator.evaluate'));
  const result = await client.callTool({ name: 'calculator.evaluate', arguments: { expression: '2^10' } });
  assert.ok(!result.isError, JSON.stringify(result));
  assert.match(JSON.stringify(result.content), /1024/);
  await client.close();

  await waitForLoggedCall(page, `${server.url}/installed`, 'usage', /^1 call in the last 30 days/);
  await hydrated(page);
  await shot(page, '31-installed');

  // The dashboard shows the call: today's count, the chart, the log, health.
  await page.getByRole('link', { name: 'Dashboard' }).first().click();
  await page.getByTestId('recent-row').first().waitFor();
  assert.match(await page.getByTestId('calls-today').textContent(), /Calls today\s*1(?!\d)/);
  assert.match(await page.getByTestId('recent-row').first().textContent(), /calculator\.evaluate.*OK/);
  assert.equal(await page.locator('[data-testid="daily-chart"] g[data-calls="1"]').count(), 1, 'one bar, today');
  assert.equal(await page.locator('[data-testid="server-chart"] g[data-slug="calculator"]').count(), 1);
  await page.getByTestId('health').filter({ hasText: 'Calculator' }).waitFor();
  assert.equal(await page.getByTestId('get-started').count(), 0);
  await shot(page, '37-dashboard');
  await page.getByRole('link', { name: 'Installed' }).first().click();
  await page.getByTestId('installation').first().waitFor();
  await hydrated(page);

  // Try it: the panel calls through the same pipeline; errors are shown.
  await page.getByLabel('Arguments (JSON)').fill('{"expression": "6*7"}');
  await page.getByRole('button', { name: 'Call tool' }).click();
  await page.getByTestId('try-result').filter({ hasText: '42' }).waitFor();
  await shot(page, '32-installed-try');
  await page.getByLabel('Arguments (JSON)').fill('{not json');
  await page.getByRole('button', { name: 'Call tool' }).click();
  await page.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor();

  // Disable: the tool leaves the endpoint; enable brings it back.
  await page.getByRole('button', { name: 'Disable Calculator' }).click();
  await page.getByRole('button', { name: 'Enable Calculator' }).waitFor();
  const off = await mcpClient(key);
  assert.ok(!(await off.listTools()).tools.some((t) => t.name === 'calculator.evaluate'), 'disabled servers are hidden');
  await off.close();
  await shot(page, '33-installed-disabled');
  await page.getByRole('button', { name: 'Enable Calculator' }).click();
  await page.getByRole('button', { name: 'Disable Calculator' }).waitFor();

  await page.getByRole('button', { name: 'Uninstall Calculator' }).click();
  await page.getByTestId('installed-empty').waitFor();
  assert.deepEqual((await api(server, '/api/installations', { token: key })).body.installations, []);
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});

test('edit a config with a write-only secret, with and without JavaScript', async () => {
  const user = await registerUser(server, 'config@example.com');
  const servers = (await api(server, '/api/servers?q=notion')).body.servers;
  const notion = servers.find((s) => s.slug === 'notion');
  const installed = await api(server, '/api/installations', { token: user.token, body: { serverId: notion.id, config: { token: 'secret_first' } } });
  assert.equal(installed.status, 201);

  const context = await signedInContext(browser, server, user.token);
  const page = await context.newPage();
  await page.goto(`${server.url}/installed`);
  await hydrated(page);
  await page.getByText('Configuration of Notion').click();
  const token = page.getByLabel('Token');
  assert.equal(await token.getAttribute('type'), 'password');
  assert.equal(await token.inputValue(), '', 'a saved secret is never sent to the page');
  assert.ok(!(await page.content()).includes('secret_first'));
  await shot(page, '34-installed-config');
  // A blank secret keeps the saved one.
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
  assert.deepEqual((await api(server, '/api/installations', { token: user.token })).body.installations[0].secretsSet, ['token']);
  await context.close();

  const nojs = await signedInContext(browser, server, user.token, { javaScriptEnabled: false });
  const plain = await nojs.newPage();
  await plain.goto(`${server.url}/installed`);
  await plain.getByText('Configuration of Notion').click();
  await plain.getByLabel('Token').fill('secret_second');
  await plain.getByRole('button', { name: 'Save settings' }).click();
  await plain.waitForURL(/\/installed\??$/);
  await plain.getByTestId('installation').waitFor();
  await plain.getByRole('button', { name: 'Disable Notion' }).click();
  await plain.getByRole('button', { name: 'Enable Notion' }).waitFor();
  await shot(plain, '35-nojs-installed-disabled');
  const after = (await api(server, '/api/installations', { token: user.token })).body.installations[0];
  assert.equal(after.enabled, false);
  await plain.getByRole('button', { name: 'Uninstall Notion' }).click();
  await plain.getByTestId('installed-empty').waitFor();
  await nojs.close();
});

test('the signed-in pages fit a phone screen', async () => {
  const user = await registerUser(server, 'phone@example.com');
  const calculator = (await api(server, '/api/servers?q=calculator')).body.servers[0];
  await api(server, '/api/installations', { token: user.token, body: { serverId: calculator.id } });
  const context = await signedInContext(browser, server, user.token, { viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  for (const path of ['/installed', '/dashboard']) {
    await page.goto(`${server.url}${path}`);
    await hydrated(page);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${path}: no sideways scrolling`);
    await shot(page, `39-phone${path.replace('/', '-')}`);
  }
  await context.close();
});

test('signed-out visitors and ended sessions are sent to log in', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  for (const path of ['/dashboard', '/marketplace', '/installed', '/developer']) {
    await page.goto(`${server.url}${path}`);
    await page.waitForURL('**/login');
  }
  // A session that has ended (logged out elsewhere) is the same as none.
  const user = await registerUser(server, 'ended@example.com');
  await context.addCookies([{ name: 'omni_session', value: user.token, url: server.url }]);
  await page.goto(`${server.url}/installed`);
  await page.getByTestId('installed-empty').waitFor();
  assert.equal((await api(server, '/api/auth/logout', { token: user.token, method: 'POST' })).status, 204);
  await page.goto(`${server.url}/installed`);
  await page.waitForURL('**/login');
  await context.close();
});
