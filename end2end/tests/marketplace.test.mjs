// The marketplace in a real browser: search, filters and pages (as URL
// state, with and without JavaScript), a server's page with its tools read
// as forms, and installing from the form generated from the config schema
// (secret fields masked, errors next to the field).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, hydrated, shot, api, registerUser, signedInContext } from './support.mjs';

let server;
let browser;
let user;

// Five official servers are seeded on start; a developer publishes twelve
// more, so the marketplace has two pages of twelve.
before(async () => {
  server = await startServer(['--outbound-allow-http', '--outbound-allow-loopback']);
  browser = await launchBrowser();
  user = await registerUser(server, 'ada@example.com');
  // Twelve servers: more than the free plan publishes.
  server.admin('set-user', '--email', 'ada@example.com', '--tier', 'pro');
  for (let i = 1; i <= 12; i++) {
    const res = await api(server, '/api/mcp/deploy', {
      token: user.key,
      body: {
        name: `search-tool-${String(i).padStart(2, '0')}`, description: `Finds things, number ${i}`,
        hostingType: 'developer_hosted', callbackUrl: 'http://127.0.0.1:9/omnimcp', category: 'search',
        tools: [{ name: 'find', description: 'Find a thing', inputSchema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } }],
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const cards = (page) => page.getByTestId('server-card');

test('browse, search, filter, sort and page through the marketplace', async () => {
  const context = await signedInContext(browser, server, user.token);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.url}/marketplace`);
  await hydrated(page);
  assert.equal(await cards(page).count(), 12, 'a full first page');
  await shot(page, '20-marketplace');

  await page.getByRole('link', { name: 'Next page' }).click();
  await page.waitForURL(/cursor=/);
  await page.getByRole('link', { name: 'First page' }).waitFor();
  assert.equal(await cards(page).count(), 5, 'the rest on the second page');
  await shot(page, '21-marketplace-page-2');

  await page.goto(`${server.url}/marketplace`);
  await hydrated(page);
  await page.getByLabel('Search').fill('calcul');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/q=calcul/);
  await cards(page).first().filter({ hasText: 'Calculator' }).waitFor();
  assert.equal(await cards(page).count(), 1);
  await shot(page, '22-marketplace-search');

  await page.getByLabel('Search').fill('');
  await page.getByLabel('Category').selectOption('developer-tools');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/category=developer-tools/);
  await cards(page).filter({ hasText: 'GitHub' }).waitFor();
  assert.equal(await cards(page).count(), 1);

  await page.getByLabel('Category').selectOption('');
  await page.getByLabel('Hosting').selectOption('remote_mcp');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByTestId('marketplace-empty').waitFor();
  await shot(page, '23-marketplace-empty');
  await page.getByRole('link', { name: 'Clear filters' }).click();
  await page.waitForURL(`${server.url}/marketplace`);
  await cards(page).nth(11).waitFor();

  await page.getByLabel('Hosting').selectOption('developer_hosted');
  await page.getByLabel('Sort by').selectOption('newest');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/sort=newest/);
  await cards(page).first().filter({ hasText: 'search-tool-12' }).waitFor();
  assert.equal(await page.getByLabel('Sort by').inputValue(), 'newest', 'the form shows the URL state');

  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});

test('install Calculator (no config) and GitHub (masked secret, errors next to the field)', async () => {
  const context = await signedInContext(browser, server, user.token);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.url}/marketplace?q=calculator`);
  await hydrated(page);
  await page.getByRole('link', { name: 'Calculator' }).click();
  await page.waitForURL(/\/marketplace\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { name: 'Calculator', level: 1 }).waitFor();
  const tool = page.getByTestId('tool').filter({ hasText: 'calculator.evaluate' });
  await tool.waitFor();
  assert.match(await tool.textContent(), /expression/, 'the input schema is shown');
  await shot(page, '24-server-calculator');
  await page.getByRole('button', { name: 'Install' }).click();
  await page.getByTestId('installed').waitFor();
  await page.getByTestId('install-count').filter({ hasText: /^1 install ·/ }).waitFor();
  await shot(page, '25-server-installed');

  await page.goto(`${server.url}/marketplace?category=developer-tools`);
  await hydrated(page);
  await page.getByRole('link', { name: 'GitHub' }).click();
  await page.getByRole('heading', { name: 'GitHub', level: 1 }).waitFor();
  await hydrated(page);
  const token = page.getByLabel('Token');
  assert.equal(await token.getAttribute('type'), 'password', 'secrets are masked');
  await page.getByRole('button', { name: 'Install' }).click();
  await page.locator('#config-token-error').filter({ hasText: 'required' }).waitFor();
  assert.equal(await token.getAttribute('aria-invalid'), 'true');
  await shot(page, '26-server-install-error');
  await token.fill('ghp_not_a_real_token');
  await page.getByRole('button', { name: 'Install' }).click();
  await page.getByTestId('installed').waitFor();
  assert.ok(!(await page.content()).includes('ghp_not_a_real_token'), 'the secret is never shown');

  const { body } = await api(server, '/api/installations', { token: user.token });
  const github = body.installations.find((i) => i.serverSlug === 'github');
  assert.deepEqual(github.secretsSet, ['token']);
  assert.ok(body.installations.some((i) => i.serverSlug === 'calculator'));
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});

test('without JavaScript: search with the plain form and install with a plain post', async () => {
  const other = await registerUser(server, 'nojs-market@example.com');
  const context = await signedInContext(browser, server, other.token, { javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${server.url}/marketplace`);
  await page.getByLabel('Search').fill('weather');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/q=weather/);
  assert.equal(await cards(page).count(), 1);
  await page.getByRole('link', { name: 'Weather' }).click();
  await page.getByRole('heading', { name: 'Weather', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'Install' }).click();
  await page.getByTestId('installed').waitFor();
  await shot(page, '27-nojs-installed');
  const { body } = await api(server, '/api/installations', { token: other.token });
  assert.deepEqual(body.installations.map((i) => i.serverSlug), ['weather']);

  // A config error comes back in the URL and renders next to the field.
  await page.goto(`${server.url}/marketplace?q=slack`);
  await page.getByRole('link', { name: 'Slack' }).click();
  await page.getByRole('button', { name: 'Install' }).click();
  await page.locator('#config-token-error').filter({ hasText: 'required' }).waitFor();
  await shot(page, '28-nojs-install-error');
  await context.close();
});

test('the marketplace and a server page fit a phone screen', async () => {
  const context = await signedInContext(browser, server, user.token, { viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/marketplace`);
  await hydrated(page);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
  await shot(page, '20m-marketplace-phone');
  await page.goto(`${server.url}/marketplace?q=github`);
  await page.getByRole('link', { name: 'GitHub' }).click();
  await page.getByRole('heading', { name: 'GitHub', level: 1 }).waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
  await shot(page, '24m-server-phone');
  await context.close();
});

test('keyboard only: search, open a server and install it', async () => {
  const other = await registerUser(server, 'keys@example.com');
  const context = await signedInContext(browser, server, other.token);
  const page = await context.newPage();
  await page.goto(`${server.url}/marketplace`);
  await hydrated(page);
  await page.getByLabel('Search').focus();
  await page.keyboard.type('weather');
  await page.keyboard.press('Enter');
  await page.waitForURL(/q=weather/);
  await cards(page).first().filter({ hasText: 'Weather' }).waitFor();
  await page.getByRole('link', { name: 'Weather' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Weather', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'Install' }).focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('installed').waitFor();
  await context.close();
});

test('an unknown server is a designed 404', async () => {
  const context = await signedInContext(browser, server, user.token);
  const page = await context.newPage();
  const res = await page.goto(`${server.url}/marketplace/0190aaaa-0000-7000-8000-000000000000`);
  assert.equal(res.status(), 404);
  await page.getByTestId('server-not-found').waitFor();
  await shot(page, '29-server-not-found');

  // A stale or forged page link is explained, with a way back.
  await page.goto(`${server.url}/marketplace?cursor=not-a-cursor`);
  await page.getByTestId('load-error').filter({ hasText: 'first page' }).waitFor();
  await shot(page, '29b-marketplace-bad-link');
  await page.getByRole('link', { name: 'Start over' }).click();
  await page.waitForURL(`${server.url}/marketplace`);
  await cards(page).first().waitFor();
  await context.close();
});
