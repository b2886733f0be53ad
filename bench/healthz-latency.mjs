#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// How long wsrtmpd's main loop (the one every client shares) stays unanswering while pipelines
// end or reconnect: /healthz is polled every 20 ms from a worker thread (its own event loop, a new
// TCP connection per request) and the slowest answers are reported. Run by hand through
// bench/healthz-latency.sh, not a test: the figure depends on the machine.
//
//   node healthz-latency.mjs --scenario end|reconnect [--streams N] [--wsrtmpd PATH]
//                            [--base-port P] [--runs R] [--log FILE (wsrtmpd's log, FILE.<run>)]
//
// end:       N (32) streams of the browser's H.264 recording (passed through) at the browser's
//            pace, started 100 ms apart; all close with 1000 at the same moment, 8 s after the
//            last one started. Window: from that moment until /healthz says no session is left.
// reconnect: N (8) streams; 5 s after the last one started nginx is killed (SIGKILL, master and
//            worker), 4 s later started again on the same port. Half the streams end while it is
//            down (their kept data and the end are sent once it is back), the others go on for
//            10 s. Window: from the restart until no session is left.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import http from 'node:http';

// ------------------------------------------------------------------ poller (worker thread)
if (!isMainThread) {
  const { url } = workerData;
  const samples = [];           // [wall ms at start, ms taken, status]
  let running = true;
  parentPort.on('message', (m) => { if (m === 'stop') running = false; });
  const get = () => new Promise((resolve) => {
    const t0 = performance.timeOrigin + performance.now();
    const req = http.get(url, { agent: false, timeout: 10000 }, (res) => {
      res.resume();
      res.on('end', () => resolve([t0, performance.timeOrigin + performance.now() - t0,
        res.statusCode]));
    });
    req.on('error', () => resolve([t0, performance.timeOrigin + performance.now() - t0, 0]));
    req.on('timeout', () => req.destroy());
  });
  while (running) {
    samples.push(await get());
    await sleep(20);
  }
  parentPort.postMessage(samples);
}

if (isMainThread) {
const here = dirname(new URL(import.meta.url).pathname);
const root = resolve(here, '..');
const { default: WebSocket } = await import('ws');
const wall = () => performance.timeOrigin + performance.now();

const { values: o } = parseArgs({ options: {
  scenario: { type: 'string', default: 'end' },
  streams: { type: 'string' },
  wsrtmpd: { type: 'string', default: resolve(root, 'build/service/wsrtmpd') },
  'plugin-path': { type: 'string', default: resolve(root, 'build/plugin') },
  'base-port': { type: 'string', default: '19470' },
  runs: { type: 'string', default: '1' },
  log: { type: 'string' },
  fixture: { type: 'string', default: resolve(root, 'tests/data/chrome-h264-opus-kf2s-30s-250ms') },
} });
if (!['end', 'reconnect'].includes(o.scenario)) {
  console.error('--scenario must be end or reconnect');
  process.exit(2);
}
const N = Number(o.streams ?? (o.scenario === 'end' ? 32 : 8));
const port = Number(o['base-port']);
const ports = { rtmp: port, stat: port + 1, http: port + 2 };
const log = (...a) => console.error(`[healthz ${new Date().toISOString().slice(11, 19)}]`, ...a);

const meta = JSON.parse(readFileSync(join(o.fixture, 'meta.json'), 'utf8'));
const chunks = readdirSync(o.fixture).filter((f) => /^chunk-\d+\.bin$/.test(f)).sort()
  .map((f) => readFileSync(join(o.fixture, f)));
const offsets = meta.chunk_list.map((c) => c.t_ms - meta.chunk_list[0].t_ms);

const nginxScript = join(root, 'tests/support/nginx-rtmp.sh');
function nginxStart(dir) {
  for (let i = 0; i < 40; i++) {
    try {
      execFileSync(nginxScript, ['start', dir, String(ports.rtmp), String(ports.stat)], { stdio: 'pipe' });
      return;
    } catch { execFileSync('sleep', ['0.25']); }
  }
  throw new Error('nginx does not start');
}
// Like a crash: the master first (it would respawn a killed worker), then its workers.
function nginxKill(dir) {
  const master = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8'));
  const workers = execFileSync('pgrep', ['-P', String(master)]).toString().trim().split('\n')
    .filter(Boolean).map(Number);
  process.kill(master, 'SIGKILL');
  for (const w of workers) { try { process.kill(w, 'SIGKILL'); } catch { /* gone */ } }
}

async function healthz() {
  return new Promise((resolve) => {
    http.get(`http://127.0.0.1:${ports.http}/healthz`, { agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { try { resolve(JSON.parse(body)); } catch { resolve(null); } });
    }).on('error', () => resolve(null));
  });
}

