#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// Records a browser fixture for the bench (tests/data format: chunk-NNNNN.bin, one file = one
// WebSocket message, and meta.json with chunk_list[].t_ms, the time each was sent).
//
// Two ways:
//
// MediaRecorder (default), the way tests/data/chrome-h264-opus-kf2s-30s-250ms was recorded:
// headless browser, fake camera and microphone (1280x720 requested, 30 fps asked, Chromium's fake
// camera gives 20), MediaRecorder with a timeslice, every `dataavailable` Blob kept byte for byte.
//
//   node bench/record-fixture.mjs --timeslice 100 [--duration 30] [--keyframe-interval 2000]
//        [--mime 'video/x-matroska;codecs=avc1,opus'] [--bitrate 2500000] [--name NAME] [--out DIR]
//        [--camera-file FILE.y4m] [--browser chromium|firefox]
//
// --page: through the page itself (web/, served by wsrtmpd, publishing to a local nginx-rtmp):
// the page's Automatic format (WebCodecs in Chromium and Firefox: H.264 + Opus/AAC muxed into live
// Matroska, one message per picture with the sound muxed since), Go live, --duration s, Stop. Every binary message the
// page hands to WebSocket.send is kept byte for byte with its send time (ms since the socket
// opened), from the first connection. --format ID picks another of the page's formats
// (?format=ID) instead of Automatic.
//
//   node bench/record-fixture.mjs --page [--browser chromium|firefox] [--duration 20] [--name NAME] [--out DIR]
//
// --camera-file: Chromium's fake camera plays this Y4M file (looped) instead of its own pattern,
// which compresses to ~0.6 Mbit/s whatever bitrate is asked; a noisy file makes the recorder spend
// the bitrate as a real camera does (bench/README: "A real camera's bitrate").
//
// Default name: chrome-h264-opus-kf2s-<duration>s-<timeslice>ms (MediaRecorder), or
// <browser>-webcodecs-<codecs>-<duration>s (--page), written to tests/data/<name>.
// Needs /usr/bin/chromium (or CHROMIUM) or /usr/bin/firefox-esr (or FIREFOX), playwright-core
// (npm ci --prefix tests/e2e), and for --page the build (wsrtmpd, or WSRTMPD) and nginx with the
// RTMP module. Record on a quiet machine (or under nice -n -10): a loaded one delays the messages.
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const { values: o } = parseArgs({ options: {
  timeslice: { type: 'string', default: '250' },
  duration: { type: 'string' },
  'keyframe-interval': { type: 'string', default: '2000' },
  mime: { type: 'string', default: 'video/x-matroska;codecs=avc1,opus' },
  bitrate: { type: 'string', default: '2500000' },
  name: { type: 'string' },
  out: { type: 'string' },
  'camera-file': { type: 'string' },
  browser: { type: 'string', default: 'chromium' },
  page: { type: 'boolean', default: false },
  format: { type: 'string' },
} });
if (!['chromium', 'firefox'].includes(o.browser)) { console.error('--browser chromium|firefox'); process.exit(2); }
if (o['camera-file'] && o.browser !== 'chromium') { console.error('--camera-file: Chromium only'); process.exit(2); }
const viaPage = o.page || !!o.format;
const timeslice = Number(o.timeslice);
const durationS = o.duration ?? (viaPage ? '20' : '30');
const durationMs = Number(durationS) * 1000;
const kfi = Number(o['keyframe-interval']);

// The e2e harness (tests/e2e/support.mjs) launches the browsers (Chromium, or Firefox ESR over
// WebDriver BiDi), nginx-rtmp and wsrtmpd; its artifacts go to a temporary directory.
process.env.E2E_ARTIFACTS ||= join(os.tmpdir(), 'wsrtmp-record-fixture');
let support;
try {
  createRequire(join(root, 'tests/e2e/package.json')).resolve('playwright-core');
  support = await import(join(root, 'tests/e2e/support.mjs'));
} catch {
  console.error('playwright-core is missing: npm ci --prefix tests/e2e --no-audit --no-fund');
  process.exit(2);
}
const { E2eTest, cameraOn, waitState, stateOf, sleep } = support;
const t = new E2eTest('record-fixture', { timeoutMs: durationMs + 180_000 });
const browserType = await t.preflight({ browser: o.browser, nginx: viaPage, wsrtmpd: viaPage });
const cameraArgs = o['camera-file'] ? [`--use-file-for-fake-video-capture=${resolve(o['camera-file'])}`] : [];

