#!/usr/bin/env node
// End-to-end test: headless Chromium (fake camera + microphone) opens the web page
// served by wsrtmpd, goes live for 10 s, stops, and nginx-rtmp must have recorded
// one H.264 + AAC stream of 10 s ± 1 s. Runs once with the page's automatic format
// choice (must be H.264 in Matroska, passed through) and once forced to VP8 WebM
// (?format=vp8, transcoded). A key missing from --keys-file must show a readable
// error; a browser whose recorder produces nothing must be told so within seconds, and one
// that stops sending must hear the server's idle timeout as such, not as a bad key. The
// page's words for each error kind are also checked against a mocked server.
//
// Environment (all optional):
//   WSRTMP_SOURCE_ROOT  source tree (default: two levels above this file)
//   WSRTMP_BUILD_ROOT   build tree (default: $WSRTMP_SOURCE_ROOT/build)
//   WSRTMPD             server binary (default: $WSRTMP_BUILD_ROOT/service/wsrtmpd)
//   GST_PLUGIN_PATH     (default: $WSRTMP_BUILD_ROOT/plugin)
//   CHROMIUM            browser binary (default: /usr/bin/chromium)
//   E2E_ARTIFACTS       screenshots and logs (default: $WSRTMP_BUILD_ROOT/tests/e2e-artifacts,
//                       or tests/e2e/artifacts when WSRTMP_BUILD_ROOT is unset)
//   E2E_LIVE_SECONDS    how long to stay live (default 10)
//
// Exit status: 0 all passed, 1 a check failed, 77 skipped (a tool is missing).

import fs from 'node:fs';
import path from 'node:path';
import { E2eTest, cameraOn, run, sleep, stateOf, statesOf, until, waitState } from './support.mjs';

// E2E_BROWSER=firefox: Debian's Firefox ESR over WebDriver BiDi, the page's WebCodecs path and
// a refused key only (the rest is the page's own logic, the same in both browsers).
const BROWSER = process.env.E2E_BROWSER === 'firefox' ? 'firefox' : 'chromium';
const t = new E2eTest(BROWSER === 'firefox' ? 'firefox' : '', { timeoutMs: 270_000 });
const { check, log } = t;
const { SOURCE_ROOT, WSRTMPD, ARTIFACTS } = t.paths;
const LIVE_SECONDS = Number(process.env.E2E_LIVE_SECONDS || 10);

async function ffprobe(file) {
  const r = await run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]);
  if (r.code !== 0) return { error: (r.stderr || String(r.err)).trim() };
  try { return JSON.parse(r.stdout); } catch (err) { return { error: `bad ffprobe JSON: ${err.message}` }; }
}

const browserType = await t.preflight({ tools: ['ffprobe'], browser: BROWSER });
const TMP = t.tempDir('wsrtmp-e2e-');
log(`source ${SOURCE_ROOT}`);
log(`wsrtmpd ${WSRTMPD}`);
log(`artifacts ${ARTIFACTS}`);
const nginx = await t.startNginx(TMP);

const keysFile = path.join(TMP, 'keys.txt');
const KEYS = {
  h264: `e2e_h264_${process.pid}`,
  vp8: `e2e_vp8_${process.pid}`,
  silent: `e2e_silent_${process.pid}`,
  kicked: `e2e_kicked_${process.pid}`,
  stalled: `e2e_stalled_${process.pid}`,
};
fs.writeFileSync(keysFile, `# allowed stream keys for the e2e test\n${Object.values(KEYS).join('\n')}\n`);
// With the server's own recording too: the page lists it after Stop.
const server = await t.startWsrtmpd(['--rtmp-url', nginx.rtmpUrl, '--keys-file', keysFile,
  '--record-dir', path.join(TMP, 'rec')]);
const BASE = server.base;
const browser = await t.launchBrowser(browserType);

/** A fresh context + page that records state changes and console errors (and failed requests). */
const openPage = (url, opts = {}) => t.openPage(browser, url, { ...opts, requests: true });

