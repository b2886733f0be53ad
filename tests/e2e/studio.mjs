#!/usr/bin/env node
// End-to-end test of the studio page: headless Chromium → web/ page → wsrtmpd → nginx-rtmp,
// the recording read back with ffmpeg and tesseract.
//
// The camera and microphone are made in the page from one clock (magenta, with a white flash
// and a 1 kHz beep in the first 100 ms of every second: the flash-and-beep method of
// tests/plugin/test_av_sync.cpp). The screen is Chromium's fake screen capture (green).
// One page, one camera, five broadcasts:
//   A0 camera only through the browser's MediaRecorder (Format H.264): the reference offset;
//   A  camera only, encoded by the page (WebCodecs): must arrive as passthrough; flash/beep
//      offsets within 40 ms of A0's (+ one frame of measurement);
//   B  camera + title (composed): the flash/beep offsets within 40 ms of A's, to the
//      measurement's resolution (one frame: see FLASH_RESOLUTION_MS);
//   C  share screen, "Screen + camera" with a title, then Screen, Be right back, Camera,
//      Screen + camera while live; 10 s with the tab in the background (another tab in
//      front); the screen share ended from outside: back to Camera in the same broadcast.
//      In nginx's recording: the title read back by OCR, the camera picture-in-picture in
//      its corner, each scene within 0.5 s of when it was chosen, >= 90 % of 30 fps in the
//      background, no gap when the share ended, one publish.
//   Draw time per frame (p95) at 720p and 1080p is measured in the page and printed.
//
// Environment: as run.mjs (WSRTMP_SOURCE_ROOT, WSRTMP_BUILD_ROOT, WSRTMPD, GST_PLUGIN_PATH,
// CHROMIUM, E2E_ARTIFACTS). Exit status: 0 passed, 1 a check failed, 77 skipped.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { E2eTest, cameraOn, run as runCommand, sleep, statesOf, until, waitState } from './support.mjs';
import { AW, AH, flashAndBeepCamera, flashesAndBeeps, frames, meanRgb, median, runBinary } from './avsync.mjs';

const t = new E2eTest('studio', { timeoutMs: 240_000 });
const { check, log, figures } = t;
const { ARTIFACTS } = t.paths;
const FPS = 30;
// A flash is found at the first white frame of the recording: up to one frame after it
// began, the same amount for every flash of a run while the camera's frame phase holds
// (it drifts slowly: a run's offsets read 19 19 19 -13 -13 -13 -33 ms). A median offset is
// thus only known to one frame, and the difference of two medians can be a frame off from
// quantization alone (recorded runs read 10-14 ms apart in some runs, 43-58 ms in others).
const FLASH_RESOLUTION_MS = 1000 / FPS;
const TITLE = { name: 'Studio Test', subtitle: 'Lower third' };

// ---------------------------------------------------------------- helpers
// ffmpeg and tesseract on whole recordings: a minute before a command counts as hung.
const run = (cmd, args, { timeout = 60_000 } = {}) => runCommand(cmd, args, { timeout });


// ---------------------------------------------------------------- nginx-rtmp + wsrtmpd
const chromium = await t.preflight({ tools: ['ffmpeg', 'ffprobe', 'tesseract'] });
const TMP = t.tempDir('wsrtmp-studio-');
const nginx = await t.startNginx(TMP);
const KEYS = { recorder: `studio_recorder_${process.pid}`, plain: `studio_plain_${process.pid}`, titled: `studio_title_${process.pid}`, studio: `studio_live_${process.pid}` };
const keysFile = path.join(TMP, 'keys.txt');
fs.writeFileSync(keysFile, `${Object.values(KEYS).join('\n')}\n`);
const server = await t.startWsrtmpd(['--rtmp-url', nginx.rtmpUrl, '--keys-file', keysFile]);
const BASE = server.base;

/** nginx's finished recording of `key` (after the publisher left). */
async function recording(key) {
  const flv = nginx.flv(key);
  await until(() => fs.existsSync(flv), 20_000, 300);
  await until(async () => !(await nginx.publishing(key)), 60_000, 300);
  if (!fs.existsSync(flv)) return null;
  fs.copyFileSync(flv, path.join(ARTIFACTS, `${key.replace(/_\d+$/, '')}.flv`));
  return flv;
}

