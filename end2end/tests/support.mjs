// Browser-test support: starts the real `omnimcp` binary (built by
// `cargo leptos build`) on 127.0.0.1:0 with a fresh data directory, and
// launches Debian's Chromium through playwright-core. Every page opened
// through it is watched for Content-Security-Policy violations, and each
// test file fails at its end if any page reported one.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { after } from 'node:test';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const ARTIFACTS = join(ROOT, 'end2end', 'artifacts');
const BIN = process.env.OMNIMCP_BIN ?? join(ROOT, 'target', 'debug', 'omnimcp');
mkdirSync(ARTIFACTS, { recursive: true });

/** Starts the server; resolves to { url, stop, log } once it listens.
 * `extraArgs` are more `omnimcp` flags (e.g. `--outbound-allow-loopback`). */
export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'omnimcp-e2e-'));
  const database = `sqlite://${join(dir, 'e2e.db')}`;
  const env = { ...process.env, RUST_LOG: 'info' };
  delete env.DATABASE_URL;
  const child = spawn(BIN, [
    '--bind', '127.0.0.1:0',
    '--data-dir', join(dir, 'data'),
    '--database-url', database,
    '--site-root', join(ROOT, 'target', 'site'),
    ...extraArgs,
  ], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 30_000);
    const onData = (chunk) => {
      log += chunk.toString();
      const m = log.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolveUrl(m[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}:\n${log}`)); });
  });
  return {
    url,
    log: () => log,
    /** Runs `omnimcp admin …` against this server's database. */
    admin: (...args) => execFileSync(BIN, ['admin', ...args, '--data-dir', join(dir, 'data'), '--database-url', database],
      { encoding: 'utf8' }),
    /** Adds a subscription tier (tiers are data; no command creates one). */
    addTier: ({ id, name, perMinute, perMonth }) => execFileSync('python3', ['-c', `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("""INSERT INTO subscription_tiers (id, name, requests_per_minute, requests_per_month, max_installations,
              can_publish, sort_order, max_servers) VALUES (?, ?, ?, ?, 5, 1, 9, 3)""",
           (sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
db.commit()`, join(dir, 'e2e.db'), id, name, String(perMinute), String(perMonth)]),
    stop: () => new Promise((done) => {
      child.removeAllListeners('exit');
      child.on('exit', done);
      child.kill('SIGTERM');
    }),
  };
}

/** What the pages' Content-Security-Policy refused, from every page. */
export const cspViolations = [];

function watchCsp(page) {
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${page.url()}: ${message.text()}`);
  });
}

after(() => assert.deepEqual(cspViolations, [], 'the pages must live with their Content-Security-Policy'));

export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Every page, however it is opened, is watched.
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    context.on('page', watchCsp);
    return context;
  };
  const newPage = browser.newPage.bind(browser);
  browser.newPage = async (options) => {
    const page = await newPage(options);
    watchCsp(page);
    return page;
  };
  return browser;
}

/** Waits until the WASM has hydrated the page. */
export async function hydrated(page) {
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 20_000 });
}

/** Opens `url` in a new page of `context` and waits for hydration;
 * resolves to { page, errors }, the page's script errors as they come. */
export async function openHydrated(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await hydrated(page);
  return { page, errors };
}

export async function shot(page, name) {
  // From the top, so the sticky header and fixed sidebar sit where they belong.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** A JSON request to the REST API; resolves to { status, body }. */
export async function api(server, path, { token, method, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Registers an account through the API; resolves to { token, key }
 * (a session token and a fresh API key). */
export async function registerUser(server, email, password = 'correct horse battery') {
  const reg = await api(server, '/api/auth/register', { body: { email, password } });
  if (reg.status !== 201) throw new Error(`register ${email}: ${reg.status} ${JSON.stringify(reg.body)}`);
  const created = await api(server, '/api/keys', { token: reg.body.token, body: { name: 'e2e' } });
  return { token: reg.body.token, key: created.body.key };
}

/** A browser context signed in with a session token (as the login form
 * would leave it). `options` go to `browser.newContext`. */
export async function signedInContext(browser, server, token, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
  await context.addCookies([{ name: 'omni_session', value: token, url: server.url }]);
  return context;
}