// ---------------------------------------------------------------- live scenario
async function liveRun({ label, query, key, expectFormatId, expectMime, expectOutput, keyframesWithinS }) {
  log(`--- ${label}: ${BASE}/${query}`);
  const { page, context, consoleErrors } = await openPage(`${BASE}/${query}`);
  try {
    const fmtId = await page.getAttribute('#format', 'data-format-id');
    const mime = await page.getAttribute('#format', 'data-mime-type');
    check(fmtId === expectFormatId && mime === expectMime, `${label}: page chose the expected format before going live`,
      `format=${fmtId} mimeType=${mime}`);

    const keyType = await page.getAttribute('#key', 'type');
    check(keyType === 'password', `${label}: stream key field is hidden like a password`, `type=${keyType}`);
    await page.fill('#key', key);
    // Like a streamer: camera preview on first, then Go live.
    const camOn = await cameraOn(page);
    check(camOn, `${label}: camera preview on`, camOn ? (await page.textContent('#camera-select')).trim() : await page.textContent('#camera-msg'));
    // Enter in the key field submits the form (keyboard path; punctual for the 10 s window).
    await page.focus('#key');
    const clickedAt = Date.now();
    await page.keyboard.press('Enter');

    const live = await waitState(page, 'live', 20_000);
    if (!check(live, `${label}: page shows LIVE`, live
      ? `after ${((Date.now() - clickedAt) / 1000).toFixed(1)} s`
      : `state ${await stateOf(page)}; alert: ${await page.textContent('#alert')}`)) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${label}-not-live.png`) });
      return;
    }
    const recMime = await page.getAttribute('#format', 'data-mime-type');
    check(recMime === expectMime, `${label}: recorder reports the chosen mimeType`, recMime);

    // Stay live until LIVE_SECONDS after pressing Go live (the recorder starts then).
    await sleep(Math.max(0, clickedAt + LIVE_SECONDS * 500 - Date.now()));
    // Firefox stops the page for seconds while it takes a screenshot (no frames then): only
    // after the stream there.
    if (BROWSER !== 'firefox') {
      const shot = path.join(ARTIFACTS, `${label}-live.png`);
      await page.screenshot({ path: shot });
      log(`screenshot ${shot}`);
    }
    const enc = await page.evaluate(() => {
      const r = window.wsrtmpLive.session && window.wsrtmpLive.session.recorder;
      return r && 'framesIn' in r ? `messages ${r.chunks}, frames ${r.framesIn}, skipped ${r.framesSkipped}, keyframes out ${r.keyframes}, ` +
        `encoder queue ${r.venc && r.venc.encodeQueueSize}, avcC repaired ${!!r.avccRepaired}, codecs ${JSON.stringify(r.codecs)}` : 'MediaRecorder';
    });
    log(`${label}: page encoder halfway: ${enc}`);
    const badge = await page.isVisible('#live-badge');
    const statusText = (await page.textContent('#status')).replace(/\s+/g, ' ').trim();
    const elapsed = await page.textContent('#stat-elapsed');
    const upload = await page.textContent('#stat-bitrate');
    const output = await page.textContent('#stat-output');
    check(badge && /LIVE \d\d:\d\d/.test(statusText) && /^\d\d:\d\d$/.test(elapsed),
      `${label}: LIVE with elapsed time shown`, `status "${statusText}", live for ${elapsed}`);
    check(/\d/.test(upload), `${label}: upload bitrate shown`, upload);
    check(/passthrough|transcod/i.test(output), `${label}: server output mode shown`, output);
    if (expectOutput === 'transcod' || keyframesWithinS) {
      // The page's own encoder makes the keyframes the server's passthrough needs: no excuse.
      check(output.toLowerCase().startsWith(expectOutput), `${label}: server output is ${expectOutput}`, output);
    } else if (expectOutput === 'transcod') {
      check(/^transcod/i.test(output), `${label}: server output is transcode`, output);
    } else if (expectOutput && !output.toLowerCase().startsWith(expectOutput)) {
      // Not a failure of the page: the server decides (passthrough needs keyframes ≤ 2 s etc.).
      t.notes.push(`${label}: server output was "${output}", expected ${expectOutput}`);
      log(`NOTE: ${label}: server output is "${output}", not ${expectOutput} (server's choice; not counted as a failure)`);
    }

    // Stop with the keyboard (focus first): cheaper and more punctual than a pointer click
    // on a busy machine, and it checks that Stop works from the keyboard.
    await page.focus('#golive');
    // LIVE_SECONDS of recording: counted from when the recorder started (on a
    // busy machine that can be a second or more after Go live).
    const recordingSince = Number(await page.getAttribute('#status', 'data-recording-since')) ||
      clickedAt;
    await sleep(Math.max(0, recordingSince + LIVE_SECONDS * 1000 - Date.now()));
    const stopAt = Date.now();
    await page.keyboard.press('Enter');
    const clickMs = Date.now() - stopAt;
    const ended = await waitState(page, ['ended', 'error'], 40_000);
    const finalState = await stateOf(page);
    const alert = (await page.textContent('#alert')).trim();
    check(ended && finalState === 'ended', `${label}: Stop ends cleanly`,
      `state ${finalState} after ${((Date.now() - stopAt) / 1000).toFixed(1)} s; message "${alert}"`);
    const recordedMs = Number(await page.getAttribute('#status', 'data-recorded-ms'));
    const stopAfterMs = Number(await page.getAttribute('#status', 'data-stop-after-ms'));
    log(`${label}: browser: Stop pressed ${(stopAfterMs / 1000).toFixed(2)} s after the recorder started ` +
      `(key press took ${clickMs} ms); last Blob ${(recordedMs / 1000).toFixed(2)} s after start`);
    const states = await statesOf(page);
    check(!states.includes('error') && states.includes('live') && states.at(-1) === 'ended',
      `${label}: state sequence went through LIVE to ended without error`, states.join(' → '));
    // The server's recording of this broadcast, listed once finalised, downloads as MP4.
    const finished = await until(async () => (await page.$$eval(
      '#recordings .recording[data-finished="true"]', (rows) => rows.length)) || null, 30_000, 500);
    check(!!finished, `${label}: the page lists the server's recording after Stop`,
      `${finished || 0} finished segment(s)`);
    if (finished) {
      const got = await page.evaluate(async () => {
        const link = document.querySelector('#recordings .recording-name');
        const response = await fetch(link.href);
        return { status: response.status, type: response.headers.get('content-type'),
          size: (await response.arrayBuffer()).byteLength };
      });
      check(got.status === 200 && got.type === 'video/mp4' && got.size > 10_000,
        `${label}: its download link serves the MP4`, `${got.status} ${got.type} ${got.size} bytes`);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, `${label}-ended.png`) });

    // Key remembered across a reload (same browser profile), still hidden.
    await page.reload({ waitUntil: 'load' });
    const remembered = await page.inputValue('#key');
    check(remembered === key, `${label}: stream key remembered after reload`, remembered === key ? 'yes' : `got "${remembered}"`);

    check(consoleErrors.length === 0, `${label}: no console errors`, consoleErrors.join(' | ') || 'none');
  } finally {
    await context.close();
  }

  // nginx records the stream to rec/<key>.flv and closes it when the publisher leaves.
  const flv = nginx.flv(key);
  const probe = await until(async () => {
    if (!fs.existsSync(flv)) return null;
    const p = await ffprobe(flv);
    return p.format && Number(p.format.duration) > 0 ? p : null;
  }, 20_000, 500);
  if (!check(!!probe, `${label}: nginx recorded ${path.basename(flv)}`, probe ? `${fs.statSync(flv).size} bytes`
    : `missing or unreadable after 20 s; rec/ has: ${fs.readdirSync(path.dirname(flv)).join(', ') || 'nothing'}`)) {
    return;
  }
  // The server finishes the RTMP stream after the WebSocket has closed: wait until the
  // publisher has left nginx (then the file is complete), then probe again.
  const endedAt = Date.now();
  const left = await until(async () => !(await nginx.publishing(key)), 60_000, 300);
  check(!!left, `${label}: wsrtmpd finished publishing to nginx after the page ended`,
    `${((Date.now() - endedAt) / 1000).toFixed(1)} s after the page showed ended`);
  const info = await ffprobe(flv);
  try { fs.copyFileSync(flv, path.join(ARTIFACTS, `${label}.flv`)); } catch { /* keep going */ }
  const frames = await run('ffprobe', ['-v', 'error', '-count_packets', '-show_entries',
    'stream=codec_type,nb_read_packets', '-of', 'csv=p=0', flv]);
  log(`${label}: packets per stream: ${frames.stdout.trim().replace(/\n/g, ', ')}`);
  fs.writeFileSync(path.join(ARTIFACTS, `${label}-ffprobe.json`), JSON.stringify(info, null, 2));
  const streams = info.streams || [];
  const v = streams.filter((s) => s.codec_type === 'video');
  const a = streams.filter((s) => s.codec_type === 'audio');
  const dur = Number(info.format?.duration);
  check(v.length === 1 && v[0].codec_name === 'h264', `${label}: recording has one H.264 video stream`,
    v.map((s) => `${s.codec_name} ${s.profile || ''} ${s.width}x${s.height} ${s.avg_frame_rate}`).join(', ') || 'none');
  check(a.length === 1 && a[0].codec_name === 'aac', `${label}: recording has one AAC audio stream`,
    a.map((s) => `${s.codec_name} ${s.sample_rate} Hz ${s.channels} ch`).join(', ') || 'none');
  check(Math.abs(dur - LIVE_SECONDS) <= 1, `${label}: recording lasts ${LIVE_SECONDS} s ± 1 s`, `${dur.toFixed(2)} s`);
  const pubs = nginx.countPublishes(key);
  check(pubs === 1, `${label}: nginx saw exactly one publish for the key`, `${pubs}`);
  if (keyframesWithinS) {
    const kf = await keyframeTimes(flv);
    const gaps = kf.slice(1).map((x, i) => x - kf[i]);
    const worst = gaps.length ? Math.max(...gaps) : Infinity;
    check(kf.length >= Math.floor(LIVE_SECONDS / 2) && worst <= keyframesWithinS,
      `${label}: keyframes at most ${keyframesWithinS} s apart`,
      `${kf.length} keyframes, largest gap ${worst.toFixed(3)} s`);
  }
}