// ---------------------------------------------------------------- recording analysis
function colourName([r, g, b]) {
  if (r > 200 && g > 200 && b > 200) return 'white';
  if (r > 150 && b > 150 && g < 110) return 'magenta';
  if (g > r + 40 && g > b + 40) return 'green';
  if (b > r + 30 && b > g + 20 && r < 90) return 'indigo';
  return 'other';
}

// Where the page draws the small picture-in-picture in the bottom-right corner (compositor.js:
// 22 % of the width, 16:9, so 22 % of the height too; a margin of 3 % of the height), and
// the inner half of that box, as fractions of the picture.
const PIP = (() => {
  const w = 0.22;
  const x1 = 1 - 0.03 * 9 / 16;
  const y1 = 1 - 0.03;
  const pad = w / 4;
  return { x0: x1 - w + pad, y0: y1 - w + pad, x1: x1 - pad, y1: y1 - pad };
})();
// The same box in the top-left corner: must be screen there.
const PIP_TL = { x0: 1 - PIP.x1, y0: 1 - PIP.y1, x1: 1 - PIP.x0, y1: 1 - PIP.y0 };

function classify(px) {
  const centre = colourName(meanRgb(px, 0.4, 0.2, 0.6, 0.45));
  const pip = colourName(meanRgb(px, PIP.x0, PIP.y0, PIP.x1, PIP.y1));
  if (centre === 'indigo') return 'brb';
  if (centre === 'magenta' || centre === 'white') return 'camera';
  if (centre === 'green') return pip === 'magenta' || pip === 'white' ? 'pip' : pip === 'green' ? 'screen' : 'other';
  return 'other';
}

