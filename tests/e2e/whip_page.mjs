#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// The page over WebRTC (Connection: WebRTC, web/js/whip_session.js) in headless Chromium: the
// studio's composed output (compositor canvas + mixer audio) of a flash-and-beep camera
// (avsync.mjs) goes live through POST /whip, the status rows come from polling the session
// resource, Stop is DELETE. nginx-rtmp gets one publish of H.264 (passed through) + AAC, as long
// as the page was live (+-1 s), keyframes at most 2.2 s apart, the flash/beep offset within
// 40 ms (+ one frame of measurement). Then a drop (the page's peer connection goes down without
// DELETE): the page shows the connection as lost, the server the slate, the page resumes with a
// new POST, one publish. Another window taking the key over (over the WebSocket) ends the WebRTC
// page with a note, not a fight for the key. Then Automatic with /whip refusing (503): the page
// goes live over the WebSocket.
//
// Environment: CHROMIUM, WSRTMPD, E2E_ARTIFACTS as for run.mjs. Exit status: 0 passed, 1 a check
// failed, 77 a prerequisite is missing.
import path from 'node:path';
import { E2eTest, cameraOn, run, sleep, stateOf, statesOf, until, waitState } from './support.mjs';
import { flashAndBeepCamera, flashesAndBeeps, median } from './avsync.mjs';

const t = new E2eTest('whip-page', { timeoutMs: 150_000 });
const { check, log } = t;
const SECONDS = 10;
const FLASH_RESOLUTION_MS = 1000 / 30;

const chromium = await t.preflight({ tools: ['ffprobe', 'ffmpeg'] });
const tmp = t.tempDir('wsrtmp-whip-page-');
const nginx = await t.startNginx(tmp);
const daemon = await t.startWsrtmpd(['--rtmp-url', nginx.rtmpUrl, '--continuity-timeout', '20',
  '--idle-timeout', '3']);
// AudioContexts (the fake camera's clock, the studio's mixer) start without a user gesture.
const browser = await t.launchChromium(chromium, ['--autoplay-policy=no-user-gesture-required']);

async function keyframeGaps(flv) {
  const frames = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-skip_frame', 'nokey',
    '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', flv]);
  const keyframes = frames.stdout.split('\n').map(parseFloat).filter(Number.isFinite);
  return { count: keyframes.length, gaps: keyframes.slice(1).map((k, i) => k - keyframes[i]) };
}

async function probe(flv) {
  const r = await run('ffprobe', ['-v', 'error', '-show_entries',
    'stream=codec_type,codec_name:format=duration', '-of', 'json', flv]);
  const info = JSON.parse(r.stdout || '{}');
  return {
    codecs: (info.streams || []).map((s) => `${s.codec_type}:${s.codec_name}`).sort().join(' '),
    duration: Number(info.format?.duration),
  };
}

/** The page, key filled, camera on, Connection as `transport`. */
async function livePage(key, transport) {
  const opened = await t.openPage(browser, `${daemon.base}/?transport=${transport}`, { init: [flashAndBeepCamera] });
  const { page } = opened;
  await page.fill('#key', key);
  check(await cameraOn(page), `${key}: camera preview on`);
  check(await page.inputValue('#transport-select') === transport, `${key}: Connection is ${transport}`);
  return opened;
}

await t.step('live over WebRTC, Stop', async () => {
  const KEY = 'whippage';
  const { page, context, consoleErrors } = await livePage(KEY, 'webrtc');
  await page.focus('#key');
  await page.keyboard.press('Enter');
  const live = await waitState(page, 'live', 20_000);
  check(live, 'the page shows LIVE', live ? '' : `state ${await stateOf(page)}; alert: ${await page.textContent('#alert')}`);
  const since = Number(await page.getAttribute('#status', 'data-recording-since')) || Date.now();
  const mime = await page.getAttribute('#format', 'data-mime-type');
  check(/^video\/webrtc;codecs="h264,opus"$/.test(mime), 'the page sends H.264 and Opus over WebRTC', mime);
  await sleep(Math.max(0, since + SECONDS * 500 - Date.now()));
  await until(async () => /\d/.test(await page.textContent('#stat-output')), 3000);
  const rows = {
    output: await page.textContent('#stat-output'),
    upload: await page.textContent('#stat-bitrate'),
    elapsed: await page.textContent('#stat-elapsed'),
    status: (await page.textContent('#status')).replace(/\s+/g, ' ').trim(),
  };
  check(/passthrough/i.test(rows.output), 'status row: the server passes the video through', rows.output);
  check(/\d/.test(rows.upload), 'status row: upload bitrate shown', rows.upload);
  check(/^\d\d:\d\d$/.test(rows.elapsed) && /LIVE \d\d:\d\d/.test(rows.status), 'status row: elapsed time shown',
    `${rows.status}, ${rows.elapsed}`);
  await page.screenshot({ path: path.join(t.paths.ARTIFACTS, 'whip-page-live.png') });
  await page.focus('#golive');
  await sleep(Math.max(0, since + SECONDS * 1000 - Date.now()));
  const sentS = (Date.now() - since) / 1000;
  await page.keyboard.press('Enter');
  check(await waitState(page, ['ended', 'error'], 20_000) && (await stateOf(page)) === 'ended', 'Stop ends cleanly',
    await page.textContent('#alert'));
  const states = await statesOf(page);
  check(!states.includes('error') && states.includes('live'), 'through LIVE to ended', states.join(' → '));
  check(consoleErrors.length === 0, 'no console errors', consoleErrors.join(' | ') || 'none');
  await context.close();

  check(!!(await until(async () => !(await nginx.publishing(KEY)), 15_000)), 'DELETE ends the publish');
  check(/DELETE: the sender ended the stream/.test(daemon.out), 'the daemon took Stop as DELETE');
  check(nginx.countPublishes(KEY) === 1, 'one publish', `${nginx.countPublishes(KEY)}`);
  check(/whip.*video output: passthrough/.test(daemon.out), 'H.264 passed through');
  const flv = nginx.flv(KEY);
  const { codecs, duration } = await probe(flv);
  check(codecs === 'audio:aac video:h264', 'H.264 and AAC at nginx', codecs);
  check(Math.abs(duration - sentS) <= 1, 'duration as sent (+-1 s)', `${duration.toFixed(2)} s at nginx, ${sentS.toFixed(2)} s live`);
  t.figures.push(`duration at nginx ${duration.toFixed(2)} s for ${sentS.toFixed(2)} s live on the page`);
  const { count, gaps } = await keyframeGaps(flv);
  const widest = Math.max(0, ...gaps);
  check(count > 1 && widest <= 2.21, 'keyframes at most 2.2 s apart', `${count} keyframes, widest gap ${widest.toFixed(3)} s`);
  t.figures.push(`keyframe gaps ${gaps.map((g) => g.toFixed(2)).join(' ')} s`);
  const sync = await flashesAndBeeps(flv);
  const offsetMs = median(sync.offsets) * 1000;
  check(sync.offsets.length >= 3 && Math.abs(offsetMs) <= 40 + FLASH_RESOLUTION_MS, 'A/V offset within 40 ms (+ one frame)',
    `median ${offsetMs.toFixed(0)} ms over ${sync.offsets.length} pairs: ${sync.offsets.map((o) => Math.round(o * 1000)).join(' ')}`);
  t.figures.push(`A/V offset (beep - flash) median ${offsetMs.toFixed(0)} ms, ${sync.offsets.length} pairs`);
});

