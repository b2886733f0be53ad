#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// Restream on the page: headless Chromium opens the page served by wsrtmpd, goes live against a
// mocked ingest WebSocket that sends {"type":"destinations",...} frames, and the page must show
// one row per destination with its state (dot colour follows data-state), its bitrate and its
// error in words; a later frame replaces the rows. Exit 0 passed, 1 failed, 77 skipped.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, until } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE_ROOT = process.env.WSRTMP_SOURCE_ROOT || path.resolve(HERE, '../..');
const BUILD_ROOT = process.env.WSRTMP_BUILD_ROOT || path.join(SOURCE_ROOT, 'build');
const WSRTMPD = process.env.WSRTMPD || path.join(BUILD_ROOT, 'service', 'wsrtmpd');
const PLUGIN_PATH = process.env.GST_PLUGIN_PATH || path.join(BUILD_ROOT, 'plugin');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.log('playwright-core is not installed (npm ci --prefix tests/e2e): skipped');
  process.exit(77);
}

let failed = 0;
const check = (ok, what, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`);
  if (!ok) failed++;
  return ok;
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrtmp-destinations-'));
const port = await freePort();
const server = spawn(WSRTMPD, ['--listen', `127.0.0.1:${port}`, '--web-root', path.join(SOURCE_ROOT, 'web'),
  '--record-dir', tmp], { env: { ...process.env, GST_PLUGIN_PATH: PLUGIN_PATH }, stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
server.stdout.on('data', (d) => { out += d; });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 30_000,
  args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--no-sandbox', '--disable-gpu'] });
try {
  check(await until(() => out.includes('listening on'), 15_000, 50), 'wsrtmpd starts');
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const frame = (dests) => JSON.stringify({ type: 'destinations', destinations: dests });
  let socket = null;
  await page.routeWebSocket(/\/ingest\//, (ws) => {
    socket = ws;
    ws.send(JSON.stringify({ type: 'state', state: 'live' }));
    ws.send(frame([
      { name: 'youtube', state: 'live', kbps: 2510, reconnects: 0, error: '' },
      { name: 'facebook', state: 'failed', kbps: 0, reconnects: 0, error: 'facebook refused the stream key' },
      { name: 'srt', state: 'reconnecting', kbps: 0, reconnects: 2, error: 'cannot reach srt (connection refused)' },
    ]));
    ws.onClose(() => ws.close({ code: 1000, reason: 'ended' }));
  });
  await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
  const hiddenBefore = await page.locator('[data-destinations]').isHidden();
  check(hiddenBefore, 'no destination rows before going live');
  await page.fill('#key', 'restream_key');
  await page.click('#golive');
  const rows = page.locator('#destinations li');
  check(!!(await until(async () => (await rows.count()) === 3, 15_000)), 'three destination rows',
    `${await rows.count()} rows`);
  const row = (name) => page.locator(`#destinations li[data-name="${name}"]`);
  check((await row('youtube').getAttribute('data-state')) === 'live', 'youtube is live');
  check((await row('youtube').textContent()).includes('2.5 Mbps'), 'youtube shows its bitrate',
    await row('youtube').textContent());
  check((await row('facebook').getAttribute('data-state')) === 'failed'
    && (await row('facebook').textContent()).includes('facebook refused the stream key'),
  'facebook failed, in words', await row('facebook').textContent());
  const dot = await row('facebook').locator('.destination-dot').evaluate((el) => getComputedStyle(el).backgroundColor);
  const liveDot = await row('youtube').locator('.destination-dot').evaluate((el) => getComputedStyle(el).backgroundColor);
  check(dot !== liveDot, 'failed and live dots differ in colour', `${dot} vs ${liveDot}`);
  check((await row('srt').getAttribute('data-state')) === 'reconnecting', 'srt is reconnecting');
  // The next frame replaces the rows.
  socket.send(frame([{ name: 'youtube', state: 'stalled', kbps: 0, reconnects: 0, error: '' }]));
  check(!!(await until(async () => (await rows.count()) === 1
    && (await row('youtube').getAttribute('data-state')) === 'stalled', 5000)), 'a new frame replaces the rows');
  check(errors.length === 0, 'no page errors', errors.join(' | '));
} finally {
  await browser.close();
  server.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
