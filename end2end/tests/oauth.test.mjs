// An MCP client that only knows OmniMCP's URL signs in with OAuth: the
// official Python SDK's OAuth client (tests/fixtures/oauth_client.py)
// discovers the authorization server, registers itself, and sends the
// user to the consent page, which a signed-in user answers here in
// Chromium. The client then lists and calls tools, refreshes its token
// after it expires, and loses access when the user revokes the
// application in Settings.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ROOT, startServer, launchBrowser, registerUser, signedInContext, api, shot, hydrated } from './support.mjs';

let server;
let browser;

before(async () => {
  // Access tokens live two seconds, so the client must refresh during the test.
  server = await startServer(['--oauth-access-token-ttl-secs', '2']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** The client's stdout, line by line: `next(prefix)` waits for a line. */
function lines(child) {
  const queue = [];
  const waiting = [];
  let ended = false;
  // `prefix` is one line prefix or several (the first line with any of them).
  const matches = (line, prefix) => [prefix].flat().some((p) => line.startsWith(p));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const w = waiting.findIndex((x) => matches(line, x.prefix));
    if (w >= 0) waiting.splice(w, 1)[0].resolve(line); else queue.push(line);
  });
  child.on('exit', () => { ended = true; for (const w of waiting) w.reject(new Error(`client exited waiting for ${w.prefix}`)); });
  return (prefix, ms = 60_000) => new Promise((resolve, reject) => {
    const i = queue.findIndex((l) => matches(l, prefix));
    if (i >= 0) return resolve(queue.splice(i, 1)[0]);
    if (ended) return reject(new Error(`client exited before ${prefix}`));
    const timer = setTimeout(() => reject(new Error(`no ${prefix} line within ${ms} ms`)), ms);
    waiting.push({ prefix, resolve: (l) => { clearTimeout(timer); resolve(l); }, reject });
  });
}

test('the Python SDK signs in through the consent page, calls tools, refreshes, and is cut off by revocation', async () => {
  const user = await registerUser(server, 'oauth-user@example.com');
  const calculator = (await api(server, '/api/servers?q=calculator')).body.servers.find((s) => s.slug === 'calculator');
  assert.equal((await api(server, '/api/installations', { token: user.token, body: { serverId: calculator.id } })).status, 201);

  const port = await freePort();
  const child = spawn(join(ROOT, '.venv', 'bin', 'python'), [join(ROOT, 'tests', 'fixtures', 'oauth_client.py'), `${server.url}/mcp`, String(port)],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const next = lines(child);
  try {
    const authorizeUrl = (await next('AUTHORIZE')).slice('AUTHORIZE '.length);
    assert.ok(authorizeUrl.startsWith(`${server.url}/oauth/authorize?`), authorizeUrl);

    const context = await signedInContext(browser, server, user.token);
    const page = await context.newPage();
    await page.goto(authorizeUrl);
    await page.getByTestId('consent').waitFor();
    assert.equal(await page.getByTestId('consent-client').textContent(), 'Python SDK test client');
    assert.match(await page.getByTestId('consent-redirect').textContent(), new RegExp(`^127\\.0\\.0\\.1:${port}$`));
    assert.match(await page.getByTestId('consent-identified').textContent(), /dynamic client registration/);
    await shot(page, 'oauth-consent');
    await page.getByTestId('consent-allow').click();
    await page.waitForURL(`http://127.0.0.1:${port}/callback?**`);

    const listed = JSON.parse((await next('LISTED')).slice('LISTED '.length));
    assert.deepEqual(listed, { tools: ['calculator.evaluate'], text: ['42'] });
    const refreshed = JSON.parse((await next('REFRESHED')).slice('REFRESHED '.length));
    assert.deepEqual(refreshed.text, ['42'], 'a call after expiry works: the SDK refreshed its token');

    // Settings lists the application; revoking it ends its access.
    await page.goto(`${server.url}/settings`);
    await hydrated(page);
    const row = page.getByTestId('app-row');
    assert.equal(await row.count(), 1);
    assert.match(await row.textContent(), /Python SDK test client.*All installed servers/s);
    await shot(page, 'oauth-connected-apps');
    await row.getByRole('button', { name: 'Revoke Python SDK test client' }).click();
    await page.getByTestId('apps-empty').waitFor();

    child.stdin.write('go\n');
    // Its refresh token is dead too. Depending on whether its access token
    // had expired by then, the SDK either asks the user to authorize again
    // or gives up with an error; a call that succeeds (AFTER) would mean
    // revocation did not end access.
    const again = await next(['AUTHORIZE', 'FAILED', 'AFTER'], 30_000);
    assert.ok(again.startsWith('AUTHORIZE ') || again.startsWith('FAILED '), again);
    await context.close();
  } catch (e) {
    e.message += `\nclient stderr:\n${stderr}`;
    throw e;
  } finally {
    child.kill();
  }
});

test('without JavaScript the consent form still works, and Deny tells the client', async () => {
  const user = await registerUser(server, 'nojs@example.com');
  const reg = await fetch(`${server.url}/oauth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'No-JS client', redirect_uris: ['http://127.0.0.1:9/cb'] }),
  });
  const { client_id: clientId } = await reg.json();
  const context = await signedInContext(browser, server, user.token, { javaScriptEnabled: false });
  const page = await context.newPage();
  const params = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: 'http://127.0.0.1:9/cb', state: 's1',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  });
  await page.goto(`${server.url}/oauth/authorize?${params}`);
  await page.getByTestId('consent').waitFor();
  // The browser follows the redirect to a closed port; the URL is what matters.
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().startsWith('http://127.0.0.1:9/cb')),
    page.getByTestId('consent-deny').click(),
  ]);
  const back = new URL(request.url());
  assert.equal(back.searchParams.get('error'), 'access_denied');
  assert.equal(back.searchParams.get('state'), 's1');
  assert.equal(back.searchParams.get('iss'), server.url);
  await context.close();
});

test('signed out, the authorization goes through the login page and back to consent, then to the client', async () => {
  await registerUser(server, 'returning@example.com');
  // The client's loopback redirect target.
  let received;
  const arrived = new Promise((resolve) => { received = resolve; });
  const callback = (await import('node:http')).createServer((req, res) => {
    res.end('ok');
    received(new URL(req.url, 'http://127.0.0.1'));
  });
  await new Promise((resolve) => callback.listen(0, '127.0.0.1', resolve));
  const redirect = `http://127.0.0.1:${callback.address().port}/cb`;
  const reg = await fetch(`${server.url}/oauth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Returning client', redirect_uris: [redirect] }),
  });
  const { client_id: clientId } = await reg.json();
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const params = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirect, state: 's2',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  });
  try {
    await page.goto(`${server.url}/oauth/authorize?${params}`);
    await page.waitForURL('**/login?next=**');
    await hydrated(page);
    await page.getByLabel('Email address').fill('returning@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('consent').waitFor();
    assert.equal(await page.getByTestId('consent-client').textContent(), 'Returning client');
    await page.getByTestId('consent-allow').click();
    const back = await arrived;
    assert.equal(back.pathname, '/cb');
    assert.ok(back.searchParams.get('code')?.startsWith('omac_'), back.toString());
    assert.equal(back.searchParams.get('state'), 's2');
  } finally {
    await context.close();
    callback.close();
  }
});