await t.step('a drop over WebRTC: slate, resumed', async () => {
  const KEY = 'whipdrop';
  const { page, context } = await livePage(KEY, 'webrtc');
  await page.focus('#key');
  await page.keyboard.press('Enter');
  check(await waitState(page, 'live', 20_000), `${KEY}: the page shows LIVE`);
  await sleep(3000);
  // The network goes: the peer connection is lost without a DELETE (as ICE failing would).
  await page.evaluate(() => {
    const s = window.wsrtmpLive.session;
    s.pc.getSenders().forEach((sender) => sender.track && (sender.track.enabled = false));
    s._drop('test: network gone');
  });
  check(await waitState(page, 'lost', 5000), 'the page shows the connection as lost');
  check(await waitState(page, 'live', 20_000), 'the page resumes (a new POST, same key)');
  check(!!(await until(() => /slate/.test(daemon.out), 5000)), 'the server showed the slate');
  await sleep(2000);
  await page.focus('#golive');
  await page.keyboard.press('Enter');
  check(await waitState(page, ['ended', 'error'], 20_000) && (await stateOf(page)) === 'ended', `${KEY}: Stop ends cleanly`);
  await context.close();
  check(!!(await until(async () => !(await nginx.publishing(KEY)), 15_000)), `${KEY}: the publish ends`);
  check(nginx.countPublishes(KEY) === 1, `${KEY}: one publish across the drop`, `${nginx.countPublishes(KEY)}`);
});

await t.step('another window takes the key over', async () => {
  const KEY = 'whiptaken';
  const first = await livePage(KEY, 'webrtc');
  await first.page.focus('#key');
  await first.page.keyboard.press('Enter');
  check(await waitState(first.page, 'live', 20_000), `${KEY}: the WebRTC page shows LIVE`);
  const second = await livePage(KEY, 'websocket');
  await second.page.focus('#key');
  await second.page.keyboard.press('Enter');
  check(await waitState(second.page, 'live', 20_000), `${KEY}: the WebSocket page shows LIVE`);
  check(await waitState(first.page, 'error', 10_000), `${KEY}: the WebRTC page ends`, await stateOf(first.page));
  const alert = await first.page.textContent('#alert');
  check(/another window or device/.test(alert), `${KEY}: it says why`, alert.trim());
  await sleep(2000);
  check((await stateOf(second.page)) === 'live', `${KEY}: the WebSocket page stays live`);
  await second.page.focus('#golive');
  await second.page.keyboard.press('Enter');
  check(await waitState(second.page, ['ended', 'error'], 20_000), `${KEY}: Stop`);
  await first.context.close();
  await second.context.close();
});

await t.step('Automatic: /whip refused (not the streamer\'s fault) → the WebSocket', async () => {
  const KEY = 'whipfallback';
  const { page, context } = await livePage(KEY, 'auto');
  await page.route('**/whip', (route) => route.fulfill({
    status: 503, contentType: 'application/json', body: '{"kind":"pipeline","message":"test: no WebRTC here"}',
  }));
  await page.focus('#key');
  await page.keyboard.press('Enter');
  check(await waitState(page, 'live', 20_000), `${KEY}: the page goes live`);
  const mime = await page.getAttribute('#format', 'data-mime-type');
  check(!/webrtc/.test(mime), `${KEY}: over the WebSocket`, mime);
  const warning = await page.textContent('#warning');
  check(/WebSocket/.test(warning), `${KEY}: the page says why`, warning.trim());
  await sleep(2000);
  await page.focus('#golive');
  await page.keyboard.press('Enter');
  check(await waitState(page, ['ended', 'error'], 20_000) && (await stateOf(page)) === 'ended', `${KEY}: Stop ends cleanly`);
  await context.close();
  check(!!(await until(async () => !(await nginx.publishing(KEY)), 15_000)), `${KEY}: the publish ends`);
  check(nginx.countPublishes(KEY) === 1, `${KEY}: one publish`, `${nginx.countPublishes(KEY)}`);
});
await t.finish();
