#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// A WHIP client library nobody here wrote (npm whip-whep 1.2.0, medooze's WHIPClient) in
// headless Chromium with its fake camera and microphone, publishing to wsrtmpd's POST /whip
// from another origin (CORS), trickling its candidates (PATCH), then stop() (DELETE): nginx-rtmp
// gets one publish of H.264 (passed through) and AAC, as long as the page sent (+-1 s), keyframes
// at most 2.2 s apart, the browser's bitrate up to 1 Mbit/s or more within the 8 s (it hears
// our transport-cc feedback). The offer and the answer are kept in the artifacts
// (whip-offer.sdp, whip-answer.sdp), the answer's feedback printed under Figures.
//
// Environment: CHROMIUM, WSRTMPD, E2E_ARTIFACTS as for run.mjs. Exit status: 0 passed, 1 a check
// failed, 77 a prerequisite is missing.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { E2eTest, freePort, run, sleep, until } from './support.mjs';

const t = new E2eTest('whip-client', { timeoutMs: 120_000 });
const { check, log } = t;
const SECONDS = 8;
const KEY = 'whipclient';

const chromium = await t.preflight({ tools: ['ffprobe'] });
let library;
try {
  library = createRequire(import.meta.url).resolve('whip-whep/whip.js');
} catch {
  await t.skip(`whip-whep is not installed: npm ci --prefix ${t.paths.HERE}`);
}
const tmp = t.tempDir('wsrtmp-whip-');
const nginx = await t.startNginx(tmp);
const daemon = await t.startWsrtmpd(['--rtmp-url', nginx.rtmpUrl, '--continuity-timeout', '30']);

// The studio page on its own origin: the library as it is published, and a page using it.
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>whip</title></head><body>
<script type="module">
  import { WHIPClient } from '/whip.js';
  window.publish = async (url, token) => {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
    const pc = new RTCPeerConnection();
    for (const track of stream.getTracks()) {
      const { sender } = pc.addTransceiver(track, { direction: 'sendonly' });
      // The studio's choice, not the library's: a narrow link lowers the frame rate, not the
      // size (the output's 1280x720 is passed through only at that size).
      if (track.kind === 'video') {
        const parameters = sender.getParameters();
        parameters.degradationPreference = 'maintain-resolution';
        await sender.setParameters(parameters);
      }
    }
    const client = new WHIPClient();
    let answer = '';
    client.onAnswer = (sdp) => { answer = sdp; return sdp; };
    client.onOffer = (sdp) => { window.offer = sdp; return sdp; };
    await client.publish(pc, url, token);
    window.whip = { client, pc };
    return answer;
  };
  window.connected = () => window.whip && window.whip.pc.connectionState === 'connected';
  window.sentFrames = async () => {
    const stats = await window.whip.pc.getStats();
    let frames = 0;
    stats.forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') frames = s.framesEncoded; });
    return frames;
  };
  // What the browser's bandwidth estimate says (it hears our feedback).
  window.estimate = async () => {
    const stats = await window.whip.pc.getStats();
    const out = {};
    stats.forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated) out.availableKbps = Math.round((s.availableOutgoingBitrate || 0) / 1000);
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.targetKbps = Math.round((s.targetBitrate || 0) / 1000);
        out.size = s.frameWidth + 'x' + s.frameHeight;
      }
    });
    return out;
  };
  window.stop = () => window.whip.client.stop();
</script></body></html>`;
const server = http.createServer((req, res) => {
  if (req.url === '/whip.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(fs.readFileSync(library));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(PAGE);
});
const port = await freePort();
await new Promise((r) => server.listen(port, '127.0.0.1', r));
t.cleanups.push(() => new Promise((r) => server.close(r)));

await t.step('publish, stream, stop', async () => {
  const browser = await t.launchChromium(chromium);
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') log(`page: ${m.text()}`); });
  await page.goto(`http://127.0.0.1:${port}/`);
  const answer = await page.evaluate(([url, key]) => window.publish(url, key), [`${daemon.base}/whip`, KEY]);
  fs.writeFileSync(path.join(t.paths.ARTIFACTS, 'whip-answer.sdp'), answer);
  fs.writeFileSync(path.join(t.paths.ARTIFACTS, 'whip-offer.sdp'), await page.evaluate(() => window.offer));
  check(/a=candidate:/.test(answer), 'the answer carries the server\'s candidates');
  const feedback = [...new Set([...answer.matchAll(/a=rtcp-fb:\d+ (.+)/g)].map((m) => m[1].trim()))];
  const extmaps = [...answer.matchAll(/a=extmap:\d+ (\S+)/g)].map((m) => m[1]);
  t.figures.push(`answer rtcp-fb: ${feedback.join(', ')}; extmap: ${extmaps.join(', ') || 'none'}`);
  check(!!(await until(() => page.evaluate(() => window.connected()), 10_000)), 'the peer connection connects');
  const startedMs = Date.now();
  check(!!(await until(() => nginx.publishing(KEY), 10_000)), 'nginx gets the stream');
  await sleep(SECONDS * 1000 - (Date.now() - startedMs));
  const sentS = (Date.now() - startedMs) / 1000;
  const estimate = await page.evaluate(() => window.estimate());
  t.figures.push(`browser after ${sentS.toFixed(0)} s: available ${estimate.availableKbps} kbit/s, video target ${estimate.targetKbps} kbit/s, ${estimate.size}`);
  // Our transport-cc feedback reaches its estimate: on loopback it climbs to the encoder's
  // ceiling (without the answer's extmap it stayed near 200 kbit/s).
  check(estimate.targetKbps >= 1000, 'the browser\'s bitrate climbs (transport-cc feedback)', `${estimate.targetKbps} kbit/s`);
  await page.evaluate(() => window.stop());
  check(!!(await until(async () => !(await nginx.publishing(KEY)), 10_000)), 'DELETE ends the publish');
  check(/DELETE: the sender ended the stream/.test(daemon.out), 'the daemon took the DELETE as Stop');
  check(!/slate/.test(daemon.out), 'no slate after DELETE');
  check(nginx.countPublishes(KEY) === 1, 'one publish', `${nginx.countPublishes(KEY)}`);
  check(/video output: passthrough/.test(daemon.out), 'H.264 passed through');

  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:format=duration',
    '-of', 'json', nginx.flv(KEY)]);
  const info = JSON.parse(probe.stdout || '{}');
  const codecs = (info.streams || []).map((s) => `${s.codec_type}:${s.codec_name}`).sort().join(' ');
  check(codecs === 'audio:aac video:h264', 'H.264 and AAC at nginx', codecs);
  const duration = Number(info.format?.duration);
  check(Math.abs(duration - sentS) <= 1, 'duration as sent (+-1 s)', `${duration.toFixed(2)} s at nginx, ${sentS.toFixed(2)} s sent`);
  t.figures.push(`duration at nginx ${duration.toFixed(2)} s for ${sentS.toFixed(2)} s connected`);
  const frames = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-skip_frame', 'nokey',
    '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', nginx.flv(KEY)]);
  const keyframes = frames.stdout.split('\n').map(parseFloat).filter(Number.isFinite);
  const gaps = keyframes.slice(1).map((k, i) => k - keyframes[i]);
  const worst = Math.max(0, ...gaps);
  check(keyframes.length > 1 && worst <= 2.21, 'keyframes at most 2.2 s apart', `${keyframes.length} keyframes, widest gap ${worst.toFixed(3)} s`);
  t.figures.push(`keyframe gaps ${gaps.map((g) => g.toFixed(2)).join(' ')} s`);
});
await t.finish();
