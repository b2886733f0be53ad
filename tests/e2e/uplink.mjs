#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// End-to-end test of the page's uplink control (web/js/uplink.js): headless Chromium → a TCP
// proxy this test controls (tcpproxy.mjs) → wsrtmpd → nginx-rtmp, the stream read back from
// nginx live with ffmpeg while it runs.
//
// The issue: "Uplink narrowed to 1 Mbit/s for 45 s at the default quality (2.5 Mbps), then open
// again: never more than 2 s behind real time at nginx; back within 1 s of real time 25 s after
// the link opens; one publish; the bitrate down within 5 s of the narrowing and back to the
// chosen quality within 30 s of the opening; no slate."
//
// Chromium's own fake camera compresses to ~600 kbit/s at a 2.5 Mbit/s target, which a 1 Mbit/s
// link would not even notice: the camera here is a 1280x720 30 fps Y4M with fine detail and motion
// (ffmpeg's mandelbrot zooming, 2 s looped, in the test's temporary directory: x264 needs ~6 Mbit/s
// for it at crf 23), fed with --use-file-for-fake-video-capture. The test checks that the page
// really sends more than the narrowed rate before the narrowing (else it would prove nothing).
//
// Schedule: the link open BEFORE_S, narrowed NARROW_S, open again OPEN_S; then Stop. CI's default
// is 10 / 20 / 30 s; the issue's is E2E_UPLINK_NARROW_S=45 (OPEN_S stays 30: "25 s after").
//
// "Behind real time at nginx": ffmpeg plays rtmp://…/live/<key> from nginx (-c copy, -f null,
// -progress), and for each of its reports d = wall clock − media time; behind = d − d0, where
// d0 is the smallest d while the link was first open (the pipeline's own steady delay).
//
// Environment: as run.mjs (WSRTMP_SOURCE_ROOT, WSRTMP_BUILD_ROOT, WSRTMPD, GST_PLUGIN_PATH,
// CHROMIUM, E2E_ARTIFACTS), and
//   E2E_UPLINK_BEFORE_S   open before the narrowing (default 10)
//   E2E_UPLINK_NARROW_S   narrowed (default 20; the issue's: 45)
//   E2E_UPLINK_OPEN_S     open again before Stop (default 30, at least 26 for the 25 s check)
//   E2E_UPLINK_KBPS       the narrowed link's rate in kbit/s (default 1000)
//   E2E_UPLINK_CAMERA     'file' (default: the detailed Y4M) or 'fake' (Chromium's own picture)
//   E2E_UPLINK_FORMAT     e.g. h264: the page's Format (default: Automatic, the page's encoder)
// Writes uplink-trace.csv (every 0.5 s: the page's target and backlog, the proxy's rate, behind
// at nginx) to the artifacts. Exit status: 0 passed, 1 a check failed, 77 skipped.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { E2eTest, cameraOn, run, sleep, stateOf, statesOf, until, waitState } from './support.mjs';
import { startProxy } from './tcpproxy.mjs';

const num = (name, dflt) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const BEFORE_S = num('E2E_UPLINK_BEFORE_S', 10);
const NARROW_S = num('E2E_UPLINK_NARROW_S', 20);
const OPEN_S = num('E2E_UPLINK_OPEN_S', 30);
const LINK_KBPS = num('E2E_UPLINK_KBPS', 1000);
const CAMERA = process.env.E2E_UPLINK_CAMERA === 'fake' ? 'fake' : 'file';
// By hand: E2E_UPLINK_FORMAT=h264 tries the MediaRecorder fallback (restarted lower on a fresh
// connection; its figures are coarser than the issue's, which are for the page's encoder).
const FORMAT = process.env.E2E_UPLINK_FORMAT || '';
// The issue's figures.
const MAX_BEHIND_S = 2;
const BEHIND_AFTER_S = 1;
const BEHIND_AT_S = 25;       // … this long after the link opens
const DOWN_WITHIN_S = 5;
const BACK_WITHIN_S = 30;
const CONTINUITY_S = 30;      // the daemon keeps the broadcast (a stall would show the slate)

const t = new E2eTest('uplink', { timeoutMs: (BEFORE_S + NARROW_S + OPEN_S + 120) * 1000 });
const { check, log } = t;
const { WSRTMPD, ARTIFACTS } = t.paths;

