// The account journey in a real browser: register, log out, log in,
// create an API key (seen exactly once), use it, revoke it; error paths;
// and the same forms with JavaScript turned off (before hydration).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, hydrated, shot } from './support.mjs';

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

async function apiMe(key) {
  const res = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${key}` } });
  return res.status;
}

test('register, log in, create a key shown once, use it, revoke it', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.url}/register`);
  await hydrated(page);
  await shot(page, '01-register');
  await page.getByLabel('Email address').fill('grace@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/dashboard');
  await page.getByTestId('user-email').waitFor();
  assert.equal(await page.getByTestId('user-email').textContent(), 'grace@example.com');
  await shot(page, '02-dashboard');

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL('**/login');
  await hydrated(page);
  await shot(page, '03-login');
  await page.getByLabel('Email address').fill('grace@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/dashboard');

  await page.getByRole('link', { name: 'Settings' }).first().click();
  await page.waitForURL('**/settings');
  await page.getByTestId('keys-empty').waitFor();
  await shot(page, '04-settings-empty');

  await page.getByLabel('Key name').fill('Claude Desktop');
  await page.getByRole('button', { name: 'Create key' }).click();
  const value = page.getByTestId('new-key-value');
  await value.waitFor();
  const key = await value.inputValue();
  assert.match(key, /^omni_[A-Za-z0-9_-]{43}$/);
  await page.getByTestId('key-row').waitFor();
  assert.equal(await page.getByTestId('key-row').count(), 1);
  await shot(page, '05-settings-key-created');
  assert.equal(await apiMe(key), 200, 'the new key works on the API');

  // Exactly once: after a reload the key is listed but its text is gone.
  await page.reload();
  await hydrated(page);
  await page.getByTestId('key-row').waitFor();
  assert.equal(await page.getByTestId('new-key').count(), 0);
  assert.ok(!(await page.content()).includes(key), 'the key text is never shown again');
  await shot(page, '06-settings-key-listed');

  await page.getByRole('button', { name: 'Revoke key Claude Desktop' }).click();
  await page.getByTestId('keys-empty').waitFor();
  assert.equal(await apiMe(key), 401, 'a revoked key is refused');
  await shot(page, '07-settings-key-revoked');
  assert.deepEqual(errors, [], 'no script errors');
  await page.close();
});

test('bad login and invalid registration show errors next to the fields', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.url}/login`);
  await hydrated(page);
  await page.getByLabel('Email address').fill('grace@example.com');
  await page.getByLabel('Password').fill('definitely wrong');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'incorrect' }).waitFor();
  await shot(page, '08-login-error');

  await page.goto(`${server.url}/register`);
  await hydrated(page);
  await page.getByLabel('Email address').fill('someone@example.com');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  const passwordError = page.locator('#field-password-error');
  await passwordError.filter({ hasText: '10 characters' }).waitFor();
  assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  await shot(page, '09-register-error');
  await page.close();
});

test('forms work without JavaScript (before hydration)', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${server.url}/register`);
  await page.getByLabel('Email address').fill('nojs@example.com');
  await page.getByLabel('Password').fill('tiny');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#field-password-error').filter({ hasText: '10 characters' }).waitFor();
  await shot(page, '10-nojs-register-error');

  await page.getByLabel('Email address').fill('nojs@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/dashboard');

  await page.goto(`${server.url}/settings`);
  await page.getByLabel('Key name').fill('No-JS key');
  await page.getByRole('button', { name: 'Create key' }).click();
  // The form posts, the server redirects back to /settings, and the key
  // arrives through the flash cookie.
  await page.getByTestId('new-key-value').waitFor();
  const key = await page.getByTestId('new-key-value').inputValue();
  assert.match(key, /^omni_/);
  assert.equal(await apiMe(key), 200);
  await shot(page, '11-nojs-key-created');
  await page.reload();
  assert.equal(await page.getByTestId('new-key').count(), 0, 'shown once, also without JavaScript');
  await context.close();
});

test('change the password on /settings, then log in with the new one', async () => {
  const reg = await fetch(`${server.url}/api/auth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'pw@example.com', password: PASSWORD }),
  });
  assert.equal(reg.status, 201);
  const { token } = await reg.json();
  // A key made before the change: the form's checkbox (on by default)
  // revokes it with the password.
  const made = await fetch(`${server.url}/api/keys`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: 'before' }),
  });
  assert.equal(made.status, 201);
  const { key } = await made.json();
  assert.equal(await apiMe(key), 200);
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.addCookies([{ name: 'omni_session', value: token, url: server.url }]);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/settings`);
  await hydrated(page);

  // Errors next to the fields: a wrong current password, then a weak new one.
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password').fill('a brand new password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('#field-current_password-error').filter({ hasText: 'incorrect' }).waitFor();
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password').fill('short');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('#field-new_password-error').filter({ hasText: '10 characters' }).waitFor();

  await page.getByLabel('New password').fill('a brand new password');
  assert.equal(await page.getByTestId('revoke-api-keys').isChecked(), true, 'revoking keys is the default');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByTestId('password-changed').filter({ hasText: 'API keys have been revoked' }).waitFor();
  await shot(page, '10-settings-password-changed');
  assert.equal(await apiMe(key), 401, 'the key made before the change is revoked');
  // This browser stays signed in; the old session token is ended.
  await page.goto(`${server.url}/settings`);
  await page.getByLabel('Current password').waitFor();
  assert.equal(await apiMe(token), 401, 'the old session ended');
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();

  const fresh = await browser.newPage();
  await fresh.goto(`${server.url}/login`);
  await hydrated(fresh);
  await fresh.getByLabel('Email address').fill('pw@example.com');
  await fresh.getByLabel('Password').fill('a brand new password');
  await fresh.getByRole('button', { name: 'Log in' }).click();
  await fresh.waitForURL('**/dashboard');
  await fresh.close();
});