// ---------------------------------------------------------------- browser
// A background tab, as Chrome makes it: document.hidden, requestAnimationFrame and the main
// thread's timers down to one run per second (Workers' timers are left alone, as Chrome does).
// Headless Chromium never hides a tab (checked with Chromium 156: another tab activated with
// Target.activateTarget or Page.bringToFront, the window minimized, with Playwright's
// anti-throttling switches removed), so the test does it to the page itself, from the start.
const backgroundTab = () => {
  let hidden = false;
  const real = { setTimeout: window.setTimeout.bind(window), setInterval: window.setInterval.bind(window) };
  const nextSecond = () => 1000 - (performance.now() % 1000);
  window.setTimeout = (fn, ms, ...args) => real.setTimeout(function again() {
    if (hidden) real.setTimeout(() => fn(...args), nextSecond()); else fn(...args);
  }, ms);
  window.setInterval = (fn, ms, ...args) => {
    let last = 0;
    return real.setInterval(() => {
      const now = performance.now();
      if (hidden && now - last < 1000) return;
      last = now;
      fn(...args);
    }, ms);
  };
  const realRaf = window.requestAnimationFrame.bind(window);
  const realCancel = window.cancelAnimationFrame.bind(window);
  const hiddenRaf = new Set();
  window.requestAnimationFrame = (fn) => {
    if (!hidden) return realRaf(fn);
    const id = real.setTimeout(() => { hiddenRaf.delete(id); fn(performance.now()); }, nextSecond());
    hiddenRaf.add(id);
    return id;
  };
  window.cancelAnimationFrame = (id) => {
    if (hiddenRaf.delete(id)) clearTimeout(id); else realCancel(id);
  };
  Object.defineProperty(document, 'hidden', { get: () => hidden, configurable: true });
  Object.defineProperty(document, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible'), configurable: true });
  window.__setHidden = (h) => {
    hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
  };
  // Evidence that the throttle bites: a requestAnimationFrame counter.
  window.__rafCount = 0;
  const count = () => { window.__rafCount++; window.requestAnimationFrame(count); };
  window.requestAnimationFrame(count);
};

// AudioContexts (the fake camera's clock, the studio's mixer) start without a user gesture.
const browser = await t.launchChromium(chromium, ['--autoplay-policy=no-user-gesture-required']);
const { context, page, consoleErrors } = await t.openPage(browser, `${BASE}/`, {
  viewport: { width: 1280, height: 720 },
  init: [flashAndBeepCamera, backgroundTab],
});
const button = (name) => page.getByRole('button', { name, exact: true });
const state = () => page.getAttribute('#status', 'data-state');

/** Go live with `key`; returns the wall-clock time the recorder started. */
async function goLive(key, label) {
  await page.fill('#key', key);
  await button('Go live').click();
  const live = await waitState(page, 'live', 20_000);
  check(live, `${label}: page shows LIVE`, live ? '' : `state ${await state()}: ${await page.textContent('#alert')}`);
  return Number(await page.getAttribute('#status', 'data-recording-since'));
}

async function stop(label) {
  await button('Stop').click();
  const ended = await waitState(page, ['ended', 'error'], 40_000);
  const st = await state();
  check(ended && st === 'ended', `${label}: Stop ends cleanly`, `state ${st}: ${(await page.textContent('#alert')).trim()}`);
}

async function drawP95(label) {
  await page.evaluate(() => { window.wsrtmpStudio.drawMs.length = 0; });
  await sleep(3000);
  const st = await page.evaluate(() => window.wsrtmpStudio.drawStats());
  figures.push(`draw time per frame, ${label} ${st.width}x${st.height}: p50 ${st.p50.toFixed(1)} ms, p95 ${st.p95.toFixed(1)} ms (${st.n} frames)`);
  return st;
}

await t.step('studio test', async () => {
  // ---------------------------------------------------------- accessible names, layout
  check(await cameraOn(page), 'camera preview on');
  const names = ['Share screen', 'Camera', 'Screen', 'Screen + camera', 'Be right back', 'Go live'];
  const found = [];
  for (const n of names) found.push(`${n}: ${await button(n).count()}`);
  check(found.every((f) => f.endsWith(': 1')), 'buttons have the accessible names of the issue', found.join(', '));
  const boxes = [];
  for (const n of ['Name', 'Subtitle']) boxes.push(`${n}: ${await page.getByRole('textbox', { name: n, exact: true }).count()}`);
  check(boxes.every((f) => f.endsWith(': 1')), 'title fields are named Name and Subtitle', boxes.join(', '));
  const fit = await page.evaluate(() => {
    const inView = (id) => { const r = document.getElementById(id).getBoundingClientRect(); return r.bottom <= innerHeight && r.right <= innerWidth; };
    return { overflow: document.documentElement.scrollWidth - innerWidth, scenes: inView('scenes'), golive: inView('golive'), share: inView('share-btn') };
  });
  check(fit.overflow <= 0 && fit.scenes && fit.golive && fit.share, 'fits 1280x720: scenes, Share screen and Go live in view',
    JSON.stringify(fit));
  const method = await page.evaluate(() => window.wsrtmpStudio.method);
  log(`studio: ${method}`);

  // ---------------------------------------------------------- A0: the browser's recorder
  // The camera only through MediaRecorder (H.264): the browser's own A/V offset for this
  // source, the reference the page's encoder (A) is judged against.
  await page.click('#settings > summary');
  await page.selectOption('#format-select', 'h264');
  let since = await goLive(KEYS.recorder, 'A0 MediaRecorder');
  await sleep(Math.max(0, since + 7000 - Date.now()));
  await stop('A0 MediaRecorder');
  await page.selectOption('#format-select', 'auto');
  await page.click('#settings > summary');
  const flvA0 = await recording(KEYS.recorder);
  const syncA0 = flvA0 ? await flashesAndBeeps(flvA0) : { offsets: [] };

  // ---------------------------------------------------------- A: camera only
  const outBeforeA = server.out.length;
  since = await goLive(KEYS.plain, 'A camera only');
  check((await page.getAttribute('#status', 'data-composed')) === 'false', 'A camera only: the camera track is recorded as is');
  await sleep(Math.max(0, since + 7000 - Date.now()));
  await stop('A camera only');
  const flvA = await recording(KEYS.plain);
  const outA = server.out.slice(outBeforeA);
  check(/video output: passthrough/.test(outA) && !/video output: transcod/.test(outA),
    'A camera only: arrives as passthrough (wsrtmpd logs "video output: passthrough")',
    (outA.match(/video output: \S+/g) || []).join(', ') || 'no output line');
  const syncA = flvA ? await flashesAndBeeps(flvA) : { offsets: [] };
  check((await page.getAttribute('#format', 'data-format-id')) === 'webcodecs', 'A camera only: the page encodes (WebCodecs)',
    await page.getAttribute('#format', 'data-mime-type'));
  {
    const m0 = median(syncA0.offsets) * 1000;
    const mA = median(syncA.offsets) * 1000;
    figures.push(`A/V sync (beep - flash, median): MediaRecorder ${m0.toFixed(0)} ms (${syncA0.offsets.length} pairs), ` +
      `the page's encoder ${mA.toFixed(0)} ms (${syncA.offsets.length} pairs)`);
    const load = os.loadavg()[0];
    const overloaded = load > 2 * os.cpus().length;
    const ok = syncA0.offsets.length >= 3 && syncA.offsets.length >= 3 && Math.abs(mA - m0) <= 40 + FLASH_RESOLUTION_MS;
    if (!ok && overloaded) log(`NOTE: A/V sync not judged: load average ${load.toFixed(1)} on ${os.cpus().length} cores`);
    check(ok || overloaded, 'the page\'s encoder: A/V sync within 40 ms (+ one frame of measurement) of the browser\'s recorder',
      `MediaRecorder ${m0.toFixed(0)} ms, WebCodecs ${mA.toFixed(0)} ms, difference ${(mA - m0).toFixed(0)} ms ` +
      `(offsets ms A0 ${syncA0.offsets.map((o) => Math.round(o * 1000)).join(' ')}, A ${syncA.offsets.map((o) => Math.round(o * 1000)).join(' ')}; ` +
      `load average ${load.toFixed(1)})`);
  }

  // ---------------------------------------------------------- B: camera + title, composed
  await page.getByRole('textbox', { name: 'Name', exact: true }).fill(TITLE.name);
  await page.getByRole('textbox', { name: 'Subtitle', exact: true }).fill(TITLE.subtitle);
  await button('Show title').click();
  since = await goLive(KEYS.titled, 'B camera + title');
  check((await page.getAttribute('#status', 'data-composed')) === 'true', 'B camera + title: the composed picture is recorded');
  await sleep(Math.max(0, since + 7000 - Date.now()));
  await stop('B camera + title');
  const flvB = await recording(KEYS.titled);
  const syncB = flvB ? await flashesAndBeeps(flvB) : { offsets: [] };
  {
    const mA = median(syncA.offsets) * 1000;
    const mB = median(syncB.offsets) * 1000;
    figures.push(`A/V sync (beep - flash, median): camera only ${mA.toFixed(0)} ms (${syncA.offsets.length} pairs), ` +
      `composed ${mB.toFixed(0)} ms (${syncB.offsets.length} pairs)`);
    // The page draws on its main thread: on a machine with more runnable work than cores
    // (other builds) the picture is drawn late by tens of ms at random, the sound is not. Then
    // the figure is printed and not judged.
    const load = os.loadavg()[0];
    const overloaded = load > 2 * os.cpus().length;
    const ok = syncA.offsets.length >= 3 && syncB.offsets.length >= 3 &&
      Math.abs(mB - mA) <= 40 + FLASH_RESOLUTION_MS;
    if (!ok && overloaded) log(`NOTE: A/V sync not judged: load average ${load.toFixed(1)} on ${os.cpus().length} cores`);
    check(ok || overloaded, 'composed A/V sync within 40 ms (+ one frame of measurement) of the camera-only path',
      `camera only ${mA.toFixed(0)} ms, composed ${mB.toFixed(0)} ms, difference ${(mB - mA).toFixed(0)} ms ` +
      `(flashes/beeps A ${syncA.flashes}/${syncA.beeps}, B ${syncB.flashes}/${syncB.beeps}; offsets ms A ` +
      `${syncA.offsets.map((o) => Math.round(o * 1000)).join(' ')}, B ${syncB.offsets.map((o) => Math.round(o * 1000)).join(' ')}; ` +
      `load average ${load.toFixed(1)})`);
  }

  // ---------------------------------------------------------- draw time (not live)
  await button('Share screen').click();
  await page.waitForFunction(() => window.wsrtmpStudio.sharing && window.wsrtmpStudio.state.scene === 'pip', null, { timeout: 10_000 });
  const d720 = await drawP95('Screen + camera + title, preview only, 720p');
  await page.click('#settings > summary');
  await page.selectOption('#resolution-select', '1080p');
  await button('Share screen').click(); // the share follows the picture size: share again
  await button('Share screen').click();
  await page.waitForFunction(() => window.wsrtmpStudio.sharing, null, { timeout: 10_000 });
  await button('Screen + camera').click();
  await drawP95('Screen + camera + title, preview only, 1080p');
  await page.selectOption('#resolution-select', '720p');
  await button('Share screen').click();
  await button('Share screen').click();
  await page.waitForFunction(() => window.wsrtmpStudio.sharing, null, { timeout: 10_000 });
  await button('Screen + camera').click();
  log(`draw at 720p: p95 ${d720.p95.toFixed(1)} ms`);

  // ---------------------------------------------------------- C: the studio, live
  const statesBeforeC = (await statesOf(page)).length;
  since = await goLive(KEYS.studio, 'C studio');
  const at = {};
  // Each scene stays 2.5 s from when its choice was made, however long the action took.
  await sleep(Math.max(0, since + 3000 - Date.now()));
  await page.focus('#golive');
  await page.keyboard.press('2');             // Screen
  await sleep(2500);
  await button('Be right back').click();
  await sleep(2500);
  await page.focus('#golive');
  await page.keyboard.press('1');             // Camera
  await sleep(2500);
  await page.keyboard.press('3');             // Screen + camera
  await sleep(1000);
  const dLive = await drawP95('Screen + camera + title, live (draw + VideoFrame), 720p');
  // Another tab in front for 10 s, and the page throttled as a hidden tab (see __setHidden).
  const cdp = await browser.newBrowserCDPSession();
  const { targetInfos } = await cdp.send('Target.getTargets');
  const me = targetInfos.find((info) => info.type === 'page' && info.url.startsWith(BASE));
  const other = await cdp.send('Target.createTarget', {
    url: 'about:blank', newWindow: false, background: false, browserContextId: me.browserContextId,
  });
  await cdp.send('Target.activateTarget', { targetId: other.targetId });
  at.fgStart = Number(await page.evaluate(() => window.wsrtmpStudio.sceneLog.at(-1).at)) + 500;
  const before = await page.evaluate(() => { window.__setHidden(true); return { raf: window.__rafCount, frames: window.wsrtmpStudio.frames }; });
  at.bgStart = Date.now();
  // Throttling is judged once it has taken effect: on a loaded machine the switch to the
  // background took over a second (16 callbacks in 10 s with three browsers on two cores).
  // At most 10 in the last 8 s: the rate the old bound allowed (12 in 10 s).
  await sleep(2_000);
  const rafSettled = await page.evaluate(() => window.__rafCount);
  await sleep(8_000);
  at.bgEnd = Date.now();
  const inBgPage = await page.evaluate(() => { window.__setHidden(false); return { raf: window.__rafCount, frames: window.wsrtmpStudio.frames }; });
  await cdp.send('Target.activateTarget', { targetId: me.targetId });
  await cdp.send('Target.closeTarget', { targetId: other.targetId });
  const rafInBg = inBgPage.raf - rafSettled;
  const framesDrawn = inBgPage.frames - before.frames;
  check(rafInBg <= 10, 'C studio: the page was throttled as a background tab',
    `${rafInBg} requestAnimationFrame callbacks in the last 8 s of 10 (${inBgPage.raf - before.raf} in all 10 s)`);
  log(`C studio: the page drew ${framesDrawn} frames in the 10 s in the background`);
  // The share ended from outside the page (as the browser's "Stop sharing" bar does).
  await sleep(1000);
  await page.evaluate(() => {
    const t = window.wsrtmpStudio.screenStream.getVideoTracks()[0];
    t.stop();
    t.dispatchEvent(new Event('ended'));
  });
  at.shareEnded = Date.now();
  await sleep(3000);
  const sceneAfter = await page.getAttribute('#status', 'data-scene');
  check(sceneAfter === 'camera' && (await state()) === 'live', 'C studio: ending the share falls back to Camera, still live',
    `scene ${sceneAfter}, state ${await state()}`);
  const sceneLog = await page.evaluate(() => window.wsrtmpStudio.sceneLog);
  await stop('C studio');
  const states = (await statesOf(page)).slice(statesBeforeC);
  const flvC = await recording(KEYS.studio);
  if (!check(!!flvC, 'C studio: nginx recorded the broadcast')) throw new Error('no recording');
  const nginxLog = nginx.errorLog() || '';
  const publishes = (nginxLog.match(new RegExp(`publish: name='${KEYS.studio}'`, 'g')) || []).length;
  const pubs = (nginxLog.match(new RegExp(`name='?${KEYS.studio}`, 'g')) || []).length;
  log(`C studio: nginx log lines naming the key: ${pubs} (publish lines ${publishes})`);
  check(states.filter((s) => s === 'live').length === 1 && states.filter((s) => s === 'connecting').length === 1,
    'C studio: one connection for the whole broadcast', states.join(' → '));

  const fr = await frames(flvC);
  const labels = fr.map((f) => ({ t: f.t, scene: classify(f.px) }));
  fs.writeFileSync(path.join(ARTIFACTS, 'studio-scenes.txt'), labels.map((l) => `${l.t.toFixed(3)} ${l.scene}`).join('\n'));
  // Scene changes as chosen (recorder time) and as seen in the recording.
  const chosen = sceneLog.filter((s) => s.at > since).map((s) => ({ scene: s.scene, t: (s.at - since) / 1000 }));
  log(`C studio: scenes chosen at ${chosen.map((c) => `${c.scene} ${c.t.toFixed(2)} s`).join(', ')}`);
  let from = 0;
  const lateness = [];
  for (const c of chosen) {
    // The first frame from (chosen - 0.5 s) on that shows the scene, and stays on it for 5 frames.
    let k = labels.findIndex((l, i) => l.t >= c.t - 0.5 && i >= from &&
      labels.slice(i, i + 5).every((m) => m.scene === c.scene));
    const seenAt = k >= 0 ? labels[k].t : NaN;
    lateness.push(`${c.scene} ${(seenAt - c.t).toFixed(2)} s`);
    check(k >= 0 && Math.abs(seenAt - c.t) <= 0.5, `C studio: "${c.scene}" appears within 0.5 s of when it was chosen`,
      `chosen ${c.t.toFixed(2)} s, seen ${Number.isNaN(seenAt) ? 'never' : `${seenAt.toFixed(2)} s`}`);
    if (k >= 0) from = k;
  }
  // The first scene (Screen + camera, chosen before going live) from the start.
  const first = labels.slice(5, 60).filter((l) => l.scene === 'pip').length;
  check(first >= 50, 'C studio: starts with Screen + camera, the camera in the bottom-right corner', `${first}/55 frames`);
  // The picture-in-picture is where it should be: bottom right magenta, top left screen.
  const pipFrame = fr.find((f) => f.t > 2 && f.t < 3.5 && classify(f.px) === 'pip');
  if (pipFrame) {
    const tl = colourName(meanRgb(pipFrame.px, PIP_TL.x0, PIP_TL.y0, PIP_TL.x1, PIP_TL.y1));
    const br = colourName(meanRgb(pipFrame.px, PIP.x0, PIP.y0, PIP.x1, PIP.y1));
    check((br === 'magenta' || br === 'white') && tl === 'green', 'C studio: the picture-in-picture is in the bottom-right corner',
      `bottom right ${br}, top left ${tl}`);
  } else {
    check(false, 'C studio: a Screen + camera frame at 2-3.5 s');
  }
  // Frame rate in the background, and in the foreground just before (same scene): a starved
  // CPU (2 cores shared with other builds) lowers both, throttling only the first.
  const bg0 = (at.bgStart - since) / 1000;
  const bg1 = (at.bgEnd - since) / 1000;
  const fg0 = (at.fgStart - since) / 1000;
  const fps = fr.filter((f) => f.t >= bg0 && f.t < bg1).length / (bg1 - bg0);
  const fgFps = fr.filter((f) => f.t >= fg0 && f.t < bg0).length / (bg0 - fg0);
  figures.push(`frame rate received, ${FPS} fps chosen: ${fps.toFixed(1)} fps with the tab in the background for ${(bg1 - bg0).toFixed(1)} s ` +
    `(page drew ${framesDrawn}), ${fgFps.toFixed(1)} fps in the ${(bg0 - fg0).toFixed(1)} s before in the foreground`);
  check(fps >= 0.9 * Math.min(FPS, fgFps), 'C studio: >= 90 % of the frame rate with the tab in the background',
    `${fps.toFixed(1)} fps in the background, ${fgFps.toFixed(1)} fps in the foreground before, ${FPS} chosen`);
  if (fps < 0.9 * FPS) log(`NOTE: under 90 % of ${FPS} fps in the background, as in the foreground: the machine is loaded`);
  // Share ended: camera, no gap.
  const se = (at.shareEnded - since) / 1000;
  const after = labels.filter((l) => l.t > se + 0.5 && l.t < se + 2.5);
  const camAfter = after.filter((l) => l.scene === 'camera').length;
  let gap = 0;
  for (let i = 1; i < fr.length; i++) if (fr[i].t > se - 2 && fr[i].t < se + 2.5) gap = Math.max(gap, fr[i].t - fr[i - 1].t);
  // A break would be a reconnection (seconds, and a second publish); allow a loaded machine's hiccup.
  check(after.length > 0 && camAfter === after.length && gap < 0.5,
    'C studio: after the share ended: Camera, no gap in the picture',
    `${camAfter}/${after.length} camera frames, longest gap ${(gap * 1000).toFixed(0)} ms around it`);
  // OCR of the title.
  const still = path.join(ARTIFACTS, 'title.png');
  await run('ffmpeg', ['-v', 'error', '-y', '-ss', '2.5', '-i', flvC, '-frames:v', '1',
    // The title box (lower left), white text made black on white for tesseract.
    '-vf', "crop=iw*0.45:ih*0.2:iw*0.045:ih*0.75,scale=iw*2:-1,format=gray,negate,lutyuv=y='if(lt(val\\,110)\\,0\\,255)'", still]);
  const ocr = await run('tesseract', [still, '-', '--psm', '6']);
  const text = ocr.stdout.replace(/\s+/g, ' ').trim();
  check(text.includes(TITLE.name) && text.includes(TITLE.subtitle), 'C studio: the title reads back by OCR', `"${text}"`);
  check(dLive.p95 > 0 && d720.p95 > 0, 'draw times measured', `${d720.p95.toFixed(1)} / ${dLive.p95.toFixed(1)} ms`);

  // ---------------------------------------------------------- settings survive a reload
  await page.reload({ waitUntil: 'load' });
  const kept = await page.evaluate(() => ({
    name: document.getElementById('title-name').value,
    sub: document.getElementById('title-subtitle').value,
    shown: document.getElementById('title-btn').getAttribute('aria-pressed'),
    scene: window.wsrtmpStudio.state.scene,
  }));
  check(kept.name === TITLE.name && kept.sub === TITLE.subtitle && kept.shown === 'true' && kept.scene === 'camera',
    'settings survive a reload', JSON.stringify(kept));
  await page.screenshot({ path: path.join(ARTIFACTS, 'studio.png') });
  // Chromium 156 warns of a VideoFrame collected unclosed now and then while a camera or screen
  // track is replaced (the page closes every frame it reads and writes; frames still queued in
  // a MediaStreamTrackProcessor as its track ends are Chromium's): noted, not judged.
  const gcWarning = /A VideoFrame was garbage collected without being closed/;
  for (const e of consoleErrors.filter((x) => gcWarning.test(x))) log(`NOTE: ${e}`);
  const errors = consoleErrors.filter((x) => !gcWarning.test(x));
  check(errors.length === 0, 'no console errors', errors.join(' | ') || 'none');
}, () => page.screenshot({ path: path.join(ARTIFACTS, 'studio-failed.png') }));
await context.close();
check(server.exit === null, 'wsrtmpd still running at the end', server.exit ? JSON.stringify(server.exit) : 'yes');
await t.finish();