// One stream: sends chunks at the recorded pace until stopAt() (wall ms) says so, then closes.
async function stream(key, startDelay, stopAt) {
  await sleep(startDelay);
  const ws = new WebSocket(`ws://127.0.0.1:${ports.http}/ingest/${key}`, { perMessageDeflate: false });
  const r = { key, code: null, reason: '' };
  const closed = new Promise((res) => ws.once('close', (code, reason) => {
    r.code = code; r.reason = reason.toString(); res();
  }));
  ws.on('error', (e) => { r.error ??= e.message; });
  await new Promise((res) => { ws.once('open', res); ws.once('error', res); });
  const start = wall();
  for (let k = 0; k < chunks.length && ws.readyState === WebSocket.OPEN; k++) {
    const due = start + offsets[k];
    if (due >= stopAt()) break;
    if (due > wall()) await sleep(due - wall());
    ws.send(chunks[k], { binary: true });
  }
  const end = stopAt();
  if (end > wall()) await sleep(end - wall());
  while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 0) await sleep(5);
  if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'done');
  await Promise.race([closed, sleep(90000, undefined, { ref: false })]);
  return r;
}

function summarize(samples, from, to) {
  const inWindow = samples.filter(([t]) => t >= from && t <= to);
  const ms = inWindow.map(([, d]) => d).sort((a, b) => a - b);
  const pct = (q) => ms.length ? ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)] : null;
  return { probes: ms.length, failed: inWindow.filter(([, , s]) => s !== 200).length,
    p50: pct(0.5), p99: pct(0.99), max: ms.at(-1) ?? null, window_s: (to - from) / 1000 };
}

