// "Connect with GitHub" in a real browser: the button on the server's page
// goes through a loopback fake of GitHub's OAuth endpoints (shaped like
// github.com's: /login/oauth/authorize, /login/oauth/access_token with
// PKCE) and lands on Installed, connected; the GitHub tool then works with
// the token the fake issued, which the user never saw.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { startServer, launchBrowser, registerUser, signedInContext, api, shot, hydrated } from './support.mjs';

let server;
let browser;
let github;
const codes = new Map();

function fakeGitHub() {
  return createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let body = '';
    for await (const chunk of req) body += chunk;
    const json = (status, value) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(value)); };
    if (url.pathname === '/login/oauth/authorize') {
      // The user clicks "Authorize" at once.
      assert.equal(url.searchParams.get('client_id'), 'e2e-client');
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
      const code = `code-${codes.size}`;
      codes.set(code, url.searchParams.get('code_challenge'));
      res.writeHead(302, { location: `${url.searchParams.get('redirect_uri')}?code=${code}&state=${encodeURIComponent(url.searchParams.get('state'))}` });
      return res.end();
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      const form = new URLSearchParams(body);
      const challenge = codes.get(form.get('code'));
      const verified = challenge && createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url') === challenge;
      if (form.get('client_secret') !== 'e2e-secret' || !verified) {
        return json(200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
      }
      return json(200, { access_token: 'gho_from_e2e', token_type: 'bearer', scope: 'repo' });
    }
    if (url.pathname === '/api/user/repos') {
      if (req.headers.authorization !== 'Bearer gho_from_e2e') return json(401, { message: 'Bad credentials' });
      return json(200, [{ full_name: 'octo/connected-in-chromium', stargazers_count: 3, private: false }]);
    }
    json(404, { message: 'Not Found' });
  });
}

before(async () => {
  github = fakeGitHub();
  await new Promise((resolve) => github.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${github.address().port}`;
  server = await startServer([
    '--connect', 'github=e2e-client:e2e-secret',
    '--connect-url', `github.authorize=${base}/login/oauth/authorize,github.token=${base}/login/oauth/access_token`,
    '--official-api', `github.api=${base}/api`,
    '--outbound-allow-loopback', '--outbound-allow-http',
  ]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  github?.close();
});

test('Connect with GitHub installs the server with the provider\'s token, and its tools work', async () => {
  const user = await registerUser(server, 'connector@example.com');
  const servers = (await api(server, '/api/servers?q=github')).body.servers;
  const gh = servers.find((s) => s.slug === 'github');
  const context = await signedInContext(browser, server, user.token);
  const page = await context.newPage();
  await page.goto(`${server.url}/marketplace/${gh.id}`);
  await hydrated(page);
  const button = page.getByTestId('connect');
  assert.equal(await button.textContent(), 'Connect with GitHub');
  await button.click();
  await page.waitForURL('**/installed?connected=github');
  await hydrated(page);
  const row = page.locator('[data-testid="installation"][data-slug="github"]');
  assert.match(await row.getByTestId('connection').textContent(), /Connected to GitHub/);
  await shot(page, 'connect-github');
  const call = await api(server, '/mcp/call', { token: user.key, body: { serverId: 'github', toolName: 'list_repos', arguments: {} } });
  assert.equal(call.status, 200, JSON.stringify(call.body));
  assert.match(JSON.stringify(call.body), /octo\/connected-in-chromium/);
  await context.close();
});