const rec = viaPage ? await recordPage() : await recordMediaRecorder();
const version = rec.browser_version;
const short = o.browser === 'chromium' ? 'chrome' : 'firefox';
const codecPart = (rec.mimeType.match(/codecs=([^;]+)/)?.[1] ?? '').split(',')
  .map((c) => (/^avc1|^h264/i.test(c) ? 'h264' : /^mp4a/i.test(c) ? 'aac' : c.trim())).join('-');
const name = o.name ?? (viaPage ? `${short}-${o.format ?? 'webcodecs'}-${codecPart}-${durationS}s`
  : `chrome-h264-opus-kf${kfi / 1000}s-${durationS}s-${timeslice}ms`);
const outDir = resolve(o.out ?? join(root, 'tests/data', name));

if (existsSync(outDir)) for (const f of readdirSync(outDir)) if (/^chunk-\d+\.bin$|^meta\.json$/.test(f)) rmSync(join(outDir, f));
mkdirSync(outDir, { recursive: true });
const bufs = rec.chunks.map((c) => Buffer.from(c.data, 'base64'));
bufs.forEach((b, i) => writeFileSync(join(outDir, `chunk-${String(i).padStart(5, '0')}.bin`), b));
const ext = rec.mimeType.includes('webm') ? 'webm' : rec.mimeType.includes('mp4') ? 'mp4' : 'mkv';
const joined = join(outDir, `.joined.${ext}`);
writeFileSync(joined, Buffer.concat(bufs));
const ffprobe = (args) => execFileSync('ffprobe', ['-v', 'error', ...args, joined]).toString();
const codecs = ffprobe(['-show_entries', 'stream=codec_name', '-of', 'csv=p=0']).trim().split('\n').filter(Boolean).sort((a, b) => (a === 'opus' ? -1 : b === 'opus' ? 1 : 0));
const duration = ffprobe(['-show_entries', 'format=duration', '-of', 'csv=p=0']).trim();
const vpackets = ffprobe(['-select_streams', 'v', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0'])
  .trim().split('\n').map((l) => l.split(','));
const keyframes = vpackets.filter(([, f]) => f?.startsWith('K')).map(([t]) => Math.round(Number(t) * 1000));
const streams = JSON.parse(ffprobe(['-show_entries', 'stream=codec_name,profile,width,height,sample_rate,channels', '-of', 'json'])).streams;
rmSync(joined);

const meta = {
  mimeType: rec.mimeType, timeslice_ms: viaPage ? null : timeslice, chunks: bufs.length, bytes: bufs.reduce((a, b) => a + b.length, 0),
  ...(o.browser === 'chromium' ? { chromium_version: version } : {}), browser_version: version,
  width: rec.video_settings?.width, height: rec.video_settings?.height, browser: o.browser,
  concatenated_file: `${name}.${ext}`, empty_chunks: bufs.filter((b) => !b.length).length,
  ffprobe_codecs: codecs, ffprobe_streams: streams, ffprobe_format_duration: duration && duration !== 'N/A' ? Number(duration) : null,
  video_frames: vpackets.length, name, requested_duration_ms: durationMs,
  ...(viaPage ? {
    recorded_through: `the page (web/, wsrtmpd ${rec.wsrtmpd}), format ${rec.format_id}: one message per WebSocket.send; t_ms = ms since the socket opened`,
    page: rec.page,
  } : {
    requested_mimeType: o.mime, mimeType_after_start: rec.mimeType_after_start,
    videoBitsPerSecond: rec.recorder_options.videoBitsPerSecond,
    videoKeyFrameIntervalDuration: kfi, recorder_options: rec.recorder_options,
    recorder_videoBitsPerSecond: rec.recorder_videoBitsPerSecond, recorder_audioBitsPerSecond: rec.recorder_audioBitsPerSecond,
    constraints: rec.constraints,
  }),
  video_settings: rec.video_settings, video_settings_per_second: rec.video_settings_per_second,
  audio_settings: rec.audio_settings, user_agent: rec.user_agent, errors: rec.errors,
  chunk_list: rec.chunks.map(({ data, ...c }) => c), video_keyframes_ms: keyframes,
};
writeFileSync(join(outDir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
const gaps = meta.chunk_list.slice(1).map((c, i) => c.t_ms - meta.chunk_list[i].t_ms).sort((a, b) => a - b);
const span = meta.chunk_list.length ? meta.chunk_list.at(-1).t_ms - meta.chunk_list[0].t_ms : 0;
console.log(`${outDir}: ${meta.mimeType}, ${meta.chunks} messages over ${(span / 1000).toFixed(1)} s, ${meta.bytes} bytes,`
  + ` ${codecs.join('+')}, ${meta.video_frames} video frames, message spacing median ${gaps[gaps.length >> 1]} ms,`
  + ` keyframes at ${keyframes.slice(0, 4).join(', ')} … ms`);
if (rec.errors.length) console.log(`errors: ${rec.errors.join(' | ')}`);
await t.finish(0);

// ---------------------------------------------------------------------------- MediaRecorder
async function recordMediaRecorder() {
  // getUserMedia needs a secure context: a page on http://127.0.0.1 is one.
  const server = createServer((_, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>rec</title>'); });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  t.cleanups.push(() => new Promise((ok) => server.close(ok)));
  const browser = await t.launchBrowser(browserType, o.browser === 'chromium' ? cameraArgs : {});
  const { page } = await t.openPage(browser, `http://127.0.0.1:${server.address().port}/`);

  const constraints = { audio: true, video: { width: 1280, height: 720, frameRate: 30 } };
  const recorderOptions = { mimeType: o.mime, videoBitsPerSecond: Number(o.bitrate), videoKeyFrameIntervalDuration: kfi };
  const r = await page.evaluate(async ({ constraints, recorderOptions, timeslice, durationMs }) => {
    const errors = [];
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    const [video] = stream.getVideoTracks();
    const [audio] = stream.getAudioTracks();
    const recorder = new MediaRecorder(stream, recorderOptions);
    const chunks = [];
    const perSecond = [];
    const toB64 = async (blob) => {
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    };
    let t0 = 0;
    recorder.ondataavailable = (e) => {
      // arrival time is taken now; the bytes are read later (in order: the slot is reserved here)
      const c = { index: chunks.length, size: e.data.size, blob_type: e.data.type, timecode: e.timecode,
        t_ms: Math.round((performance.now() - t0) * 10) / 10 };
      c.data = toB64(e.data);
      chunks.push(c);
    };
    recorder.onerror = (e) => errors.push(String(e.error ?? e));
    const stopped = new Promise((ok) => { recorder.onstop = ok; });
    t0 = performance.now();
    recorder.start(timeslice);
    const mimeAfterStart = recorder.mimeType;
    const ticker = setInterval(() => { const s = video.getSettings(); perSecond.push([s.width, s.height, s.frameRate]); }, 1000);
    await new Promise((ok) => setTimeout(ok, durationMs));
    recorder.stop();
    await stopped;
    clearInterval(ticker);
    for (const c of chunks) c.data = await c.data;
    const out = { mimeType: recorder.mimeType, mimeType_after_start: mimeAfterStart,
      recorder_videoBitsPerSecond: recorder.videoBitsPerSecond, recorder_audioBitsPerSecond: recorder.audioBitsPerSecond,
      video_settings: video.getSettings(), video_settings_per_second: perSecond, audio_settings: audio?.getSettings() ?? null,
      user_agent: navigator.userAgent, errors, chunks };
    stream.getTracks().forEach((tr) => tr.stop());
    return out;
  }, { constraints, recorderOptions, timeslice, durationMs });
  return { ...r, constraints, recorder_options: recorderOptions, browser_version: browser.version() };
}

// ---------------------------------------------------------------------------- through the page
/** Runs in the page before its own scripts: every WebSocket's binary sends, copied, with their times. */
function captureSends() {
  const Native = window.WebSocket;
  const sockets = [];
  window.__fixtureSockets = sockets;
  class CapturingWebSocket extends Native {
    constructor(...args) {
      super(...args);
      const s = { url: String(args[0]), created: performance.now(), opened: null, sends: [] };
      sockets.push(s);
      this.__fixture = s;
      this.addEventListener('open', () => { s.opened = performance.now(); });
    }

    send(data) {
      const s = this.__fixture;
      if (typeof data !== 'string' && s && this.readyState === Native.OPEN) {
        const t = performance.now();
        // A copy now: the page may reuse the buffer once send() returned.
        let copy = data;
        if (ArrayBuffer.isView(data)) copy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
        else if (data instanceof ArrayBuffer) copy = new Uint8Array(data.slice(0));
        s.sends.push({ t, data: copy, buffered_before: this.bufferedAmount });
      }
      return super.send(data);
    }
  }
  window.WebSocket = CapturingWebSocket;
}

async function recordPage() {
  const tmp = t.tempDir('wsrtmp-record-');
  const nginx = await t.startNginx(tmp);
  const server = await t.startWsrtmpd(['--rtmp-url', nginx.rtmpUrl]);
  const browser = await t.launchBrowser(browserType, o.browser === 'chromium' ? cameraArgs : {});
  const url = `${server.base}/${o.format ? `?format=${encodeURIComponent(o.format)}` : ''}`;
  const { page, consoleErrors } = await t.openPage(browser, url, { init: captureSends });
  const formatId = await page.getAttribute('#format', 'data-format-id');
  t.log(`page format ${formatId} (${await page.getAttribute('#format', 'data-mime-type')})`);
  await page.fill('#key', `fixture_${process.pid}`);
  if (!t.check(await cameraOn(page), 'camera preview on')) await t.finish(1);
  await page.focus('#key');
  await page.keyboard.press('Enter');
  if (!t.check(await waitState(page, 'live', 30_000), 'page shows LIVE', `state ${await stateOf(page)}`)) await t.finish(1);
  const since = Number(await page.getAttribute('#status', 'data-recording-since')) || Date.now();
  await sleep(Math.max(0, since + durationMs / 2 - Date.now()));
  const output = (await page.textContent('#stat-output')).trim();
  t.log(`halfway: server output ${output}`);
  await sleep(Math.max(0, since + durationMs - Date.now()));
  const encoder = await page.evaluate(() => {
    const r = window.wsrtmpLive.session?.recorder;
    return r && 'framesIn' in r ? { framesIn: r.framesIn, framesSkipped: r.framesSkipped, keyframes: r.keyframes,
      codecs: r.codecs, width: r.width, height: r.height, fps: r.fps, videoBitsPerSecond: r.videoBitsPerSecond,
      audioBitsPerSecond: r.audioBitsPerSecond, avccRepaired: !!r.avccRepaired } : null;
  });
  t.log(`encoder before Stop: ${JSON.stringify(encoder)}`);
  await page.focus('#golive');
  await page.keyboard.press('Enter');
  t.check(await waitState(page, ['ended', 'error'], 40_000) && (await stateOf(page)) === 'ended', 'Stop ends cleanly', await stateOf(page));
  const info = await page.evaluate(async () => {
    const socks = window.__fixtureSockets.filter((s) => s.sends.length);
    return {
      sockets: window.__fixtureSockets.length,
      sockets_with_media: socks.length,
      messages: socks[0]?.sends.length ?? 0,
      mimeType: document.getElementById('format').dataset.mimeType,
      user_agent: navigator.userAgent,
    };
  });
  t.log(`page: ${JSON.stringify(info)}`);
  if (info.sockets_with_media !== 1) t.notes.push(`${info.sockets_with_media} connections carried media: only the first is kept`);
  // The messages, a batch at a time (a few MB in one answer is slow over BiDi).
  const chunks = [];
  for (let from = 0; from < info.messages; from += 200) {
    chunks.push(...await page.evaluate(async (from) => {
      const s = window.__fixtureSockets.find((x) => x.sends.length);
      const t0 = s.opened ?? s.created;
      const out = [];
      for (let i = from; i < Math.min(from + 200, s.sends.length); i++) {
        const m = s.sends[i];
        const bytes = m.data instanceof Blob ? new Uint8Array(await m.data.arrayBuffer()) : m.data;
        let str = '';
        for (let k = 0; k < bytes.length; k += 0x8000) str += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
        out.push({ index: i, size: bytes.length, t_ms: Math.round((m.t - t0) * 10) / 10,
          buffered_before: m.buffered_before, data: btoa(str) });
      }
      return out;
    }, from));
  }
  const errors = [...consoleErrors];
  const settings = await page.evaluate(() => {
    const v = document.querySelector('video');
    const tr = v?.srcObject?.getVideoTracks?.()[0];
    const a = v?.srcObject?.getAudioTracks?.()[0];
    return { video: tr ? tr.getSettings() : null, audio: a ? a.getSettings() : null };
  }).catch(() => ({ video: null, audio: null }));
  return {
    mimeType: info.mimeType, format_id: formatId, chunks, errors, user_agent: info.user_agent,
    video_settings: settings.video ?? (encoder ? { width: encoder.width, height: encoder.height } : null),
    video_settings_per_second: null, audio_settings: settings.audio,
    browser_version: browser.version(), wsrtmpd: t.paths.WSRTMPD,
    page: { format_id: formatId, server_output_halfway: output, connections: info.sockets, connections_with_media: info.sockets_with_media,
      encoder },
  };
}
