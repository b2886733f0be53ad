#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// Smoke test of the harness's browsers: headless Firefox ESR (WebDriver BiDi, t.launchFirefox)
// and Chromium (t.launchChromium), each opening a trivial page from a local HTTP server through
// t.openPage, with the fake camera and microphone and no prompt. Checks that the harness drives
// the browser (page API: goto, fill, focus, keyboard.press, click, getAttribute, textContent,
// isVisible, evaluate, waitForFunction, screenshot, console events) and that getUserMedia gives
// one video and one audio track; prints what the browser offers the page's encoders: WebCodecs
// (VideoEncoder H.264 1280x720 avc/realtime, AudioEncoder Opus and AAC), MediaStreamTrackProcessor,
// AudioWorkletNode, MediaRecorder's types, getDisplayMedia, and whether 30 canvas frames through
// VideoEncoder give chunks and an avcC decoderConfig.description.
//
//   node firefox_smoke.mjs [firefox|chromium|both]   (default both; or E2E_BROWSER)
//
// Environment: FIREFOX (default /usr/bin/firefox-esr), CHROMIUM (default /usr/bin/chromium),
// E2E_ARTIFACTS. Exit status: 0 passed, 1 a check failed, 77 a browser (or playwright-core) is
// missing.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { E2eTest, freePort } from './support.mjs';

const t = new E2eTest('firefox-smoke', { timeoutMs: 150_000 });
const { check, log } = t;
const asked = process.argv[2] || process.env.E2E_BROWSER || 'both';
const BROWSERS = asked === 'both' ? ['firefox', 'chromium'] : [asked];

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>smoke</title></head><body>
<form id="f"><input id="key" type="password"><button id="go" type="submit">Go</button></form>
<select id="sel"><option value="a">A</option><option value="b">B</option></select>
<p id="out" data-state="idle">idle</p>
<script>
  document.getElementById('f').addEventListener('submit', (e) => {
    e.preventDefault();
    const out = document.getElementById('out');
    out.dataset.state = 'submitted';
    out.textContent = 'key=' + document.getElementById('key').value;
    console.log('submitted');
  });
  document.getElementById('go').addEventListener('click', () => console.error('smoke: click seen'));
</script></body></html>`;

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(PAGE);
});
const port = await freePort();
await new Promise((r) => server.listen(port, '127.0.0.1', r));
t.cleanups.push(() => new Promise((r) => server.close(r)));
const PAGE_URL = `http://127.0.0.1:${port}/`;

