// Browser-test support: starts the real `omnimcp` binary (built by
// `cargo leptos build`) on 127.0.0.1:0 with a fresh data directory, and
// launches Debian's Chromium through playwright-core.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const ARTIFACTS = join(ROOT, 'end2end', 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

/** Starts the server; resolves to { url, stop, log } once it listens. */
export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'omnimcp-e2e-'));
  const bin = process.env.OMNIMCP_BIN ?? join(ROOT, 'target', 'debug', 'omnimcp');
  const env = { ...process.env, RUST_LOG: 'info' };
  delete env.DATABASE_URL;
  const child = spawn(bin, [
    '--bind', '127.0.0.1:0',
    '--data-dir', join(dir, 'data'),
    '--database-url', `sqlite://${join(dir, 'e2e.db')}`,
    '--site-root', join(ROOT, 'target', 'site'),
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
    stop: () => new Promise((done) => {
      child.removeAllListeners('exit');
      child.on('exit', done);
      child.kill('SIGTERM');
    }),
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Waits until the WASM has hydrated the page. */
export async function hydrated(page) {
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 20_000 });
}

export async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