const chromiumType = await t.preflight({ tools: ['ffmpeg'] });
const TMP = t.tempDir('wsrtmp-uplink-');
log(`schedule: open ${BEFORE_S} s, ${LINK_KBPS} kbit/s for ${NARROW_S} s, open ${OPEN_S} s; camera: ${CAMERA}`);

// ---------------------------------------------------------------- the camera's picture
const chromiumArgs = [];
if (CAMERA === 'file') {
  const y4m = path.join(TMP, 'camera.y4m');
  const g = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi',
    '-i', 'mandelbrot=s=1280x720:rate=30', '-frames:v', '60', '-pix_fmt', 'yuv420p', y4m],
  { timeout: 60_000 });
  if (!check(g.code === 0, 'a detailed 720p camera picture (Y4M) made with ffmpeg', g.code === 0 ? y4m : g.stderr.trim())) await t.finish(1);
  chromiumArgs.push(`--use-file-for-fake-video-capture=${y4m}`);
}

// ---------------------------------------------------------------- servers
const nginx = await t.startNginx(TMP);
const KEY = `e2e_uplink_${process.pid}`;
const keysFile = path.join(TMP, 'keys.txt');
fs.writeFileSync(keysFile, `${KEY}\n`);
const help = await run(WSRTMPD, ['--help'], { timeout: 15_000 });
const HAS_CONTINUITY = /--continuity-timeout/.test(help.stdout + help.stderr);
const server = await t.startWsrtmpd(['--rtmp-url', nginx.rtmpUrl, '--keys-file', keysFile,
  ...(HAS_CONTINUITY ? ['--continuity-timeout', String(CONTINUITY_S)] : [])]);
const proxy = await startProxy({ targetPort: server.port });
t.cleanups.push(() => proxy.close());
const BASE = `http://127.0.0.1:${proxy.port}`;

// ---------------------------------------------------------------- reading nginx back
/** ffmpeg playing the key from nginx: samples {at (ms, Date.now), media (s)} as it reports. */
function readBack(url) {
  const samples = [];
  const proc = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostats', '-rw_timeout', '15000000',
    '-analyzeduration', '1000000', '-i', url, '-map', '0', '-c', 'copy', '-f', 'null', '-', '-progress', 'pipe:1'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  const reader = { samples, proc, stderr: '', exit: null };
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    const m = /^out_time_us=(\d+)$/.exec(line);
    if (m) samples.push({ at: Date.now(), media: Number(m[1]) / 1e6 });
  });
  proc.stderr.on('data', (d) => { reader.stderr += d; });
  proc.on('exit', (code, signal) => { reader.exit = { code, signal, at: Date.now() }; });
  t.cleanups.push(() => { if (reader.exit === null) proc.kill('SIGKILL'); });
  return reader;
}

// ---------------------------------------------------------------- browser
const browser = await t.launchChromium(chromiumType, chromiumArgs);
const { context, page, consoleErrors } = await t.openPage(browser, null);

const trace = [];     // every 0.5 s: what the page and the proxy say
const sec = (ms, from) => (ms - from) / 1000;
const fmt = (v, d = 1) => (v == null || !Number.isFinite(v) ? '–' : v.toFixed(d));