/** Runs in the page: the media facts. */
async function probe() {
  const facts = {};
  const err = (e) => `${e && e.name ? e.name : 'Error'}: ${e && e.message ? e.message : e}`;
  facts.userAgent = navigator.userAgent;
  facts.secureContext = window.isSecureContext;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
    const v = stream.getVideoTracks();
    const a = stream.getAudioTracks();
    facts.gum = {
      video: v.length,
      audio: a.length,
      videoLabel: v[0]?.label,
      audioLabel: a[0]?.label,
      videoSettings: v[0] ? (({ width, height, frameRate }) => ({ width, height, frameRate }))(v[0].getSettings()) : null,
      audioSettings: a[0] ? (({ sampleRate, channelCount }) => ({ sampleRate, channelCount }))(a[0].getSettings()) : null,
    };
    stream.getTracks().forEach((tr) => tr.stop());
  } catch (e) {
    facts.gum = { error: err(e) };
  }
  try {
    const screen = await Promise.race([navigator.mediaDevices.getDisplayMedia({ video: true }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 3 s')), 3000))]);
    facts.displayMedia = { video: screen.getVideoTracks().length, label: screen.getVideoTracks()[0]?.label };
    screen.getTracks().forEach((tr) => tr.stop());
  } catch (e) {
    facts.displayMedia = { error: err(e) };
  }
  facts.typeofVideoEncoder = typeof VideoEncoder;
  facts.typeofAudioEncoder = typeof AudioEncoder;
  facts.typeofMediaStreamTrackProcessor = typeof MediaStreamTrackProcessor;
  facts.typeofAudioWorkletNode = typeof AudioWorkletNode;
  facts.typeofMediaRecorder = typeof MediaRecorder;
  const vcfg = { codec: 'avc1.42001f', width: 1280, height: 720, bitrate: 2_500_000, framerate: 30, avc: { format: 'avc' }, latencyMode: 'realtime' };
  try {
    facts.videoH264 = typeof VideoEncoder === 'undefined' ? 'no VideoEncoder' : (await VideoEncoder.isConfigSupported(vcfg)).supported;
  } catch (e) { facts.videoH264 = err(e); }
  try {
    facts.audioOpus = typeof AudioEncoder === 'undefined' ? 'no AudioEncoder'
      : (await AudioEncoder.isConfigSupported({ codec: 'opus', sampleRate: 48000, numberOfChannels: 2, bitrate: 128000 })).supported;
  } catch (e) { facts.audioOpus = err(e); }
  try {
    facts.audioAac = typeof AudioEncoder === 'undefined' ? 'no AudioEncoder'
      : (await AudioEncoder.isConfigSupported({ codec: 'mp4a.40.2', sampleRate: 48000, numberOfChannels: 2, bitrate: 128000 })).supported;
  } catch (e) { facts.audioAac = err(e); }
  facts.mediaRecorderTypes = {};
  if (typeof MediaRecorder !== 'undefined') {
    for (const type of ['video/x-matroska;codecs=avc1,opus', 'video/webm;codecs=h264,opus', 'video/webm;codecs=vp8,opus',
      'video/webm;codecs=vp9,opus', 'video/mp4;codecs=avc1,mp4a.40.2', 'video/mp4;codecs=avc1,opus', 'video/mp4']) {
      facts.mediaRecorderTypes[type] = MediaRecorder.isTypeSupported(type);
    }
  }
  // 30 frames from a canvas through VideoEncoder.
  if (typeof VideoEncoder !== 'undefined') {
    const enc = { chunks: 0, keyChunks: 0, bytes: 0, error: null, description: null, annexB: null, ms: 0 };
    const t0 = performance.now();
    try {
      const canvas = document.createElement('canvas');
      canvas.width = vcfg.width;
      canvas.height = vcfg.height;
      const ctx = canvas.getContext('2d');
      let firstData = null;
      const encoder = new VideoEncoder({
        output: (chunk, meta) => {
          enc.chunks++;
          if (chunk.type === 'key') enc.keyChunks++;
          enc.bytes += chunk.byteLength;
          if (!firstData) { firstData = new Uint8Array(chunk.byteLength); chunk.copyTo(firstData); }
          const d = meta?.decoderConfig?.description;
          if (d && !enc.description) {
            const b = new Uint8Array(d instanceof ArrayBuffer ? d : d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
            enc.description = {
              bytes: b.byteLength,
              head: Array.from(b.slice(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' '),
              avcC: b[0] === 1, // configurationVersion 1
              codec: meta.decoderConfig.codec,
            };
          }
        },
        error: (e) => { enc.error = err(e); },
      });
      encoder.configure(vcfg);
      for (let i = 0; i < 30; i++) {
        ctx.fillStyle = `hsl(${i * 12}, 80%, 50%)`;
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.fillStyle = '#fff';
        ctx.font = '120px sans-serif';
        ctx.fillText(`frame ${i}`, 100 + i * 10, 360);
        const frame = new VideoFrame(canvas, { timestamp: i * 33_333, duration: 33_333 });
        encoder.encode(frame, { keyFrame: i === 0 });
        frame.close();
      }
      await encoder.flush();
      encoder.close();
      // avc format: chunks are length-prefixed NAL units, never Annex B start codes.
      if (firstData) enc.annexB = firstData[0] === 0 && firstData[1] === 0 && (firstData[2] === 1 || (firstData[2] === 0 && firstData[3] === 1));
    } catch (e) {
      enc.error = enc.error || err(e);
    }
    enc.ms = Math.round(performance.now() - t0);
    facts.encode30 = enc;
  }
  return facts;
}

async function smoke(name, browserType) {
  const started = Date.now();
  log(`--- ${name}`);
  const tLaunch = Date.now();
  const browser = await t.launchBrowser(browserType);
  const launchMs = Date.now() - tLaunch;
  const tOpen = Date.now();
  const { page, context, consoleErrors } = await t.openPage(browser, PAGE_URL);
  const openMs = Date.now() - tOpen;
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  try {
    check(await page.title() === 'smoke', `${name}: page loaded through openPage`);
    check(Array.isArray(await page.evaluate(() => window.__states)), `${name}: openPage's init script ran`);
    await page.fill('#key', 'secret');
    await page.focus('#key');
    await page.keyboard.press('Enter');
    const submitted = await page.waitForFunction(() => document.getElementById('out').dataset.state === 'submitted',
      null, { timeout: 5000, polling: 100 }).then(() => true, () => false);
    check(submitted && (await page.textContent('#out')) === 'key=secret' && (await page.getAttribute('#out', 'data-state')) === 'submitted',
      `${name}: fill, focus, keyboard.press(Enter), waitForFunction, textContent, getAttribute`);
    check(await page.isVisible('#go'), `${name}: isVisible`);
    await page.click('#go');
    await page.waitForFunction(() => true);
    const sawError = await (async () => { for (let i = 0; i < 20 && !consoleErrors.length; i++) await new Promise((r) => setTimeout(r, 100)); return consoleErrors.some((e) => e.includes('smoke: click seen')); })();
    check(sawError && logs.some((l) => l === 'log: submitted'), `${name}: click and console events (log and error)`, [...logs, ...consoleErrors].join(' | '));
    const shot = path.join(t.paths.ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: shot });
    check(fs.statSync(shot).size > 0, `${name}: screenshot`, shot);

    // The rest of the page API the tests use, and the ingest WebSocket mock (routeWebSocket).
    await page.selectOption('#sel', 'b');
    await page.setViewportSize({ width: 1024, height: 700 });
    const gotWidth = await page.evaluate(() => window.innerWidth);
    check((await page.inputValue('#sel')) === 'b' && gotWidth === 1024 && (await page.getByRole('button', { name: 'Go' }).count()) === 1,
      `${name}: selectOption, inputValue, setViewportSize, getByRole`, `innerWidth=${gotWidth}`);
    await page.reload();
    check(!!(await page.waitForSelector('#sel', { timeout: 5000 }).catch(() => null)), `${name}: reload, waitForSelector`);
    {
      const tMock = Date.now();
      const mocked = await t.openPage(browser, PAGE_URL, {
        mock: (ws) => ws.onMessage((m) => ws.send(`echo:${m}`)),
      });
      const echo = await mocked.page.evaluate(() => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/ingest/smoke`);
        ws.onopen = () => ws.send('hello');
        ws.onmessage = (e) => resolve(String(e.data));
        ws.onerror = () => resolve('error');
        setTimeout(() => resolve('timeout'), 5000);
      }));
      check(echo === 'echo:hello', `${name}: openPage's mock answers the ingest WebSocket (routeWebSocket)`, `${echo}, ${Date.now() - tMock} ms`);
      await mocked.context.close().catch(() => {});
    }

    const tProbe = Date.now();
    const f = await page.evaluate(probe);
    const probeMs = Date.now() - tProbe;
    check(f.gum && f.gum.video === 1 && f.gum.audio === 1, `${name}: getUserMedia gives one video and one audio track, no prompt`,
      JSON.stringify(f.gum));
    const e = f.encode30;
    const facts = [
      `${name}: ${browser.version()} — ${f.userAgent}`,
      `${name}: getUserMedia ${JSON.stringify(f.gum)}`,
      `${name}: getDisplayMedia (from evaluate) ${JSON.stringify(f.displayMedia)}`,
      `${name}: typeof VideoEncoder=${f.typeofVideoEncoder}, AudioEncoder=${f.typeofAudioEncoder}, MediaStreamTrackProcessor=${f.typeofMediaStreamTrackProcessor}, AudioWorkletNode=${f.typeofAudioWorkletNode}, MediaRecorder=${f.typeofMediaRecorder}`,
      `${name}: VideoEncoder.isConfigSupported(avc1.42001f 1280x720 2.5 Mb/s 30 fps avc realtime).supported=${f.videoH264}`,
      `${name}: AudioEncoder.isConfigSupported(opus 48 kHz stereo 128 kb/s).supported=${f.audioOpus}; mp4a.40.2 (AAC-LC)=${f.audioAac}`,
      `${name}: 30 canvas frames through VideoEncoder: ${e ? (e.error ? `error ${e.error}; ` : '') +
        `${e.chunks} chunks (${e.keyChunks} key, ${e.bytes} bytes) in ${e.ms} ms, decoderConfig.description ` +
        (e.description ? `${e.description.bytes} bytes [${e.description.head}] avcC=${e.description.avcC} codec=${e.description.codec}` : 'none') +
        `, first chunk Annex B=${e.annexB}` : 'no VideoEncoder'}`,
      `${name}: MediaRecorder.isTypeSupported ${Object.entries(f.mediaRecorderTypes).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    ];
    for (const line of facts) { log(line); t.notes.push(line); }
    t.figures.push(`${name}: launch ${launchMs} ms, openPage (context+page+goto) ${openMs} ms, probe ${probeMs} ms, whole ${Date.now() - started} ms`);
  } finally {
    await context.close().catch(() => {});
    await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 10_000))]);
  }
}

// One browser asked for: missing, the test is skipped (77). Both: a missing one is not checked.
const types = {};
for (const name of BROWSERS) {
  if (!['firefox', 'chromium'].includes(name)) { check(false, `known browser ${name}`); continue; }
  const exe = name === 'firefox' ? t.paths.FIREFOX : t.paths.CHROMIUM;
  if (BROWSERS.length > 1 && !fs.existsSync(exe)) {
    t.notChecked(`${name}: the smoke test`, `${exe} not found: apt-get install ${name === 'firefox' ? 'firefox-esr' : 'chromium'}`);
    continue;
  }
  types[name] = await t.preflight({ nginx: false, wsrtmpd: false, browser: name });
}
for (const [name, browserType] of Object.entries(types)) await t.step(`${name} smoke`, () => smoke(name, browserType));
await t.finish();
