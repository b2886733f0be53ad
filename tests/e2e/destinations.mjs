#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// Restream on the page: headless Chromium opens the page served by wsrtmpd, goes live against a
// mocked ingest WebSocket that sends {"type":"destinations",...} frames, and the page must show
// one row per destination with its state (dot colour follows data-state), its bitrate and its
// error in words; a later frame replaces the rows. Exit 0 passed, 1 failed, 77 skipped.
import { E2eTest, until } from './support.mjs';

const t = new E2eTest('destinations', { timeoutMs: 100_000 });
const { check } = t;
const chromium = await t.preflight({ nginx: false });
// Nothing reaches a platform (the ingest WebSocket is mocked): no --rtmp-url, a recording dir.
const server = await t.startWsrtmpd(['--record-dir', t.tempDir('wsrtmp-destinations-')]);
const browser = await t.launchChromium(chromium);
await t.step('destinations', async () => {
  const frame = (dests) => JSON.stringify({ type: 'destinations', destinations: dests });
  let socket = null;
  const { page, consoleErrors } = await t.openPage(browser, `${server.base}/`, {
    mock: (ws) => {
      socket = ws;
      ws.send(JSON.stringify({ type: 'state', state: 'live' }));
      ws.send(frame([
        { name: 'youtube', state: 'live', kbps: 2510, reconnects: 0, error: '' },
        { name: 'facebook', state: 'failed', kbps: 0, reconnects: 0, error: 'facebook refused the stream key' },
        { name: 'srt', state: 'reconnecting', kbps: 0, reconnects: 2, error: 'cannot reach srt (connection refused)' },
      ]));
      ws.onClose(() => ws.close({ code: 1000, reason: 'ended' }));
    },
  });
  const errors = consoleErrors.filter((e) => / pageerror: /.test(e));
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
});
await t.finish();