/** The video keyframes' times (s) in a recording. */
async function keyframeTimes(file) {
  const r = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries',
    'packet=pts_time,flags', '-of', 'csv=p=0', file]);
  return r.stdout.split('\n').filter((l) => /,K/.test(l)).map((l) => Number(l.split(',')[0]));
}

// ---------------------------------------------------------------- kicked by the operator
// A second daemon with continuity and the admin API: the operator kicks a live streamer with
// a ban. The page says the operator ended the stream, with the reason, and does not reconnect;
// a second tab with the same key is refused for the ban (issue 30).
async function kickedRun() {
  const label = 'kicked';
  log(`--- ${label}`);
  const tokenFile = path.join(TMP, 'admin-token');
  const token = `e2e-admin-${process.pid}-0123456789`;
  fs.writeFileSync(tokenFile, `${token}\n`);
  const d = await t.startWsrtmpd(['--rtmp-url', nginx.rtmpUrl, '--keys-file', keysFile,
    '--continuity-timeout', '10', '--admin-listen', '127.0.0.1:0', '--admin-token-file', tokenFile]);
  const admin = (/wsrtmpd admin API on (\S+)/.exec(d.out) || [])[1];
  if (!check(!!admin, `${label}: the admin API listens`, admin || d.out.slice(-300))) return;
  const { page, context, consoleErrors } = await openPage(`${d.base}/`);
  try {
    await page.fill('#key', KEYS.kicked);
    check(await cameraOn(page), `${label}: camera preview on`);
    await page.click('#golive');
    if (!check(await waitState(page, 'live', 20_000), `${label}: page shows LIVE`, await stateOf(page))) return;
    await sleep(2000);
    const res = await fetch(`${admin.replace(/\/$/, '')}/api/v1/broadcasts/${KEYS.kicked}/kick`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ban_s: 60, reason: 'Rule 3: no spoilers' }),
    });
    check(res.ok, `${label}: the operator's kick is accepted`, `${res.status}`);
    const ended = await waitState(page, ['error', 'ended'], 10_000);
    const alert = (await page.textContent('#alert')).trim();
    check(ended && (await stateOf(page)) === 'error' && /operator of this server ended your stream/i.test(alert) &&
      alert.includes('Rule 3: no spoilers'), `${label}: the page says the operator ended it, with the reason`, `"${alert}"`);
    await sleep(3000);
    const states = await statesOf(page);
    check(!states.includes('lost') && (await stateOf(page)) === 'error', `${label}: the page does not reconnect`,
      states.join(' → '));
    const second = await openPage(`${d.base}/`);
    try {
      await second.page.fill('#key', KEYS.kicked);
      await second.page.click('#golive');
      await waitState(second.page, ['error', 'ended'], 15_000);
      const text = (await second.page.textContent('#alert')).trim();
      check(/blocked this stream key/i.test(text), `${label}: a second tab is refused during the ban`, `"${text}"`);
    } finally {
      await second.context.close();
    }
    const other = consoleErrors.filter((e) => !/WebSocket/i.test(e));
    check(other.length === 0, `${label}: no console errors`, other.join(' | ') || 'none');
  } finally {
    await context.close();
    await d.terminate(15_000);
  }
}