async function scenario() {
  await page.goto(`${BASE}/${FORMAT ? `?format=${FORMAT}` : ''}`, { waitUntil: 'load' });
  const chosenBps = Number(await page.inputValue('#bitrate-select'));
  check(chosenBps === 2_500_000, 'the default quality is 2.5 Mbit/s', `${chosenBps} bit/s`);
  await page.fill('#key', KEY);
  if (!check(await cameraOn(page), 'camera preview on', await page.textContent('#camera-msg'))) return;
  await page.click('#golive');
  if (!check(await waitState(page, 'live', 25_000), 'page shows LIVE', `state ${await stateOf(page)}`)) return;
  const formatId = await page.getAttribute('#format', 'data-format-id');
  check(formatId === (FORMAT || 'webcodecs'), FORMAT ? `the page records with ${FORMAT}`
    : 'the page encodes by itself (WebCodecs: its bitrate can follow the uplink)', formatId);
  const liveAt = Date.now();
  const reader = readBack(`${nginx.rtmpUrl}/${KEY}`);

  // The sampler: the page's target bitrate and backlog, its warning, the proxy's rate.
  let phase = 'open';
  let stop = false;
  const sampler = (async () => {
    let prev = { at: Date.now(), bytes: proxy.upBytes };
    while (!stop) {
      const at = Date.now();
      const bytes = proxy.upBytes;
      const p = await page.evaluate(() => {
        const s = document.getElementById('status');
        const w = document.getElementById('warning');
        return {
          state: s.dataset.state,
          target: Number(s.dataset.targetKbps),
          behind: Number(s.dataset.behindS),
          upload: document.getElementById('stat-bitrate').textContent.trim(),
          warning: w.hidden ? '' : w.textContent.trim(),
        };
      }).catch(() => null);
      if (p) trace.push({ at, phase, upKbps: ((bytes - prev.bytes) * 8) / Math.max(1, at - prev.at), ...p });
      prev = { at, bytes };
      await sleep(Math.max(0, at + 500 - Date.now()));
    }
  })();

  await sleep(BEFORE_S * 1000);
  const narrowAt = Date.now();
  // What the page sent while the link was open (its last 5 s): the narrowing must bite.
  const before = trace.filter((s) => s.phase === 'open' && s.at > narrowAt - 5000);
  const sendingKbps = before.reduce((a, s) => a + s.upKbps, 0) / Math.max(1, before.length);
  const chosenKbps = Math.max(...trace.map((s) => s.target).filter(Number.isFinite));
  phase = 'narrow';
  proxy.throttle(LINK_KBPS * 1000);
  log(`narrowed the link to ${LINK_KBPS} kbit/s (the page sent ${sendingKbps.toFixed(0)} kbit/s, target ${chosenKbps} kbit/s)`);
  t.figures.push(`sending before the narrowing: ${sendingKbps.toFixed(0)} kbit/s (target ${chosenKbps} kbit/s with audio); link narrowed to ${LINK_KBPS} kbit/s`);
  check(sendingKbps >= LINK_KBPS * 1.5, 'the page sent well above the narrowed rate before the narrowing (it bites)',
    `${sendingKbps.toFixed(0)} kbit/s sent, link ${LINK_KBPS} kbit/s`);

  await sleep(NARROW_S * 1000);
  const openAt = Date.now();
  phase = 'reopened';
  proxy.unthrottle();
  log('opened the link again');
  await sleep(OPEN_S * 1000);
  stop = true;
  await sampler;
  const endAt = Date.now();

  // ---- Stop (only when still live: on an ended page the button would go live again)
  const stateAtEnd = await stateOf(page);
  if (check(stateAtEnd === 'live', 'the page is still LIVE at the end', `state ${stateAtEnd}`)) {
    await page.focus('#golive');
    await page.keyboard.press('Enter');
    const ended = await waitState(page, ['ended', 'error'], 40_000);
    check(ended && (await stateOf(page)) === 'ended', 'Stop ends cleanly', `state ${await stateOf(page)}`);
  }
  await until(() => reader.exit !== null, 15_000, 200);
  // nginx lists the stream while a player is on it: the reader must be gone before the
  // "finished publishing" check below.
  if (reader.exit === null) reader.proc.kill('SIGTERM');
  await until(() => reader.exit !== null, 3000, 100);
  if (reader.exit === null) reader.proc.kill('SIGKILL');
  await until(() => reader.exit !== null, 3000, 100);

  // ---- behind real time at nginx
  // Only while the page was live (after an early end ffmpeg's last report means nothing).
  const liveUntil = Math.min(endAt, ...trace.filter((s) => s.state !== 'live').map((s) => s.at));
  const samples = reader.samples.filter((s) => s.at <= liveUntil);
  const d = (s) => (s.at / 1000) - s.media;
  const open0 = samples.filter((s) => s.at < narrowAt);
  const d0 = Math.min(...open0.map(d));
  const behind = (s) => d(s) - d0;
  const firstAt = samples[0]?.at;
  const stopped = reader.exit && reader.exit.at < endAt;
  check(open0.length >= 4 && !stopped && samples.some((s) => s.at >= endAt - 1000),
    'ffmpeg read the stream from nginx throughout',
    `${samples.length} reports, the first ${firstAt ? fmt(sec(firstAt, liveAt)) : '–'} s after LIVE, ` +
    `${open0.length} before the narrowing${stopped ? `; it stopped early: ${JSON.stringify(reader.exit)} ${reader.stderr.trim()}` : ''}`);
  const during = samples.filter((s) => s.at >= narrowAt && s.at < openAt);
  const whole = samples.filter((s) => s.at >= narrowAt && s.at <= endAt);
  const maxOf = (list) => list.reduce((m, s) => (behind(s) > m.v ? { v: behind(s), at: s.at } : m), { v: -Infinity, at: 0 });
  const maxNarrow = maxOf(during);
  const maxWhole = maxOf(whole);
  const at25 = samples.filter((s) => s.at <= openAt + BEHIND_AT_S * 1000).at(-1);
  const wsLog = server.out.split('\n').filter((l) => /video output|stalled|slate|ending|ended/.test(l));
  log(`wsrtmpd: ${wsLog.map((l) => l.replace(/^wsrtmpd-Message: /, '')).join(' | ')}`);
  const after25 = samples.filter((s) => s.at >= openAt + BEHIND_AT_S * 1000 && s.at <= endAt);
  const maxAfter25 = maxOf(after25);
  check(maxWhole.v <= MAX_BEHIND_S, `never more than ${MAX_BEHIND_S} s behind real time at nginx`,
    `at most ${fmt(maxWhole.v, 2)} s (${fmt(sec(maxWhole.at, narrowAt))} s after the narrowing); ` +
    `while narrowed at most ${fmt(maxNarrow.v, 2)} s (${fmt(sec(maxNarrow.at, narrowAt))} s in)`);
  if (OPEN_S >= BEHIND_AT_S + 1) {
    check(after25.length > 0 && maxAfter25.v <= BEHIND_AFTER_S,
      `within ${BEHIND_AFTER_S} s of real time ${BEHIND_AT_S} s after the link opens`,
      `${fmt(at25 && behind(at25), 2)} s at +${BEHIND_AT_S} s, at most ${fmt(maxAfter25.v, 2)} s from then to the end`);
  } else {
    t.notChecked(`within ${BEHIND_AFTER_S} s of real time ${BEHIND_AT_S} s after the link opens`, `open for ${OPEN_S} s only`);
  }
  t.figures.push(`behind real time at nginx: at most ${fmt(maxNarrow.v, 2)} s while narrowed (${NARROW_S} s), ` +
    `at most ${fmt(maxWhole.v, 2)} s from the narrowing to the end, ${fmt(at25 && behind(at25), 2)} s ${BEHIND_AT_S} s after opening, ` +
    `${fmt(behind(samples.at(-1) || { at: 0, media: 0 }), 2)} s at the end; the pipeline's own delay d0 ${fmt(d0 - (samples[0].at / 1000 - samples[0].media), 2)} s vs the first report`);

  // ---- the page's target bitrate
  const narrowed = trace.filter((s) => s.at >= narrowAt && s.at < openAt);
  const reopened = trace.filter((s) => s.at >= openAt);
  const firstLower = narrowed.find((s) => s.target < chosenKbps);
  const fits = narrowed.find((s) => s.target <= LINK_KBPS);
  check(!!fits && sec(fits.at, narrowAt) <= DOWN_WITHIN_S, `the bitrate down within ${DOWN_WITHIN_S} s of the narrowing (target ≤ the link's ${LINK_KBPS} kbit/s)`,
    `first lower ${firstLower ? `${fmt(sec(firstLower.at, narrowAt))} s (${firstLower.target} kbit/s)` : 'never'}, ` +
    `within the link ${fits ? `${fmt(sec(fits.at, narrowAt))} s (${fits.target} kbit/s)` : 'never'}; lowest ${Math.min(...narrowed.map((s) => s.target))} kbit/s`);
  const back = reopened.find((s) => s.target >= chosenKbps);
  check(!!back && sec(back.at, openAt) <= BACK_WITHIN_S, `back to the chosen quality within ${BACK_WITHIN_S} s of the opening`,
    back ? `${chosenKbps} kbit/s again ${fmt(sec(back.at, openAt))} s after` : `still ${reopened.at(-1)?.target} kbit/s ${fmt(sec(endAt, openAt))} s after`);
  t.figures.push(`target: first lower ${firstLower ? fmt(sec(firstLower.at, narrowAt)) : '–'} s after the narrowing, ` +
    `≤ ${LINK_KBPS} kbit/s after ${fits ? fmt(sec(fits.at, narrowAt)) : '–'} s, lowest ${Math.min(...narrowed.map((s) => s.target))} kbit/s; ` +
    `back to ${chosenKbps} kbit/s ${back ? fmt(sec(back.at, openAt)) : '–'} s after the opening`);
  t.figures.push(`page's data-behind-s: at most ${fmt(Math.max(...narrowed.map((s) => s.behind)), 2)} s while narrowed, ` +
    `at most ${fmt(Math.max(0, ...reopened.filter((s) => s.at >= openAt + 5000).map((s) => s.behind)), 2)} s from 5 s after the opening`);
  t.figures.push(`proxy's rate while narrowed: ${fmt(narrowed.slice(2).reduce((a, s) => a + s.upKbps, 0) / Math.max(1, narrowed.length - 2), 0)} kbit/s`);

  // ---- the page's words
  check(narrowed.some((s) => /upload is slow/i.test(s.warning)), 'the page says the upload is slow while narrowed',
    `"${narrowed.find((s) => s.warning)?.warning || ''}"`);
  check(reopened.some((s) => /keeps up again/i.test(s.warning)), 'the page says the upload keeps up again after the opening',
    `"${reopened.map((s) => s.warning).filter(Boolean).at(-1) || ''}"`);
  const states = await statesOf(page);
  check(!states.includes('lost') && !states.includes('error') && trace.every((s) => s.state === 'live'),
    'the page stayed LIVE throughout (no reconnect)', states.join(' → '));
  check(consoleErrors.length === 0, 'no console errors', consoleErrors.join(' | ') || 'none');

  // ---- the trace
  const rows = ['t_s,phase,state,target_kbps,page_behind_s,proxy_kbps,nginx_behind_s,upload,warning'];
  for (const s of trace) {
    const n = samples.filter((x) => x.at <= s.at).at(-1);
    rows.push([fmt(sec(s.at, narrowAt), 2), s.phase, s.state, s.target, s.behind, fmt(s.upKbps, 0),
      n ? fmt(behind(n), 2) : '', JSON.stringify(s.upload), JSON.stringify(s.warning.slice(0, 40))].join(','));
  }
  fs.writeFileSync(path.join(ARTIFACTS, 'uplink-trace.csv'), `${rows.join('\n')}\n`);
  log(`page's data-behind-s every 2 s from the narrowing (s): ${trace.filter((s, i) => s.at >= narrowAt && i % 4 === 0)
    .map((s) => `${fmt(sec(s.at, narrowAt), 0)}:${s.behind}`).join(' ')}`);
  log(`target kbit/s every 2 s from the narrowing: ${trace.filter((s, i) => s.at >= narrowAt && i % 4 === 0)
    .map((s) => s.target).join(' ')}`);
  log(`behind at nginx every 2 s from the narrowing: ${samples.filter((s, i) => s.at >= narrowAt && i % 4 === 0)
    .map((s) => fmt(behind(s), 2)).join(' ')}`);

  // ---- nginx and the daemon
  const left = await until(async () => !(await nginx.publishing(KEY)), 30_000, 300);
  check(!!left, 'wsrtmpd finished publishing after Stop');
  const pubs = nginx.countPublishes(KEY);
  check(pubs === 1, 'nginx saw one publish', `${pubs} publishes`);
  const slate = server.out.split('\n').filter((l) => /viewers see the slate|input stalled|input gone|of slate/i.test(l));
  if (HAS_CONTINUITY) check(slate.length === 0, 'no slate (the daemon never lost the input)', slate.join(' | ') || 'none in its log');
  else t.notChecked('no slate', 'this wsrtmpd has no --continuity-timeout (no slate possible)');
}

await t.step('scenario', scenario, () => page.screenshot({ path: path.join(ARTIFACTS, 'failure.png') }));
await context.close();
check(server.exit === null, 'wsrtmpd still running at the end', server.exit ? JSON.stringify(server.exit) : 'yes');
await t.finish();
