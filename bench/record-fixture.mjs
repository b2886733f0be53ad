#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// Records a browser fixture for the bench the way tests/data/chrome-h264-opus-kf2s-30s-250ms was
// recorded: headless Chromium, fake camera and microphone (1280x720 requested, 30 fps asked, the
// fake camera gives 20), MediaRecorder with a timeslice, every `dataavailable` Blob kept byte for
// byte as chunk-NNNNN.bin (one file = one WebSocket message), meta.json with the same fields.
//
//   node bench/record-fixture.mjs --timeslice 100 [--duration 30] [--keyframe-interval 2000]
//        [--mime 'video/x-matroska;codecs=avc1,opus'] [--bitrate 2500000] [--name NAME] [--out DIR]
//        [--camera-file FILE.y4m]
//
// --camera-file: the fake camera plays this Y4M file (looped) instead of its own pattern, which
// compresses to ~0.6 Mbit/s whatever bitrate is asked; a noisy file makes the recorder spend the
// bitrate as a real camera does (bench/README: "A real camera's bitrate").
//
// Default name: chrome-h264-opus-kf2s-<duration>s-<timeslice>ms, written to tests/data/<name>.
// Needs /usr/bin/chromium (or CHROMIUM) and playwright-core (npm ci --prefix tests/e2e).
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const { values: o } = parseArgs({ options: {
  timeslice: { type: 'string', default: '250' },
  duration: { type: 'string', default: '30' },
  'keyframe-interval': { type: 'string', default: '2000' },
  mime: { type: 'string', default: 'video/x-matroska;codecs=avc1,opus' },
  bitrate: { type: 'string', default: '2500000' },
  name: { type: 'string' },
  out: { type: 'string' },
  'camera-file': { type: 'string' },
} });
const timeslice = Number(o.timeslice);
const durationMs = Number(o.duration) * 1000;
const kfi = Number(o['keyframe-interval']);
const name = o.name ?? `chrome-h264-opus-kf${kfi / 1000}s-${o.duration}s-${timeslice}ms`;
const outDir = resolve(o.out ?? join(root, 'tests/data', name));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

let chromium;
try {
  ({ chromium } = createRequire(join(root, 'tests/e2e/package.json'))('playwright-core'));
} catch {
  console.error('playwright-core is missing: npm ci --prefix tests/e2e --no-audit --no-fund');
  process.exit(2);
}

// getUserMedia needs a secure context: a page on http://127.0.0.1 is one.
const server = createServer((_, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>rec</title>'); });
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const browser = await chromium.launch({
  executablePath: chromiumPath, headless: true,
  args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--no-sandbox',
    '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run',
    ...(o['camera-file'] ? [`--use-file-for-fake-video-capture=${resolve(o['camera-file'])}`] : [])],
});
const page = await (await browser.newContext()).newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/`);

const constraints = { audio: true, video: { width: 1280, height: 720, frameRate: 30 } };
const recorderOptions = { mimeType: o.mime, videoBitsPerSecond: Number(o.bitrate), videoKeyFrameIntervalDuration: kfi };
const rec = await page.evaluate(async ({ constraints, recorderOptions, timeslice, durationMs }) => {
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
  stream.getTracks().forEach((t) => t.stop());
  return out;
}, { constraints, recorderOptions, timeslice, durationMs });
const version = browser.version();
await browser.close();
server.close();

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
const keyframes = ffprobe(['-select_streams', 'v', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0'])
  .trim().split('\n').map((l) => l.split(',')).filter(([, f]) => f?.startsWith('K')).map(([t]) => Math.round(Number(t) * 1000));
rmSync(joined);

const meta = {
  mimeType: rec.mimeType, timeslice_ms: timeslice, chunks: bufs.length, bytes: bufs.reduce((a, b) => a + b.length, 0),
  chromium_version: version, width: rec.video_settings.width, height: rec.video_settings.height, browser: 'chromium',
  concatenated_file: `${name}.${ext}`, empty_chunks: bufs.filter((b) => !b.length).length,
  ffprobe_codecs: codecs, ffprobe_format_duration: duration && duration !== 'N/A' ? Number(duration) : null,
  name, requested_mimeType: o.mime, mimeType_after_start: rec.mimeType_after_start,
  requested_duration_ms: durationMs, videoBitsPerSecond: recorderOptions.videoBitsPerSecond,
  videoKeyFrameIntervalDuration: kfi, recorder_options: recorderOptions,
  recorder_videoBitsPerSecond: rec.recorder_videoBitsPerSecond, recorder_audioBitsPerSecond: rec.recorder_audioBitsPerSecond,
  constraints, video_settings: rec.video_settings, video_settings_per_second: rec.video_settings_per_second,
  audio_settings: rec.audio_settings, user_agent: rec.user_agent, errors: rec.errors,
  chunk_list: rec.chunks.map(({ data, ...c }) => c), video_keyframes_ms: keyframes,
};
writeFileSync(join(outDir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
const gaps = meta.chunk_list.slice(1).map((c, i) => c.t_ms - meta.chunk_list[i].t_ms).sort((a, b) => a - b);
console.log(`${outDir}: ${meta.mimeType}, ${meta.chunks} messages, ${meta.bytes} bytes, ${codecs.join('+')},`
  + ` message spacing median ${gaps[gaps.length >> 1]} ms, keyframes at ${keyframes.slice(0, 4).join(', ')} … ms`);