// ---------------------------------------------------------------- refused key
async function refusedKeyRun() {
  const label = 'refused-key';
  log(`--- ${label}`);
  const { page, context, consoleErrors } = await openPage(`${BASE}/`);
  try {
    await page.fill('#key', 'not_on_the_list');
    await page.click('#golive');
    const done = await waitState(page, ['error', 'ended'], 15_000);
    const st = await stateOf(page);
    const alert = (await page.textContent('#alert')).trim();
    const alertVisible = await page.isVisible('#alert');
    check(done && st === 'error', `${label}: page shows an error state`, `state ${st}`);
    check(alertVisible && /key was refused/i.test(alert), `${label}: readable message about the key`, `"${alert}"`);
    const marked = await page.getAttribute('#key', 'aria-invalid');
    check(marked === 'true', `${label}: the key box is marked`, `aria-invalid=${marked}`);
    await page.screenshot({ path: path.join(ARTIFACTS, `${label}.png`) });
    const go = (await page.textContent('#golive')).trim();
    check(go === 'Go live', `${label}: page is ready to try again`, `button "${go}"`);
    const other = consoleErrors.filter((e) => !/WebSocket/i.test(e));
    check(other.length === 0, `${label}: no console errors`, consoleErrors.join(' | ') || 'none');
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- silent recorder
// A browser whose MediaRecorder produces no data (seen with WebKit): the page must say so
// within a few seconds (not wait for the server's idle timeout, and not blame the key),
// select another format, and show no server output mode while the server has decided none.
async function silentRecorderRun() {
  const label = 'silent-recorder';
  log(`--- ${label}`);
  // The browser's MediaRecorder (the fallback) forced: its silence is what is tested.
  const { page, context, consoleErrors } = await openPage(`${BASE}/?format=h264`, {
    init: {
      fn: () => {
        // Records, but never hands out data.
        window.MediaRecorder = class extends window.MediaRecorder {
          set ondataavailable(_handler) {}
          get ondataavailable() { return null; }
        };
      },
      arg: null,
    },
  });
  try {
    const before = await page.getAttribute('#format', 'data-format-id');
    await page.fill('#key', KEYS.silent);
    const clickedAt = Date.now();
    await page.click('#golive');
    const connecting = await waitState(page, 'connecting', 5000);
    await sleep(2500);
    const output = (await page.textContent('#stat-output')).trim();
    check(connecting && !/transcod|passthrough/i.test(output),
      `${label}: no server output mode before the server decided one`, `"${output}"`);
    const done = await waitState(page, ['error', 'ended'], 15_000);
    const took = (Date.now() - clickedAt) / 1000;
    const st = await stateOf(page);
    const alert = (await page.textContent('#alert')).trim();
    check(done && st === 'error' && took < 8, `${label}: the page gives up within a few seconds`,
      `state ${st} after ${took.toFixed(1)} s`);
    check(/recorder produced no video/i.test(alert) && !/key was refused/i.test(alert),
      `${label}: says the recorder produced nothing`, `"${alert}"`);
    const after = await page.getAttribute('#format', 'data-format-id');
    const selected = await page.inputValue('#format-select');
    check(after && after !== before && selected === after && /format is now/i.test(alert),
      `${label}: another format is selected`, `${before} -> ${after} (select: ${selected})`);
    const marked = await page.getAttribute('#key', 'aria-invalid');
    check(marked !== 'true', `${label}: the key box is not marked`, `aria-invalid=${marked}`);
    await page.screenshot({ path: path.join(ARTIFACTS, `${label}.png`) });
    check(consoleErrors.length === 0, `${label}: no console errors`, consoleErrors.join(' | ') || 'none');
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- stalled recorder
// A recorder that stops producing data after its first chunks: the server closes the stream
// after its idle timeout (10 s) with kind "idle", and the page must say that no media
// arrived, not that the key was refused (same close code, 1008), and leave the key box alone.
async function stalledRecorderRun() {
  const label = 'stalled-recorder';
  log(`--- ${label}`);
  const { page, context, consoleErrors } = await openPage(`${BASE}/?format=h264`, {
    init: {
      fn: () => {
        window.MediaRecorder = class extends window.MediaRecorder {
          set ondataavailable(handler) {
            let passed = 0;
            super.ondataavailable = (ev) => {
              if (ev.data && ev.data.size > 0 && passed++ < 2) handler(ev);
            };
          }
          get ondataavailable() { return super.ondataavailable; }
        };
      },
      arg: null,
    },
  });
  try {
    await page.fill('#key', KEYS.stalled);
    const clickedAt = Date.now();
    await page.click('#golive');
    const done = await waitState(page, ['error', 'ended'], 30_000);
    const took = (Date.now() - clickedAt) / 1000;
    const st = await stateOf(page);
    const alert = (await page.textContent('#alert')).trim();
    check(done && st === 'error' && took >= 9, `${label}: the server gives up after its idle timeout`,
      `state ${st} after ${took.toFixed(1)} s`);
    check(/no media arrived from your browser for \d+ s/i.test(alert) && !/key was refused/i.test(alert),
      `${label}: says no media arrived, not that the key was refused`, `"${alert}"`);
    const marked = await page.getAttribute('#key', 'aria-invalid');
    check(marked !== 'true', `${label}: the key box is not marked`, `aria-invalid=${marked}`);
    await page.screenshot({ path: path.join(ARTIFACTS, `${label}.png`) });
    check(consoleErrors.length === 0, `${label}: no console errors`, consoleErrors.join(' | ') || 'none');
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- mocked server
// Close codes and server messages in plain words, without the real server.
async function mockedCloseCodes() {
  // The page decides on the error frame's kind; the reason is only shown. Two closes with
  // the same code and no kind fall back on the code alone.
  const cases = [
    { code: 1003, kind: 'input', reason: 'not a media stream', re: /could not read the video/i },
    { code: 1009, kind: 'too_big', reason: 'message too big', re: /larger than the server accepts/i },
    { code: 1011, kind: 'rtmp_connect', reason: 'cannot connect', re: /could not reach the streaming platform/i },
    { code: 1011, kind: 'pipeline', reason: 'internal pipeline error', re: /failed while processing/i },
    { code: 1013, kind: 'capacity', reason: 'at capacity', re: /server is full/i },
    { code: 1013, kind: 'per_ip', reason: 'too many streams', re: /too many streams are running from your network/i },
    { code: 1008, kind: 'key', reason: 'stream key not allowed', re: /key was refused/i, keyMarked: true },
    { code: 1008, kind: 'idle', reason: 'no media received for 10 s', re: /no media arrived from your browser/i, keyMarked: false },
    { code: 1008, kind: 'replaced', reason: 'replaced by a newer connection', re: /another window or device/i, keyMarked: false },
    { code: 1011, kind: '', reason: 'rtmp connection failed', re: /failed while processing or delivering/i },
    { code: 1013, kind: '', reason: 'at capacity', re: /server is full/i },
  ];
  for (const c of cases) {
    const label = `mock-${c.code}-${c.kind || 'nokind'}`;
    const { page, context, consoleErrors } = await openPage(`${BASE}/`, {
      mock: (ws) => {
        ws.send(JSON.stringify({ type: 'state', state: 'connecting' }));
        setTimeout(() => {
          ws.send(JSON.stringify({ type: 'state', state: 'error' }));
          ws.send(JSON.stringify(c.kind ? { type: 'error', kind: c.kind, message: c.reason }
            : { type: 'error', message: c.reason }));
          ws.close({ code: c.code, reason: c.reason });
        }, 300);
      },
    });
    try {
      await page.fill('#key', 'mock_key');
      await page.click('#golive');
      await waitState(page, ['error', 'ended'], 10_000);
      const st = await stateOf(page);
      const alert = (await page.textContent('#alert')).trim();
      check(st === 'error' && c.re.test(alert) && alert.includes(c.reason),
        `${label}: close ${c.code} "${c.reason}" explained`, `state ${st}: "${alert}"`);
      if (c.keyMarked !== undefined) {
        const marked = (await page.getAttribute('#key', 'aria-invalid')) === 'true';
        check(marked === c.keyMarked, `${label}: key box ${c.keyMarked ? '' : 'not '}marked`, `aria-invalid=${marked}`);
      }
      check(consoleErrors.length === 0, `${label}: no console errors`, consoleErrors.join(' | ') || 'none');
    } finally {
      await context.close();
    }
  }
  // The server asks for a keyframe (a destination waits for one): the page's encoder makes the
  // next frame one, well before its 2 s cadence would.
  {
    const label = 'mock-keyframe-request';
    let sock = null;
    const { page, context, consoleErrors } = await openPage(`${BASE}/`, {
      mock: (ws) => {
        sock = ws;
        ws.send(JSON.stringify({ type: 'welcome', continuity_timeout_s: 0, keyframe_interval_s: 2 }));
        ws.send(JSON.stringify({ type: 'state', state: 'live' }));
        ws.onClose(() => ws.close({ code: 1000, reason: 'ended' }));
      },
    });
    try {
      await page.fill('#key', 'mock_key');
      await page.click('#golive');
      await waitState(page, 'live', 10_000);
      // Wait for a moment 0.6–1.2 s after a cadence keyframe, then ask.
      const before = await page.evaluate(() => new Promise((resolve) => {
        const iv = setInterval(() => {
          const r = window.wsrtmpLive.session && window.wsrtmpLive.session.recorder;
          if (!r || !r.t0 || !r.keyframes) return;
          const sinceKeyUs = (performance.now() - r.t0) * 1000 - r.lastKeyUs;
          if (sinceKeyUs > 600_000 && sinceKeyUs < 1_200_000) { clearInterval(iv); resolve(r.keyframes); }
        }, 20);
      }));
      const askedAt = Date.now();
      sock.send(JSON.stringify({ type: 'keyframe', reason: 'destination' }));
      const made = await page.waitForFunction((n) => window.wsrtmpLive.session.recorder.keyframes > n, before,
        { timeout: 1000 }).then(() => true, () => false);
      check(made, `${label}: the next frame is a keyframe`, `after ${Date.now() - askedAt} ms`);
      await page.click('#golive');
      await waitState(page, ['ended', 'error'], 10_000);
      check(consoleErrors.length === 0, `${label}: no console errors`, consoleErrors.join(' | ') || 'none');
    } finally {
      await context.close();
    }
  }

  // A slow uplink: the server's count of bytes received (its stats frames) made to lag what the
  // page sent, as behind a narrow link. The page must lower its quality and say so, then go
  // back to the chosen quality and say that too.
  {
    const label = 'mock-slow-uplink';
    let received = 0;
    let backlog = 0;
    const { page, context, consoleErrors } = await openPage(`${BASE}/`, {
      mock: (ws) => {
        ws.send(JSON.stringify({ type: 'welcome', continuity_timeout_s: 0, keyframe_interval_s: 2 }));
        ws.send(JSON.stringify({ type: 'state', state: 'live' }));
        ws.onMessage((m) => { received += typeof m === 'string' ? 0 : m.length; });
        const iv = setInterval(() => ws.send(JSON.stringify({
          type: 'stats', bytes_in: Math.max(0, received - backlog), bitrate_kbps: 100, output: 'passthrough',
        })), 1000);
        ws.onClose(() => { clearInterval(iv); ws.close({ code: 1000, reason: 'ended' }); });
      },
    });
    try {
      await page.fill('#key', 'mock_key');
      await page.click('#golive');
      await waitState(page, 'live', 10_000);
      await sleep(2500);
      const before = Number(await page.getAttribute('#status', 'data-target-kbps'));
      backlog = 1_500_000;
      const shown = await page.waitForFunction(() => !document.getElementById('warning').hidden &&
        /upload is slow/i.test(document.getElementById('warning').textContent), null, { timeout: 8000 })
        .then(() => true, () => false);
      await sleep(700); // the stats on the page follow within a tick
      const text = (await page.textContent('#warning')).trim();
      const lowered = Number(await page.getAttribute('#status', 'data-target-kbps'));
      check(shown && lowered < before, `${label}: lowers the quality and says why`,
        `${before} → ${lowered} kbit/s; "${text}"`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'upload-warning.png') });
      backlog = 0;
      const back = await page.waitForFunction(() => /keeps up again/i.test(document.getElementById('warning').textContent),
        null, { timeout: 40_000 }).then(() => true, () => false);
      await sleep(700);
      const after = Number(await page.getAttribute('#status', 'data-target-kbps'));
      check(back && after === before, `${label}: back to the chosen quality, and says so`,
        `${after} kbit/s; "${(await page.textContent('#warning')).trim()}"`);
      await page.click('#golive');
      await waitState(page, ['ended', 'error'], 10_000);
      check((await stateOf(page)) === 'ended', `${label}: stops cleanly`, await stateOf(page));
      check(consoleErrors.length === 0, `${label}: no console errors`, consoleErrors.join(' | ') || 'none');
    } finally {
      await context.close();
    }
  }

  // Camera/microphone failures in plain words (getUserMedia made to fail as browsers do).
  const mediaCases = [
    { name: 'NotAllowedError', devices: ['videoinput', 'audioinput'], re: /access is blocked/i },
    { name: 'NotFoundError', devices: ['audioinput'], re: /no camera was found/i },
    { name: 'NotFoundError', devices: ['videoinput'], re: /no microphone was found/i },
    { name: 'NotReadableError', devices: ['videoinput', 'audioinput'], re: /in use by another app/i },
  ];
  for (const c of mediaCases) {
    const label = `media-${c.name}-${c.devices.length === 2 ? 'both' : c.devices[0]}`;
    const { page, context, consoleErrors } = await openPage(`${BASE}/`, {
      init: {
        fn: ([errName, kinds]) => {
          navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('simulated', errName));
          navigator.mediaDevices.enumerateDevices = () => Promise.resolve(
            kinds.map((kind, i) => ({ kind, deviceId: `dev${i}`, label: '', groupId: String(i) })));
          navigator.permissions.query = () => Promise.resolve({ state: 'prompt' });
        },
        arg: [c.name, c.devices],
      },
    });
    try {
      await page.fill('#key', 'media_key');
      await page.click('#golive');
      await page.waitForFunction(() => !document.getElementById('alert').hidden, null, { timeout: 10_000 }).catch(() => {});
      const alert = (await page.textContent('#alert')).trim();
      const msg = (await page.textContent('#camera-msg')).trim();
      const st = await stateOf(page);
      check(c.re.test(msg) && /can.t go live/i.test(alert) && st === 'idle', `${label}: explained, not live`,
        `state ${st}: preview "${msg}", alert "${alert}"`);
      if (c.name === 'NotAllowedError') await page.screenshot({ path: path.join(ARTIFACTS, 'camera-denied.png') });
      check(consoleErrors.length === 0, `${label}: no console errors`, consoleErrors.join(' | ') || 'none');
    } finally {
      await context.close();
    }
  }

  // Phone-sized screen: nothing wider than the viewport, Go live reachable.
  const { page, context, consoleErrors } = await openPage(`${BASE}/`);
  try {
    await page.setViewportSize({ width: 375, height: 740 });
    await sleep(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, 'phone: page fits a 375 px wide screen', `horizontal overflow ${overflow} px`);
    // Keyboard: Tab reaches the key field, then Show, then Go live.
    await page.focus('#key');
    await page.keyboard.press('Tab');
    const a = await page.evaluate(() => document.activeElement.id);
    await page.keyboard.press('Tab');
    const b = await page.evaluate(() => document.activeElement.id);
    check(a === 'key-toggle' && b === 'golive', 'keyboard: Tab goes key → Show → Go live', `${a} → ${b}`);
    await page.keyboard.press('Enter');
    const hint = (await page.textContent('#key-hint')).trim();
    check(/enter your stream key/i.test(hint), 'empty key: Go live asks for the key', `"${hint}"`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone.png'), fullPage: true });
    check(consoleErrors.length === 0, 'phone: no console errors', consoleErrors.join(' | ') || 'none');
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- main
const { step } = t;
await step('webcodecs', () => liveRun({
  label: 'webcodecs',
  query: '',
  key: KEYS.h264,
  expectFormatId: 'webcodecs',
  expectMime: 'video/x-matroska;codecs=avc1,opus',
  expectOutput: 'passthrough',
  keyframesWithinS: 2.1,
}));
if (BROWSER === 'firefox') {
  await step('refused-key', refusedKeyRun);
} else {
await step('vp8', () => liveRun({
  label: 'vp8',
  query: '?format=vp8',
  key: KEYS.vp8,
  expectFormatId: 'vp8',
  expectMime: 'video/webm;codecs=vp8,opus',
  expectOutput: 'transcod',
}));
await step('refused-key', refusedKeyRun);
await step('silent-recorder', silentRecorderRun);
await step('stalled-recorder', stalledRecorderRun);
await step('kicked', kickedRun);
await step('mocked server', mockedCloseCodes);
}
check(server.exit === null, 'wsrtmpd still running at the end', server.exit ? JSON.stringify(server.exit) : 'yes');
if (server.exit === null) {
  // A sanitized build reports (and exits non-zero) at any point up to exit.
  await server.terminate(15_000);
  const report = /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer/.exec(server.out);
  check(server.exit !== null && server.exit.code === 0 && !report,
    'wsrtmpd exits 0 on SIGTERM, without a sanitizer report',
    server.exit ? `${JSON.stringify(server.exit)}${report ? `, ${report[0]} (see ${server.logPath})` : ''}` : 'still running after 15 s');
}
await t.finish();