async function run(index) {
  const dir = mkdtempSync(join(tmpdir(), 'healthz-latency-'));
  const nginxDir = join(dir, 'nginx');
  nginxStart(nginxDir);
  const daemon = spawn(o.wsrtmpd, ['--listen', `127.0.0.1:${ports.http}`,
    '--rtmp-url', `rtmp://127.0.0.1:${ports.rtmp}/live`, '--max-sessions', '0',
    '--max-connections-per-ip', '0', '--rtmp-retry-time', '60', '--drain-timeout', '60'],
  { env: { ...process.env, GST_PLUGIN_PATH: o['plugin-path'], GST_DEBUG: '*:1' },
    stdio: ['ignore', 'ignore', 'pipe'] });
  let daemonLog = '';
  daemon.stderr.on('data', (d) => { daemonLog += d; });
  let up = false;
  for (let i = 0; i < 100 && !(up = await healthz()); i++) await sleep(100);
  if (!up) {
    daemon.kill('SIGKILL');
    execFileSync(nginxScript, ['stop', nginxDir]);
    throw new Error(`wsrtmpd did not answer /healthz within 10 s:\n${daemonLog}`);
  }

  const poller = new Worker(new URL(import.meta.url), {
    workerData: { url: `http://127.0.0.1:${ports.http}/healthz` } });
  const stagger = 100;
  const allStarted = wall() + N * stagger + 500;
  let windowFrom;
  let results;
  if (o.scenario === 'end') {
    const endAt = allStarted + 8000;
    windowFrom = endAt;
    results = await Promise.all(Array.from({ length: N }, (_, i) =>
      stream(`end${index}-${i}`, i * stagger, () => endAt)));
  } else {
    const killAt = allStarted + 5000;
    const backAt = killAt + 4000;
    windowFrom = backAt;
    const restart = (async () => {
      await sleep(killAt - wall());
      log('killing nginx');
      nginxKill(nginxDir);
      await sleep(backAt - wall());
      log('starting nginx again');
      nginxStart(nginxDir);
    })();
    results = await Promise.all(Array.from({ length: N }, (_, i) =>
      stream(`back${index}-${i}`, i * stagger,
        () => (i % 2 ? killAt + 2000 : backAt + 10000))));
    await restart;
  }
  log(`streams done (${results.filter((r) => r.code === 1000).length}/${N} closed 1000); ` +
    'waiting for the sessions to finish');
  // Until every session has finished its teardown.
  for (let i = 0; i < 600; i++) {
    const h = await healthz();
    if (h && h.sessions_active === 0) break;
    await sleep(100);
  }
  const windowTo = wall() + 500;
  await sleep(500);
  poller.postMessage('stop');
  const samples = await new Promise((res) => poller.once('message', res));
  await poller.terminate();
  // Memory once idle, and after the delayed malloc_trim (5 s after sessions end).
  const rssMb = () => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'))[1]) / 1024;
    } catch { return null; }
  };
  const rssIdle = rssMb();
  await sleep(7000);
  const rssLater = rssMb();
  if (daemon.exitCode !== null || daemon.signalCode !== null)
    log(`wsrtmpd exited early (${daemon.exitCode ?? daemon.signalCode}):\n${daemonLog.slice(-3000)}`);
  daemon.kill('SIGTERM');
  await new Promise((res) => daemon.once('exit', res));
  execFileSync(nginxScript, ['stop', nginxDir]);
  const published = (daemonLog.match(/: live$/gm) || []).length;
  const recordings = readdirSync(join(nginxDir, 'rec')).length;
  const bad = results.filter((r) => r.code !== 1000);
  const summary = { run: index, scenario: o.scenario, streams: N,
    window: summarize(samples, windowFrom, windowTo),
    whole_run: summarize(samples, 0, Infinity),
    closed_1000: N - bad.length, recordings, live_sessions: published,
    rss_idle_mb: rssIdle, rss_7s_later_mb: rssLater,
    trims: daemonLog.match(/malloc_trim: .*/g) ?? [],
    errors: bad.slice(0, 3).map((r) => `${r.key}: ${r.code} ${r.reason} ${r.error ?? ''}`) };
  if (o.log) writeFileSync(`${o.log}.${index}`, daemonLog);
  rmSync(dir, { recursive: true, force: true });
  return summary;
}

if (!existsSync(o.wsrtmpd)) {
  console.error(`${o.wsrtmpd} does not exist: build it first`);
  process.exit(2);
}
for (let i = 0; i < Number(o.runs); i++) {
  const s = await run(i);
  const w = s.window;
  const fmt = (x) => (x === null ? '-' : x.toFixed(0));
  console.log(`${s.scenario} N=${s.streams} run ${i}: slowest /healthz ${fmt(w.max)} ms ` +
    `(p99 ${fmt(w.p99)}, p50 ${fmt(w.p50)}, ${w.probes} probes in ${w.window_s.toFixed(1)} s, ` +
    `${w.failed} failed); whole run max ${fmt(s.whole_run.max)} ms; ` +
    `${s.closed_1000}/${s.streams} closed 1000, ${s.recordings} recordings; ` +
    `RSS idle ${s.rss_idle_mb?.toFixed(1)} MB, 7 s later ${s.rss_7s_later_mb?.toFixed(1)} MB` +
    (s.trims.length ? ` (${s.trims.join(', ')})` : '') +
    (s.errors.length ? `; ${s.errors.join('; ')}` : ''));
}
}
