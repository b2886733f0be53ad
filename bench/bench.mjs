#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// Side-by-side benchmark: wsrtmpd against the "Node ws + one ffmpeg per streamer" peer, same load,
// same nginx-rtmp, one run. Started by bench/run.sh (see bench/README.md for the figures' meaning).
import { spawn, execFileSync } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, mkdirSync, writeFileSync, readFileSync, readdirSync, statSync, createWriteStream } from 'node:fs';
import { join, resolve, dirname, basename } from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';
import os from 'node:os';
import { probe, mapLimit, percentile, round } from './lib/media.mjs';
import { sampleTree, sampleMachine, cpuPercent } from './lib/procstat.mjs';

const here = dirname(new URL(import.meta.url).pathname);
const root = resolve(here, '..');
const wall = () => performance.timeOrigin + performance.now();

// fixture: the recording replayed, by --timeslice (tests/data/<name><timeslice>ms). slate and restream
// exist only in wsrtmpd: the peer relay is not run for them (as with --no-peer).
const SCENARIOS = {
  passthrough: { fixture: 'chrome-h264-opus-kf2s-30s-', peerMode: 'copy', streams: '1,8,32', peerStreams: '1,8' },
  transcode: { fixture: 'chrome-vp8-opus-30s-', peerMode: 'transcode', streams: '1,4,8', peerStreams: '1,4' },
  // N broadcasts on slate: each stream sends --slate-after s, then its socket is cut (no close
  // frame); wsrtmpd (--continuity-timeout 3600) keeps every broadcast on air on its slate
  slate: { fixture: 'chrome-h264-opus-kf2s-30s-', peerMode: null, streams: '1,8,32' },
  // one input, --restream-destinations destinations (other keys on the same nginx); every N is run
  // twice, with one destination and with all of them: the difference is what the extra ones cost
  restream: { fixture: 'chrome-h264-opus-kf2s-30s-', peerMode: null, streams: '1,8' },
  // H.264 + AAC as the page's WebCodecs sends it where the browser's AudioEncoder has AAC (Chrome
  // on Windows/macOS, Safari): wsrtmpd passes both through (no audio encoder); --timeslice unused
  'passthrough-aac': { fixtureName: 'chrome-webcodecs-h264-aac-20s', peerMode: 'copy', streams: '1,8,32', peerStreams: '1,8' },
  // WHIP (issue 31) against the WebSocket, same run, same recording: every N is run twice on
  // wsrtmpd, N WebSocket streams (target ours) then N WHIP senders (target whip,
  // tests/support/whip_send.py: webrtcbin sending the recording's H.264 and Opus, no encoding)
  'whip-passthrough': { fixture: 'chrome-h264-opus-kf2s-30s-', peerMode: null, streams: '1,8,32', whip: true },
};

const { values: o } = parseArgs({ options: {
  scenario: { type: 'string', default: 'passthrough' },
  streams: { type: 'string' },
  'peer-streams': { type: 'string' },
  duration: { type: 'string', default: '0' },
  timeslice: { type: 'string', default: '250' },
  fixture: { type: 'string' },
  'slate-after': { type: 'string', default: '15' },
  'slate-seconds': { type: 'string', default: '15' },
  'restream-destinations': { type: 'string', default: '3' },
  peer: { type: 'string', default: resolve(root, '../shared/peers/node-ffmpeg') },
  'no-peer': { type: 'boolean', default: false },
  'no-ours': { type: 'boolean', default: false },
  wsrtmpd: { type: 'string', default: resolve(root, 'build/service/wsrtmpd') },
  'plugin-path': { type: 'string', default: resolve(root, 'build/plugin') },
  'x264-preset': { type: 'string', default: 'veryfast' },
  framerate: { type: 'string', default: '30' },
  // wsrtmpd's --audio-channels. The peer's ffmpeg keeps the input's channels (mono for the
  // committed recordings): 1 compares the two at the same output.
  'audio-channels': { type: 'string', default: '2' },
  'base-port': { type: 'string', default: '19450' },
  'stagger-ms': { type: 'string' },
  'latency-streams': { type: 'string', default: '2' },
  // Restream (issue 15): besides nginx, "bad" adds a refused port, a server that accepts and never
  // reads, and one that reads at half the bitrate; "good:K" adds K more keys on the same nginx.
  destinations: { type: 'string', default: 'one' },
  'stop-on-fail': { type: 'boolean', default: false },
  // whip-passthrough: wsrtmpd's --whip-jitter-ms for the WHIP cases (its own default otherwise)
  'whip-jitter-ms': { type: 'string' },
  // The overload guard (issue 30): offer N streams to wsrtmpd with its guard on (its defaults);
  // those it refuses (1013, kind capacity) are counted, real time is judged over the admitted.
  offer: { type: 'string' },
  'overload-delay-ms': { type: 'string' },
  'overload-cpu-percent': { type: 'string' },
  'overload-machine-percent': { type: 'string' },
  nice: { type: 'string', default: '0' },
  perf: { type: 'boolean', default: false },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} });
if (o.help) {
  console.log(readFileSync(join(here, 'README.md'), 'utf8').split('\n## ')[1] ?? 'see bench/README.md');
  process.exit(0);
}
const sc = SCENARIOS[o.scenario];
if (!sc) { console.error(`--scenario must be one of ${Object.keys(SCENARIOS).join(', ')}`); process.exit(2); }
const fixture = resolve(o.fixture ?? join(root, 'tests/data', sc.fixtureName ?? `${sc.fixture}${o.timeslice}ms`));
if (!existsSync(join(fixture, 'meta.json'))) {
  console.error(`no recording ${fixture} for --scenario ${o.scenario} --timeslice ${o.timeslice}:`
    + ' record one with bench/record-fixture.mjs (see bench/README.md) or pass --fixture DIR');
  process.exit(2);
}
const ns = (s) => s.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
const offering = o.offer !== undefined;
const oursNs = o['no-ours'] ? [] : ns(offering ? o.offer : o.streams ?? sc.streams);
const slate = o.scenario === 'slate';
const restreamTo = o.scenario === 'restream' ? Number(o['restream-destinations']) : 1;
if (!(restreamTo >= 1)) { console.error('--restream-destinations: a number >= 1'); process.exit(2); }
const slateSeconds = Number(o['slate-seconds']);
let peerNs = o['no-peer'] || offering || !sc.peerMode ? [] : ns(o['peer-streams'] ?? sc.peerStreams);
const basePort = Number(o['base-port']);
const ports = { rtmp: basePort, stat: basePort + 1, ours: basePort + 2, peer: basePort + 3 };
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
const outDir = resolve(o.out ?? join(here, 'results', `${stamp}-${o.scenario}`));
mkdirSync(outDir, { recursive: true });
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---------------------------------------------------------------------------- pre-flight
for (const tool of ['ffprobe', 'nginx', 'stdbuf']) {
  try { execFileSync('sh', ['-c', `command -v ${tool}`]); } catch { console.error(`${tool} is missing`); process.exit(2); }
}
if (oursNs.length && !existsSync(o.wsrtmpd)) {
  console.error(`${o.wsrtmpd} does not exist: build it first (meson setup build && ninja -C build)`);
  process.exit(2);
}
if (oursNs.length) {
  // Checked before nginx starts: a failed spawn later would end the run without stopping it.
  try { accessSync(o.wsrtmpd, fsConstants.X_OK); } catch {
    console.error(`${o.wsrtmpd} is not executable (chmod +x it)`);
    process.exit(2);
  }
}
const gstEnv = { ...process.env, GST_PLUGIN_PATH: o['plugin-path'] };
let peerNote = sc.peerMode || o['no-peer'] ? null
  : `the peer relay has no ${o.scenario} (it ends a stream with its connection and sends to one destination): wsrtmpd only, as with --no-peer`;
const peerDir = resolve(o.peer);
if (peerNs.length) {
  if (!existsSync(join(peerDir, 'server.mjs'))) {
    peerNote = `peer not found at ${peerDir}: comparison skipped`;
    peerNs = [];
  } else if (!existsSync(join(peerDir, 'node_modules/ws'))) {
    peerNote = `peer at ${peerDir} has no node_modules (run npm install there): comparison skipped`;
    peerNs = [];
  }
  if (peerNote) log(peerNote);
}

// The source as the server receives it: the chunks joined (cut to --duration), with where every
// frame ends in the byte stream, so each received frame can be tied to the message that completed it.
const meta = JSON.parse(readFileSync(join(fixture, 'meta.json'), 'utf8'));
const chunkFiles = readdirSync(fixture).filter((f) => /^chunk-\d+\.bin$/.test(f)).sort();
const offsets = meta.chunk_list?.length === chunkFiles.length
  ? meta.chunk_list.map((c) => c.t_ms - meta.chunk_list[0].t_ms)
  : chunkFiles.map((_, k) => k * (meta.timeslice_ms || 250));
const durationS = slate && !Number(o.duration) ? Number(o['slate-after']) : Number(o.duration);
const durMs = durationS * 1000;
const lastChunk = durMs > 0 ? Math.max(0, offsets.findLastIndex((t) => t < durMs)) : chunkFiles.length - 1;
const sourceFile = join(outDir, `source${meta.mimeType?.includes('webm') ? '.webm' : '.mkv'}`);
const chunkEnds = [];
{
  const bufs = chunkFiles.slice(0, lastChunk + 1).map((f) => readFileSync(join(fixture, f)));
  let acc = 0;
  for (const b of bufs) { acc += b.length; chunkEnds.push(acc); }
  writeFileSync(sourceFile, Buffer.concat(bufs));
}
const source = await probe(sourceFile, { positions: true });
if (!source.video || !source.audio) { console.error(`cannot read the fixture ${fixture}`); process.exit(2); }
source.video.chunk = source.video.ends.map((e) => chunkEnds.findIndex((c) => e <= c));
const srcFps = source.video.packets > 1 ? (source.video.packets - 1) / source.video.span : 0;
log(`fixture ${basename(fixture)}: ${meta.mimeType}, ${lastChunk + 1} messages, ${(offsets[lastChunk] / 1000).toFixed(1)} s,`
  + ` ${source.video.codec} ${source.video.packets} frames (${srcFps.toFixed(1)} fps) + ${source.audio.codec}`);

// Latency percentiles are over frames from this media time on: the start (a gateway's probing and
// start-up, which shows up as first_frame_ms) is kept out of the steady-state figures.
const steadyFrom = Math.min(10, Math.floor(source.video.span / 3));

// ---------------------------------------------------------------------------- helpers
// --nice N: run everything the measurement depends on (server, nginx, load generator, subscribers)
// at that niceness, so that background jobs on a shared machine disturb it less. Same for both targets.
const niceN = Number(o.nice);
const niced = (cmd, args) => (niceN ? ['nice', ['-n', String(niceN), cmd, ...args]] : [cmd, args]);
const renice = (pid) => { if (niceN) { try { execFileSync('renice', ['-n', String(niceN), '-p', String(pid)], { stdio: 'ignore' }); } catch { /* not allowed */ } } };
function waitPort(port, ms = 10000) {
  const until = Date.now() + ms;
  return new Promise((resolvePromise, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolvePromise(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`nothing listens on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function exited(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return Promise.race([new Promise((r) => child.once('exit', () => r(true))), sleep(ms).then(() => false)]);
}

// Servers run in their own process group (spawned detached) so that a wrapper (--wsrtmpd script,
// heaptrack, …) or the peer's ffmpeg children never outlive the case.
async function stopChild(child, signal = 'SIGTERM', ms = 15000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const group = child.spawnargs && child.detachedGroup;
  const send = (sig) => { try { if (group) process.kill(-child.pid, sig); else child.kill(sig); } catch { /* gone */ } };
  send(signal);
  if (!(await exited(child, ms))) { send('SIGKILL'); await exited(child, 2000); }
  if (group) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* the group is empty */ } }
}
let currentServer = null;
function spawnServer(cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, detached: true });
  child.detachedGroup = true;
  currentServer = child;
  return child;
}

// nginx-rtmp's /stat page: which streams publish, and since when (a client's <time> is ms since
// its connection was accepted, so publish wall ~ fetch wall - time).
async function fetchStat() {
  const t = wall();
  try {
    const res = await fetch(`http://127.0.0.1:${ports.stat}/stat`);
    const xml = await res.text();
    const streams = {};
    for (const m of xml.matchAll(/<stream>\s*<name>([^<]*)<\/name>([\s\S]*?)<\/stream>/g)) {
      const pub = /<client>((?:(?!<\/client>)[\s\S])*?<publishing\/>[\s\S]*?)<\/client>/.exec(m[2]);
      if (!pub) continue;
      const time = /<time>(\d+)<\/time>/.exec(pub[1]);
      streams[m[1]] = { since: t - Number(time?.[1] ?? 0) };
    }
    return { t, streams };
  } catch {
    return { t, streams: null };
  }
}

// An RTMP subscriber (ffprobe, line-buffered) that timestamps every video packet as it arrives.
function subscribe(key, dir) {
  const arrivals = [];
  const p = spawn(...niced('stdbuf', ['-oL', 'ffprobe', '-v', 'error', '-fflags', 'nobuffer',
    // FLV streams are found as their first packet arrives; probe until both are there (no fps wait),
    // or packets of the stream found second would not be shown
    '-probesize', '10000000', '-analyzeduration', '0', '-fpsprobesize', '0', '-show_entries', 'packet=codec_type,pts_time', '-of', 'compact=p=0',
    `rtmp://127.0.0.1:${ports.rtmp}/live/${key}`]), { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stderr.pipe(createWriteStream(join(dir, `sub-${key}.err`)));
  createInterface({ input: p.stdout }).on('line', (line) => {
    const t = wall();
    if (!line.includes('codec_type=video')) return;
    const m = /pts_time=([\d.]+)/.exec(line);
    if (m) arrivals.push({ pts: Number(m[1]), wall: t });
  });
  return { key, proc: p, arrivals };
}

// ---------------------------------------------------------------------------- restream
// The bad destinations of --destinations bad, on this process's event loop (cheap: a few sockets).
let badServers = null;
function listenOn(handler) {
  return new Promise((res) => { const srv = net.createServer(handler); srv.listen(0, '127.0.0.1', () => res(srv)); });
}
async function extraDestinations() {
  const d = o.destinations;
  if (d === 'one') return [];
  const good = /^good:(\d+)$/.exec(d);
  if (good) {
    return Array.from({ length: Number(good[1]) }, (_, i) =>
      ['--rtmp-url', `rtmp://127.0.0.1:${ports.rtmp}/live/{key}-extra${i + 1}`]).flat();
  }
  if (d !== 'bad') throw new Error('--destinations: one, bad or good:K');
  if (!badServers) {
    // refused: a port that was free a moment ago
    const probe = await listenOn(() => {});
    const refused = probe.address().port;
    await new Promise((r) => probe.close(r));
    // blackhole: accepts, never reads
    const held = [];
    const blackhole = await listenOn((sock) => { sock.pause(); held.push(sock); });
    // slow: forwards to nginx reading the client at 80 kB/s (about half of a 1.3 Mbit/s stream)
    const slow = await listenOn((client) => {
      const up = net.connect(ports.rtmp, '127.0.0.1');
      up.on('data', (b) => client.write(b));
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
      client.pause();
      const tick = setInterval(() => {
        let budget = 4000; // per 50 ms
        while (budget > 0) {
          const chunk = client.read(Math.min(budget, client.readableLength || budget));
          if (!chunk) break;
          up.write(chunk);
          budget -= chunk.length;
        }
      }, 50);
      client.on('close', () => { clearInterval(tick); up.destroy(); });
    });
    badServers = { refused, blackhole: blackhole.address().port, slow: slow.address().port };
    log(`bad destinations: refused :${refused}, blackhole :${badServers.blackhole}, slow :${badServers.slow}`);
  }
  return ['refused', 'blackhole', 'slow'].flatMap((name) =>
    ['--rtmp-url', `rtmp://127.0.0.1:${badServers[name]}/live/{key}-${name}`]);
}

// ---------------------------------------------------------------------------- one case
// dests: how many destinations each stream goes to (restream; the others are other keys, same nginx)
async function runCase(target, N, dests = 1) {
  const daemon = target !== 'peer'; // ours (WebSocket) and whip both measure wsrtmpd
  const tag = `${target[0]}${o.scenario[0]}${N}x${String(Date.now() % 1e6).padStart(6, '0')}`;
  const dir = join(outDir, `${target}-n${N}${dests > 1 ? `-d${dests}` : ''}`);
  mkdirSync(dir, { recursive: true });
  const recDir = join(outDir, 'nginx', 'rec');
  let server;
  if (daemon) {
    server = spawnServer(...niced(o.wsrtmpd, ['--listen', `127.0.0.1:${ports.ours}`,
      '--rtmp-url', `rtmp://127.0.0.1:${ports.rtmp}/live`, ...(await extraDestinations()),
      ...Array.from({ length: dests - 1 }, (_, i) => ['--rtmp-url', `rtmp://127.0.0.1:${ports.rtmp}/live/{key}-d${i + 2}`]).flat(),
      ...(slate ? ['--continuity-timeout', '3600'] : []), '--max-sessions', '0',
      // without --offer, what the machine does beyond its capacity: the overload guard off
      // The machine's CPU is watched here (wsrtmpd's default leaves it off): the bench's own
      // senders and nginx share this machine, as another tenant would.
      ...(offering ? ['overload-delay-ms', 'overload-cpu-percent', 'overload-machine-percent'].flatMap((k) => (o[k] !== undefined ? [`--${k}`, o[k]]
        : k === 'overload-machine-percent' ? [`--${k}`, '90'] : []))
        : ['--overload-delay-ms', '0', '--overload-cpu-percent', '0', '--overload-machine-percent', '0']),
      '--max-connections-per-ip', '0',
      '--x264-preset', o['x264-preset'], '--framerate', o.framerate,
      '--audio-channels', o['audio-channels'],
      ...(target === 'whip' && o['whip-jitter-ms'] !== undefined ? ['--whip-jitter-ms', o['whip-jitter-ms']] : [])]),
    { env: gstEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  } else {
    const logDir = join(dir, 'ffmpeg');
    mkdirSync(logDir, { recursive: true });
    server = spawnServer(...niced('node', ['server.mjs']), { cwd: peerDir, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MODE: sc.peerMode, PORT: String(ports.peer), HOST: '127.0.0.1',
        RTMP_BASE: `rtmp://127.0.0.1:${ports.rtmp}/live`, FFMPEG_LOG_DIR: logDir, FFMPEG_LOGLEVEL: 'warning' } });
  }
  server.stdout.pipe(createWriteStream(join(dir, 'server.out')));
  server.stderr.pipe(createWriteStream(join(dir, 'server.err')));
  const port = daemon ? ports.ours : ports.peer;
  await Promise.race([waitPort(port), new Promise((_, rej) => server.once('exit', (code) =>
    rej(new Error(`${target} server exited (${code}) at start: see ${join(dir, 'server.err')}`))))]);

  // sampler: the server (ours: wsrtmpd alone; peer: node and every ffmpeg) and the machine
  const samples = [];
  const machine = [];
  const others = { nginx: [], loadgen: [] };
  const nginxPid = Number(readFileSync(join(outDir, 'nginx', 'nginx.pid'), 'utf8'));
  let loadgen = null;
  const sampler = setInterval(() => {
    const s = sampleTree(server.pid, true);
    if (s) samples.push(s);
    machine.push(sampleMachine());
    const n = sampleTree(nginxPid, true);
    if (n) others.nginx.push(n);
    // WHIP: whipgen and its whip_send.py processes (the senders' cost, not the server's)
    if (loadgen?.pid) { const l = sampleTree(loadgen.pid, target === 'whip'); if (l) others.loadgen.push(l); }
  }, 500);
  await sleep(2000); // idle baseline
  const idle = samples.at(-1);
  if (!idle) throw new Error(`${target} server is gone: see ${join(dir, 'server.err')}`);

  // --perf: a CPU profile of wsrtmpd under this load (perf report -i DIR/perf.data)
  const perf = o.perf && daemon
    ? spawn('perf', ['record', '-F', '499', '-g', '-o', join(dir, 'perf.data'), '-p', String(server.pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
    : null;
  const L = Math.min(N, Number(o['latency-streams']));
  const subs = Array.from({ length: L }, (_, i) => subscribe(`${tag}-${i}`, dir));
  await sleep(600);

  // publish times from /stat
  const published = {};
  const unpublished = {};
  let statRunning = true;
  const statLoop = (async () => {
    let seen = new Set();
    while (statRunning) {
      const st = await fetchStat();
      if (st.streams) {
        for (const [k, v] of Object.entries(st.streams)) if (k.startsWith(`${tag}-`)) { published[k] ??= v.since; }
        for (const k of seen) if (!st.streams[k]) unpublished[k] ??= st.t;
        seen = new Set(Object.keys(st.streams).filter((k) => k.startsWith(`${tag}-`)));
      }
      await sleep(250);
    }
  })();

  // --offer: streamers arrive 100 ms apart (the guard samples once a second), not all at once
  const stagger = o['stagger-ms'] !== undefined ? Number(o['stagger-ms'])
    : offering ? 100 : Math.min(100, Math.floor(4000 / N));
  const url = target === 'ours' ? `ws://127.0.0.1:${ports.ours}/ingest/{key}` : `ws://127.0.0.1:${ports.peer}/{key}`;
  const lgOut = join(dir, 'loadgen.json');
  const tLoad = wall();
  // a WHIP sender stops (DELETE) this long after connecting: its last frame, and 0.5 s for it to arrive
  const whipSeconds = round(Math.max(source.video.last, source.audio.last) + 0.5, 1);
  if (target === 'whip') {
    // A WHIP sender starts a Python + GStreamer process and an ICE/DTLS handshake: spread wider
    // (and at most 4 offers of one address wait at once in the endpoint; whipgen retries a 429).
    const whipStagger = o['stagger-ms'] !== undefined ? Number(o['stagger-ms']) : Math.min(250, Math.floor(8000 / N));
    log(`${target} N=${N}: WHIP senders (${tag}-*, stagger ${whipStagger} ms)`);
    loadgen = spawn(...niced('node', [join(here, 'lib/whipgen.mjs'), '--url', `http://127.0.0.1:${ports.ours}/whip`,
      '--recording', sourceFile, '--seconds', String(whipSeconds), '--streams', String(N), '--key-prefix', tag, '--stagger-ms', String(whipStagger), '--out', lgOut]),
    { stdio: ['ignore', 'pipe', 'inherit'] });
  } else {
    log(`${target} N=${N}: replaying (${tag}-*, stagger ${stagger} ms)`);
    loadgen = spawn(...niced('node', [join(here, 'lib/loadgen.mjs'), '--url', url, '--fixture', fixture, '--streams', String(N),
      '--key-prefix', tag, '--duration', String(durationS), '--stagger-ms', String(stagger), '--out', lgOut,
      ...(slate ? ['--cut'] : [])]),
    { stdio: ['ignore', 'pipe', 'inherit'] });
  }
  let lgLine = '';
  loadgen.stdout.on('data', (d) => { lgLine += d; });
  await exited(loadgen, 3600e3);
  const tSent = wall();
  if (perf && !slate) await stopChild(perf, 'SIGINT', 30000);

  // slate: every connection is cut; the broadcasts stay on air on their slates. After 3 s to settle,
  // wsrtmpd is sampled for --slate-seconds; then it is stopped, which ends the broadcasts.
  let slateFig = null;
  if (slate) {
    await sleep(3000);
    const from = wall();
    await sleep(slateSeconds * 1000);
    const to = wall();
    const st = await fetchStat();
    const onAir = st.streams ? Object.keys(st.streams).filter((k) => k.startsWith(`${tag}-`)).length : null;
    if (perf) await stopChild(perf, 'SIGINT', 30000);
    const inWindow = samples.filter((x) => x.t >= from && x.t <= to);
    const cpuSlate = cpuPercent(samples, from, to);
    const pss = Math.max(...inWindow.map((x) => x.pss_kb)) / 1024;
    const rss = Math.max(...inWindow.map((x) => x.rss_kb)) / 1024;
    slateFig = { window: [from, to], cpu_raw: cpuSlate, window_s: round((to - from) / 1000, 1), on_slate: onAir,
      cpu_pct: round(cpuSlate), cpu_pct_per_stream: round(cpuSlate / N, 2),
      peak_pss_mb: round(pss), pss_mb_per_stream: round(pss / N, 2), pss_mb_per_added_stream: round((pss - idle.pss_kb / 1024) / N, 2),
      peak_rss_mb: round(rss), threads: Math.max(...inWindow.map((x) => x.threads ?? 0)) };
    log(`${target} N=${N}: on slate ${onAir}/${N}, CPU ${slateFig.cpu_pct} % (${slateFig.cpu_pct_per_stream} %/stream), PSS ${slateFig.peak_pss_mb} MB`);
    await stopChild(server, 'SIGTERM', 15000);
  }

  // drain: until nginx lists none of this case's streams as publishing (at most 30 s)
  const drainUntil = wall() + 30000;
  while (wall() < drainUntil) {
    const st = await fetchStat();
    if (st.streams && !Object.keys(st.streams).some((k) => k.startsWith(`${tag}-`))) break;
    await sleep(200);
  }
  const tDrained = wall();
  await sleep(1000);
  statRunning = false;
  await statLoop;
  clearInterval(sampler);
  for (const s of subs) await stopChild(s.proc, 'SIGINT', 2000);
  await stopChild(server, 'SIGTERM', 15000);

  // ---------------------------------------------------------------- figures
  const lg = existsSync(lgOut) ? JSON.parse(readFileSync(lgOut, 'utf8')) : { results: [], failed: N };
  // WHIP: a sender plays the recording from its start once connected, in real time, so the
  // message k of the recording has left it at about connected_wall + its offset, and its last
  // frame at connected_wall + that frame's pts (what the CPU window and the drain are judged on)
  if (target === 'whip') {
    const lastPts = Math.max(source.video.last, source.audio.last);
    for (const r of lg.results) {
      r.sends = r.connected_wall ? offsets.slice(0, lastChunk + 1).map((t) => r.connected_wall + t) : [];
      r.last_send_wall = r.connected_wall ? r.connected_wall + lastPts * 1000 : null;
      r.stop_wall = r.connected_wall ? r.connected_wall + whipSeconds * 1000 : null; // its DELETE
      r.close_code = r.error ? null : 1000;
      r.max_late_ms = 0;
    }
  }
  // --offer: the streams the overload guard refused (closed with 1013) are counted, not judged
  const refusedKeys = new Set(offering ? lg.results.filter((r) => r.close_code === 1013).map((r) => r.key) : []);
  const results = lg.results.filter((r) => !refusedKeys.has(r.key));
  const M = N - refusedKeys.size; // streams judged: all of them, or the admitted ones
  const failedJudged = offering ? results.filter((r) => r.error || r.aborted || ![1000, 1005].includes(r.close_code)).length : lg.failed;
  const firstSends = results.map((r) => r.sends[0]).filter(Boolean);
  const lastSends = results.map((r) => r.last_send_wall).filter(Boolean);
  // CPU over the span in which all N streams were sending (after a 1 s settle), else the whole replay
  let from = Math.max(...firstSends) + 1000;
  let to = Math.min(...lastSends);
  let window = 'all streams active';
  if (!(to - from >= 5000)) { from = Math.min(...firstSends); to = Math.max(...lastSends); window = 'whole replay'; }
  let cpu = cpuPercent(samples, from, to);
  const mA = machine.find((s) => s.t >= from);
  const mB = machine.findLast((s) => s.t <= to);
  const machineBusy = mA && mB && mB.total > mA.total ? (mB.busy - mA.busy) / (mB.total - mA.total) * os.cpus().length * 100 : null;
  const runSamples = samples.filter((s) => s.t >= tLoad && s.t <= tDrained + 1000);
  const peakRss = Math.max(...runSamples.map((s) => s.rss_kb)) / 1024;
  const peakPss = Math.max(...runSamples.map((s) => s.pss_kb)) / 1024;
  // steady PSS: the median over the sending window (all streams active), not moved by a short
  // start-up transient the way the peak is (seen: +10..20 MB and +5..10 threads for < 0.5 s)
  const steadyKb = percentile(samples.filter((x) => x.t >= from && x.t <= to).map((x) => x.pss_kb), 0.5);
  const steadyPss = steadyKb === null ? null : steadyKb / 1024;

  // every stream: what nginx recorded, against what was sent
  const vTarget = source.video;
  const aTarget = source.audio;
  // A slated broadcast's recording holds what was sent, then at least the measured slate window.
  const checkRecording = async (file, r) => {
    const got = existsSync(file) ? await probe(file) : { error: 'no recording' };
    const sentAll = r.sends.length === lastChunk + 1;
    let why = '';
    if (got.error) why = got.error;
    else if (!got.video || !got.audio) why = `missing ${!got.video ? 'video' : 'audio'}`;
    else if (got.video.codec !== 'h264' || got.audio.codec !== 'aac') why = `codecs ${got.video.codec}/${got.audio.codec}`;
    else if (!sentAll) why = `only ${r.sends.length}/${lastChunk + 1} messages sent`;
    else {
      const probs = [];
      if (got.video.packets < vTarget.packets - 1) probs.push(`video frames ${got.video.packets}/${vTarget.packets}`);
      if (slate) {
        const want = vTarget.span + (slateFig?.window_s ?? 0);
        if (got.video.span < want) probs.push(`video span ${got.video.span} s, slate included, < ${round(want)} s`);
        if (got.audio.span < want) probs.push(`audio span ${got.audio.span} s, slate included, < ${round(want)} s`);
      } else {
        if (Math.abs(got.video.span - vTarget.span) > 0.2) probs.push(`video span ${got.video.span}/${vTarget.span} s`);
        if (Math.abs(got.audio.span - aTarget.span) > 0.2) probs.push(`audio span ${got.audio.span}/${aTarget.span} s`);
      }
      why = probs.join(', ');
    }
    return { got, why };
  };
  const streams = await mapLimit(results, 2, async (r) => {
    const file = join(recDir, `${r.key}.flv`);
    const { got, why } = await checkRecording(file, r);
    // restream: the other destinations' recordings (same checks)
    const extra = [];
    for (let d = 2; d <= dests; d++) extra.push((await checkRecording(join(recDir, `${r.key}-d${d}.flv`), r)).why);
    const recMtime = existsSync(file) && !slate ? statSync(file).mtimeMs : null;
    return {
      extra_destinations_complete: dests > 1 ? extra.filter((w) => !w).length : undefined,
      extra_destinations_why: extra.filter(Boolean).slice(0, 2),
      key: r.key, messages: r.sends.length, close_code: r.close_code, error: r.error, output: r.output,
      complete: !why, why,
      video_frames: got.video?.packets ?? 0, video_span: got.video?.span ?? 0, audio_span: got.audio?.span ?? 0,
      // last media written by nginx minus last message sent (WHIP: the DELETE): how far behind the stream ended
      drain_ms: recMtime && r.last_send_wall ? round(recMtime - (r.stop_wall ?? r.last_send_wall), 0) : null,
      publish_ms: published[r.key] && r.sends[0] ? round(published[r.key] - r.sends[0], 0) : null,
      max_late_ms: round(r.max_late_ms, 0),
      rec_first_video_pts: got.video?.first ?? null,
    };
  });

  // latency: subscribed streams, every received frame against the message that completed it
  const lat = [];
  // the same over the CPU window only (all N streams sending): without the ramp, when N WHIP
  // senders start, handshake and compete for the same cores
  const latActive = [];
  const latTail = []; // median latency over the last third of each subscribed stream: growing backlog?
  const firstFrame = [];
  for (const s of subs) {
    const r = results.find((x) => x.key === s.key);
    const st = streams.find((x) => x.key === s.key);
    if (!r || !s.arrivals.length || st?.rec_first_video_pts === null || st?.rec_first_video_pts === undefined) continue;
    const shift = st.rec_first_video_pts - vTarget.first;
    const frames = [];
    let j = 0;
    for (const a of s.arrivals) {
      const t = a.pts - shift;
      if (t > vTarget.last + 0.1) break; // slate frames: after everything that was sent
      // nearest source frame (sources are in pts order: no B-frames in either fixture)
      while (j + 1 < vTarget.pts.length && Math.abs(vTarget.pts[j + 1] - t) <= Math.abs(vTarget.pts[j] - t)) j++;
      const k = vTarget.chunk[j];
      if (k < 0 || k >= r.sends.length) continue;
      // WHIP: the frame itself left the sender at connected_wall + its pts (clocksync from the
      // connection on); the WebSocket: the message that completed it was sent at sends[k]
      const sent = target === 'whip' ? r.connected_wall + vTarget.pts[j] * 1000 : r.sends[k];
      frames.push({ src_pts: vTarget.pts[j], chunk: k, ms: a.wall - sent, sent });
    }
    writeFileSync(join(dir, `latency-${s.key}.json`), JSON.stringify({ shift, frames }));
    firstFrame.push(s.arrivals[0].wall - (target === 'whip' ? r.connected_wall : r.sends[0]));
    for (const f of frames) if (f.src_pts - vTarget.first >= steadyFrom) lat.push(f.ms);
    for (const f of frames) if (f.sent >= from && f.sent <= to) latActive.push(f.ms);
    const tail = frames.filter((f) => f.src_pts - vTarget.first >= vTarget.span * 2 / 3).map((f) => f.ms);
    if (tail.length) latTail.push(percentile(tail, 0.5));
  }

  const publishMs = streams.map((s) => s.publish_ms).filter((x) => x !== null);
  const drains = streams.map((s) => s.drain_ms).filter((x) => x !== null);
  const complete = streams.filter((s) => s.complete).length;
  const outputs = [...new Set(streams.map((s) => s.output).filter(Boolean))];
  // Real time: every stream complete, and none ended (drain) or ran (latency, last third) more than 1 s behind.
  // Slate: every broadcast was still on air at the end of the slate window instead of the drain.
  const extraComplete = dests > 1 ? streams.reduce((a, x) => a + x.extra_destinations_complete, 0) : null;
  const realTime = M > 0 && complete === M && failedJudged === 0
    && (slate ? slateFig?.on_slate === M : drains.length === M && Math.max(...drains) < 1000)
    && (extraComplete === null || extraComplete === N * (dests - 1))
    && (!latTail.length || Math.max(...latTail) < 1000);
  // slate: the headline CPU and PSS figures are those of the broadcasts on slate
  const sendingCpu = cpu;
  if (slateFig) { cpu = slateFig.cpu_raw; window = 'on slate'; }
  const res = {
    target, N, tag,
    ...(offering ? { offered: N, admitted: M, refused: refusedKeys.size } : {}),
    output: daemon ? (outputs.join('+') || 'unknown') : sc.peerMode,
    ...(target === 'whip' ? { whip_retries_429: lg.results.reduce((a, r) => a + (r.retries_429 ?? 0), 0),
      whip_deleted_200: lg.results.filter((r) => r.deleted === 200).length } : {}),
    variant: slate ? 'slate' : o.scenario === 'restream' ? `${dests} dest` : '',
    destinations: dests,
    cpu_window: window, cpu_window_s: slateFig ? slateFig.window_s : round((to - from) / 1000, 1),
    cpu_pct: round(cpu), cpu_pct_per_stream: round(cpu / M, 2),
    // the same streams while they were sending (slate: before the cut; otherwise = cpu_pct)
    sending_cpu_pct: round(sendingCpu), sending_cpu_pct_per_stream: round(sendingCpu / M, 2),
    slate: slateFig ? { ...slateFig, window: undefined, cpu_raw: undefined } : undefined,
    extra_destinations_complete: extraComplete ?? undefined,
    machine_busy_pct: round(machineBusy), nginx_cpu_pct: round(cpuPercent(others.nginx, from, to)),
    loadgen_cpu_pct: round(cpuPercent(others.loadgen, from, to)),
    idle_rss_mb: round(idle.rss_kb / 1024), idle_pss_mb: round(idle.pss_kb / 1024),
    peak_rss_mb: round(peakRss), peak_pss_mb: round(peakPss),
    rss_mb_per_stream: round(peakRss / M, 2), pss_mb_per_stream: round(peakPss / M, 2),
    pss_mb_per_added_stream: round((peakPss - idle.pss_kb / 1024) / M, 2),
    steady_pss_mb: round(steadyPss), steady_pss_mb_per_stream: steadyPss === null ? null : round(steadyPss / M, 2),
    max_procs: Math.max(...samples.map((s) => s.procs)), max_threads: Math.max(...samples.map((s) => s.threads ?? 0)),
    complete, failed_connections: failedJudged, send_late_max_ms: lg.max_late_ms,
    drain_ms_median: round(percentile(drains, 0.5), 0), drain_ms_max: drains.length ? Math.max(...drains) : null,
    real_time: realTime,
    latency_streams: subs.length, latency_frames: lat.length, latency_steady_from_s: steadyFrom,
    latency_last_third_median_ms: round(latTail.length ? Math.max(...latTail) : null, 0),
    latency_ms: { p50: round(percentile(lat, 0.5), 0), p95: round(percentile(lat, 0.95), 0), max: round(lat.length ? Math.max(...lat) : null, 0) },
    latency_all_active_ms: { p50: round(percentile(latActive, 0.5), 0), p95: round(percentile(latActive, 0.95), 0),
      max: round(latActive.length ? Math.max(...latActive) : null, 0), frames: latActive.length },
    first_frame_ms: { median: round(percentile(firstFrame, 0.5), 0), max: round(firstFrame.length ? Math.max(...firstFrame) : null, 0) },
    publish_ms: { median: round(percentile(publishMs, 0.5), 0), p95: round(percentile(publishMs, 0.95), 0), max: publishMs.length ? Math.max(...publishMs) : null, n: publishMs.length },
    video_frames_out: percentile(streams.map((s) => s.video_frames), 0.5), video_frames_in: vTarget.packets,
    incomplete: streams.filter((s) => !s.complete).slice(0, 5).map((s) => `${s.key}: ${s.why}`),
    loadgen: lgLine.trim(),
  };
  writeFileSync(join(dir, 'case.json'), JSON.stringify({ ...res, streams, samples, machine }, null, 1));
  if (offering) log(`${target} offered ${N}: admitted ${M}, refused ${refusedKeys.size} (overload guard)`);
  log(`${target} N=${N}: cpu ${res.cpu_pct}% pss ${res.peak_pss_mb} MB complete ${complete}/${N} drain max ${res.drain_ms_max} ms`
    + ` latency p50/p95/max ${res.latency_ms.p50}/${res.latency_ms.p95}/${res.latency_ms.max} ms publish median ${res.publish_ms.median} ms first frame ${res.first_frame_ms.median} ms`
    + (res.incomplete.length ? `\n  incomplete: ${res.incomplete.join('; ')}` : ''));
  return res;
}

// ---------------------------------------------------------------------------- the run
// Someone else's server on our ports would be measured instead of ours: refuse to start.
function portBusy(port) {
  return new Promise((res) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); res(true); });
    c.once('error', () => { c.destroy(); res(false); });
  });
}
for (const [what, port] of Object.entries(ports)) {
  if (await portBusy(port)) {
    console.error(`port ${port} (${what}) is already in use on 127.0.0.1: choose other ports with --base-port`);
    process.exit(2);
  }
}
const nginxDir = join(outDir, 'nginx');
execFileSync(join(root, 'tests/support/nginx-rtmp.sh'), ['start', nginxDir, String(ports.rtmp), String(ports.stat)], { stdio: ['ignore', 'ignore', 'inherit'] });
const cases = [];
let interrupted = false;
for (const pid of readFileSync(join(nginxDir, 'nginx.pid'), 'utf8').trim().split(/\s+/)) {
  renice(pid);
  try { for (const c of execFileSync('pgrep', ['-P', pid]).toString().trim().split('\n')) renice(c); } catch { /* no worker yet */ }
}
const cleanup = () => { try { execFileSync(join(root, 'tests/support/nginx-rtmp.sh'), ['stop', nginxDir], { stdio: 'ignore' }); } catch { /* already gone */ } };
process.on('SIGINT', () => {
  interrupted = true;
  if (currentServer?.pid) { try { process.kill(-currentServer.pid, 'SIGKILL'); } catch { /* gone */ } }
  cleanup();
  process.exit(130);
});
try {
  // whip-passthrough: the WebSocket and WHIP cases of each N one after the other
  const plan = sc.whip ? oursNs.map((N) => [['ours', 'whip'], [N]]) : [[['ours'], oursNs], [['peer'], peerNs]];
  for (const [targets, list] of plan) for (const target of targets) {
    for (const N of list) {
      let ok = true;
      for (const d of restreamTo > 1 ? [1, restreamTo] : [1]) {
        const r = await runCase(target, N, d);
        cases.push(r);
        ok &&= r.real_time;
      }
      if (o['stop-on-fail'] && !ok) { log(`${target} N=${N} did not keep real time: larger N skipped`); break; }
    }
  }
} finally {
  if (!interrupted) cleanup();
}

// ---------------------------------------------------------------------------- summary
const ours = cases.filter((c) => c.target === 'ours');
const peer = cases.filter((c) => c.target === 'peer');
const maxKept = (list) => Math.max(0, ...list.filter((c) => c.real_time && c.destinations === restreamTo).map((c) => c.N));
const comparisons = [];
for (const a of ours) {
  const b = peer.find((c) => c.N === a.N);
  if (!b) continue;
  const ratio = (x, y) => (x !== null && y ? round(x / y, 3) : null);
  comparisons.push({ N: a.N,
    cpu_per_stream: ratio(a.cpu_pct_per_stream, b.cpu_pct_per_stream),
    pss_per_stream: ratio(a.pss_mb_per_stream, b.pss_mb_per_stream),
    rss_per_stream: ratio(a.rss_mb_per_stream, b.rss_mb_per_stream),
    latency_p95: ratio(a.latency_ms.p95, b.latency_ms.p95),
    publish_median: ratio(a.publish_ms.median, b.publish_ms.median) });
}
// whip-passthrough: WHIP against the WebSocket at the same N, same run (issue 31's budget: CPU per
// stream at most 1.5x; added delay p95 within the jitterbuffer latency + 30 ms)
const whipJitterMs = o['whip-jitter-ms'] !== undefined ? Number(o['whip-jitter-ms']) : 200;
const whipCompare = sc.whip ? cases.filter((c) => c.target === 'whip').map((w) => {
  const ws = ours.find((c) => c.N === w.N);
  const cpuRatio = ws?.cpu_pct_per_stream ? round(w.cpu_pct_per_stream / ws.cpu_pct_per_stream, 2) : null;
  return { N: w.N, cpu_pct_per_stream_whip: w.cpu_pct_per_stream, cpu_pct_per_stream_websocket: ws?.cpu_pct_per_stream ?? null,
    cpu_ratio: cpuRatio, cpu_ratio_budget: 1.5, cpu_ratio_met: cpuRatio !== null ? cpuRatio <= 1.5 : null,
    latency_p95_whip_ms: w.latency_ms.p95, latency_p95_websocket_ms: ws?.latency_ms.p95 ?? null,
    latency_all_active_p95_whip_ms: w.latency_all_active_ms.p95, latency_all_active_p95_websocket_ms: ws?.latency_all_active_ms.p95 ?? null,
    latency_p95_budget_ms: whipJitterMs + 30, latency_p95_met: w.latency_ms.p95 !== null ? w.latency_ms.p95 <= whipJitterMs + 30 : null,
    real_time_whip: w.real_time, real_time_websocket: ws?.real_time ?? null,
    // on the same machine, beside wsrtmpd: what the senders took (whip_send.py processes / loadgen.mjs)
    senders_cpu_pct_whip: w.loadgen_cpu_pct, senders_cpu_pct_websocket: ws?.loadgen_cpu_pct ?? null,
    machine_busy_pct_whip: w.machine_busy_pct, machine_busy_pct_websocket: ws?.machine_busy_pct ?? null };
}) : undefined;
// Streams that fit in the 2 cores by CPU alone, from the largest N that kept real time
const capacity = (list) => {
  const c = list.filter((x) => x.real_time && x.cpu_pct_per_stream && x.destinations === restreamTo).at(-1);
  return c ? Math.floor(os.cpus().length * 100 / c.cpu_pct_per_stream) : null;
};
// restream: what each destination beyond the first costs, per stream, from the two cases at each N
const restream = restreamTo > 1 ? ours.filter((c) => c.destinations === restreamTo).map((c) => {
  const one = ours.find((x) => x.N === c.N && x.destinations === 1);
  const per = (a, b) => (a !== null && b !== null && one ? round((a - b) / (restreamTo - 1), 2) : null);
  return { N: c.N, destinations: restreamTo,
    cpu_pct_per_stream_per_extra_destination: per(c.cpu_pct_per_stream, one?.cpu_pct_per_stream),
    pss_mb_per_stream_per_extra_destination: per(c.steady_pss_mb_per_stream, one?.steady_pss_mb_per_stream),
    latency_p95_delta_ms: one && c.latency_ms.p95 !== null && one.latency_ms.p95 !== null ? c.latency_ms.p95 - one.latency_ms.p95 : null,
    extra_destinations_complete: `${c.extra_destinations_complete}/${c.N * (restreamTo - 1)}` };
}) : undefined;
// slate: a broadcast on slate against the same broadcast while it was sending (passthrough), same case
const slateSummary = slate ? ours.map((c) => ({ N: c.N, on_slate: c.slate?.on_slate,
  cpu_pct_per_stream_on_slate: c.slate?.cpu_pct_per_stream ?? null, cpu_pct_per_stream_sending: c.sending_cpu_pct_per_stream,
  ratio: c.slate?.cpu_pct_per_stream !== undefined && c.sending_cpu_pct_per_stream ? round(c.slate.cpu_pct_per_stream / c.sending_cpu_pct_per_stream, 2) : null,
  pss_mb_per_stream_on_slate: c.slate?.pss_mb_per_stream ?? null, pss_mb_per_added_stream_on_slate: c.slate?.pss_mb_per_added_stream ?? null })) : undefined;
const summary = {
  restream, slate: slateSummary, whip: whipCompare,
  max_streams_kept_real_time: { ours: maxKept(ours), peer: peer.length ? maxKept(peer) : null,
    ratio: peer.length && maxKept(peer) ? round(maxKept(ours) / maxKept(peer), 2) : null,
    note: 'largest N tested that kept real time; a lower bound when the largest N tested passed' },
  cpu_capacity_estimate: { ours: capacity(ours), peer: capacity(peer),
    ratio: capacity(ours) && capacity(peer) ? round(capacity(ours) / capacity(peer), 2) : null,
    note: `${os.cpus().length} cores x 100 % / CPU % per stream at the largest N that kept real time` },
};
let gitRev = null;
try { gitRev = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD']).toString().trim(); } catch { /* no git */ }
const doc = {
  scenario: o.scenario, fixture: basename(fixture), mime: meta.mimeType, timeslice_ms: meta.timeslice_ms, messages: lastChunk + 1,
  slate_after_s: slate ? durationS : undefined, slate_seconds: slate ? slateSeconds : undefined,
  restream_destinations: restreamTo > 1 ? restreamTo : undefined,
  media_s: round(offsets[lastChunk] / 1000, 1), source_video: { codec: source.video.codec, frames: source.video.packets, fps: round(srcFps, 1) },
  x264_preset: o['x264-preset'], framerate: Number(o.framerate), audio_channels: Number(o['audio-channels']), peer: peerNs.length || peer.length ? { dir: peerDir, mode: sc.peerMode } : null, peer_note: peerNote,
  machine: { cores: os.cpus().length, model: os.cpus()[0]?.model, mem_gb: round(os.totalmem() / 2 ** 30, 0), kernel: os.release(), loadavg_at_end: os.loadavg().map((x) => round(x, 2)) },
  git: gitRev, date: new Date().toISOString(),
  latency_definition: `WebSocket send of the message completing a frame -> that frame readable by an RTMP subscriber of nginx; includes nginx and loopback; steady state (frames from ${steadyFrom} s of media on)`
    + (sc.whip ? '; WHIP: the frame\'s scheduled send by the sender (its "connected" line + the frame\'s pts; RTP packetizing, SRTP and loopback on the sender side included) -> readable from nginx' : ''),
  whip_jitter_ms: sc.whip ? whipJitterMs : undefined,
  nice: niceN, publish_definition: 'first WebSocket message sent -> the RTMP publish seen by nginx (its /stat client time); first_frame = first message sent -> first video frame readable from nginx',
  cases, comparisons, summary,
};
writeFileSync(join(outDir, 'results.json'), JSON.stringify(doc, null, 1));

// table
const pad = (s, n) => String(s ?? '-').padStart(n);
const lines = [];
lines.push(`wsrtmp bench: scenario ${o.scenario}, ${basename(fixture)} (${meta.mimeType}, ${source.video.codec} ${round(srcFps, 0)} fps), ${round(offsets[lastChunk] / 1000, 1)} s per stream, x264 ${o['x264-preset']} (ours at ${o.framerate} fps when encoding), AAC ${o['audio-channels'] === '1' ? 'mono' : 'stereo'} (ours; the peer keeps the input's ${source.audio?.channels ?? '?'} channel(s)), ${os.cpus().length} cores${gitRev ? `, git ${gitRev}` : ''}`);
lines.push(`CPU = % of one core, mean while all streams ${slate ? 'are on slate' : 'send'}; RSS/PSS = peak over the run, total (per stream)`);
if (slate) lines.push(`slate: each stream sends ${durationS} s, then its socket is cut (no close frame); CPU% = while all N broadcasts are on slate (${slateSeconds} s, from 3 s after the cut); sending = the same streams before the cut`);
if (restreamTo > 1) lines.push(`restream: every N twice, 1 destination and ${restreamTo} (the others: other keys on the same nginx); complete counts the first destination, +dest the others`);
lines.push(`latency = WebSocket send -> frame readable from nginx (incl. nginx + loopback), frames from ${steadyFrom} s on, ms; publish = first message -> RTMP publish in nginx; 1st frame = first message -> first frame readable; machine% = whole machine busy (of ${os.cpus().length * 100})${niceN ? `; bench processes at nice ${niceN}` : ''}`);
lines.push('');
let head = ['target', 'output', 'N', 'CPU%', 'CPU%/str', 'RSS MB (/str)', 'PSS MB (/str)', 'complete', 'real time', 'drain max', 'lat p50/p95/max', 'publish med/max', '1st frame', 'frames out/in', 'threads', 'machine%'];
let rows = cases.map((c) => [c.target, c.output, c.N, c.cpu_pct, c.cpu_pct_per_stream,
  `${c.peak_rss_mb} (${c.rss_mb_per_stream})`, `${c.peak_pss_mb} (${c.pss_mb_per_stream})`,
  `${c.complete}/${c.admitted ?? c.N}`, c.real_time ? 'yes' : 'NO', c.drain_ms_max,
  `${c.latency_ms.p50}/${c.latency_ms.p95}/${c.latency_ms.max}`, `${c.publish_ms.median}/${c.publish_ms.max}`, c.first_frame_ms.median,
  `${c.video_frames_out}/${c.video_frames_in}`, c.max_threads, c.machine_busy_pct]);
// slate and restream: which case, and its own figures (columns only for these scenarios)
if (slate) {
  head = [...head.slice(0, 2), 'case', ...head.slice(2, 5), 'sending CPU%/str', 'on slate', ...head.slice(5)];
  rows = rows.map((r, i) => [...r.slice(0, 2), 'slate', ...r.slice(2, 5), cases[i].sending_cpu_pct_per_stream, `${cases[i].slate?.on_slate ?? '-'}/${cases[i].N}`, ...r.slice(5)]);
} else if (restreamTo > 1) {
  head = [...head.slice(0, 2), 'case', ...head.slice(2, 8), '+dest', ...head.slice(8)];
  rows = rows.map((r, i) => [...r.slice(0, 2), `${cases[i].destinations} dest`, ...r.slice(2, 8),
    cases[i].destinations > 1 ? `${cases[i].extra_destinations_complete}/${cases[i].N * (cases[i].destinations - 1)}` : '-', ...r.slice(8)]);
}
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '-').length)));
lines.push(head.map((h, i) => pad(h, widths[i])).join('  '));
for (const r of rows) lines.push(r.map((x, i) => pad(x, widths[i])).join('  '));
lines.push('');
if (comparisons.length) {
  lines.push('ours / peer at the same N (lower is better):');
  for (const c of comparisons) {
    lines.push(`  N=${c.N}: CPU/stream ${c.cpu_per_stream}  PSS/stream ${c.pss_per_stream}  RSS/stream ${c.rss_per_stream}  latency p95 ${c.latency_p95}  publish ${c.publish_median}`);
  }
  const m = summary.max_streams_kept_real_time;
  lines.push(`max streams kept in real time (tested): ours ${m.ours}, peer ${m.peer}${m.ratio ? ` (ratio ${m.ratio}, lower bound)` : ''}`);
  const k = summary.cpu_capacity_estimate;
  lines.push(`streams the cores could carry by CPU/stream: ours ~${k.ours}, peer ~${k.peer}${k.ratio ? ` (ratio ${k.ratio})` : ''}`);
} else if (peerNote) {
  lines.push(peerNote);
}
for (const r of summary.restream ?? []) {
  lines.push(`restream N=${r.N}: each destination beyond the first costs ${r.cpu_pct_per_stream_per_extra_destination} % of a core and ${r.pss_mb_per_stream_per_extra_destination} MB PSS (steady) per stream; latency p95 ${r.latency_p95_delta_ms >= 0 ? '+' : ''}${r.latency_p95_delta_ms} ms against one destination; other destinations complete ${r.extra_destinations_complete}`);
}
for (const r of summary.whip ?? []) {
  lines.push(`WHIP / WebSocket N=${r.N}: CPU per stream ${r.cpu_pct_per_stream_whip} % against ${r.cpu_pct_per_stream_websocket} % (ratio ${r.cpu_ratio}, budget 1.5: ${r.cpu_ratio_met ? 'met' : 'MISSED'});`
    + ` added delay p95 ${r.latency_p95_whip_ms} ms against ${r.latency_p95_websocket_ms} ms (budget jitterbuffer ${whipJitterMs} + 30 = ${r.latency_p95_budget_ms} ms: ${r.latency_p95_met ? 'met' : 'MISSED'}),`
    + ` ${r.latency_all_active_p95_whip_ms} ms against ${r.latency_all_active_p95_websocket_ms} ms while all N were sending;`
    + ` senders ${r.senders_cpu_pct_whip} % against ${r.senders_cpu_pct_websocket} %, machine ${r.machine_busy_pct_whip} % against ${r.machine_busy_pct_websocket} % (of ${os.cpus().length * 100})`);
}
for (const r of summary.slate ?? []) {
  lines.push(`slate N=${r.N}: ${r.on_slate}/${r.N} on slate, CPU per stream on slate ${r.cpu_pct_per_stream_on_slate} % against ${r.cpu_pct_per_stream_sending} % while sending (ratio ${r.ratio}); PSS per stream on slate ${r.pss_mb_per_stream_on_slate} MB (${r.pss_mb_per_added_stream_on_slate} MB above idle)`);
}
for (const c of cases.filter((x) => x.offered !== undefined)) {
  lines.push(`offer N=${c.N} (overload guard on): admitted ${c.admitted}, refused ${c.refused}; real time over the admitted: ${c.real_time ? 'yes' : 'NO'}`);
}
for (const c of cases.filter((x) => x.incomplete.length)) lines.push(`${c.target} N=${c.N} incomplete: ${c.incomplete.join('; ')}`);
lines.push(`results: ${outDir}/results.json`);
writeFileSync(join(outDir, 'table.txt'), lines.join('\n') + '\n');
console.log(lines.join('\n'));

// plot (gnuplot, if installed): CPU, RSS, PSS and the delay (p50, p95) against N, one line per series
try {
  execFileSync('sh', ['-c', 'command -v gnuplot']);
  const series = [];
  for (const [target, label, color, pt] of [['ours', 'wsrtmpd', '#1f77b4', 7], ['whip', 'wsrtmpd, WHIP', '#ff7f0e', 9], ['peer', 'node+ffmpeg peer', '#d62728', 5]]) {
    const list = cases.filter((c) => c.target === target);
    for (const d of [...new Set(list.map((c) => c.destinations))]) {
      const file = `${target}${d > 1 ? `-d${d}` : ''}.dat`;
      series.push({ file, title: `${label}${restreamTo > 1 ? `, ${d} dest` : ''}`,
        color: d > 1 ? '#2ca02c' : color, pt, list: list.filter((c) => c.destinations === d) });
    }
  }
  // columns: N cpu rss pss not-real-time(1) latency-p50 latency-p95 (slate: CPU, RSS and PSS on slate)
  const num = (x) => (x === null || x === undefined ? 'NaN' : x);
  for (const x of series) {
    writeFileSync(join(outDir, x.file), x.list.map((c) => [c.N, num(c.cpu_pct),
      num(slate ? c.slate?.peak_rss_mb : c.peak_rss_mb), num(slate ? c.slate?.peak_pss_mb : c.peak_pss_mb),
      c.real_time ? 0 : 1, num(c.latency_ms.p50), num(c.latency_ms.p95)].join(' ')).join('\n') + '\n');
  }
  const failedMark = (col) => (cases.some((c) => !c.real_time)
    ? series.map((x, i) => `'${x.file}' using 1:($5 > 0 ? $${col} : 1/0) with points pt 2 ps 3 lw 2 lc rgb 'black' ${i ? 'notitle' : "title 'not real time'"}`) : []);
  const plots = (col) => [...series.map((x) => `'${x.file}' using 1:${col} with linespoints lw 2 pt ${x.pt} lc rgb '${x.color}' title '${x.title}'`),
    ...failedMark(col)].join(', ');
  const delay = [...series.flatMap((x) => [
    `'${x.file}' using 1:7 with linespoints lw 2 pt ${x.pt} lc rgb '${x.color}' title '${x.title} p95'`,
    `'${x.file}' using 1:6 with linespoints lw 2 dt 2 pt ${x.pt + 1} lc rgb '${x.color}' title '${x.title} p50'`]),
  ...failedMark(7)].join(', ');
  const gp = `set terminal pngcairo size 1200,900 font 'sans,10'
set output 'plot.png'
set multiplot layout 2,2 title "wsrtmp bench: ${o.scenario} (${basename(fixture)}), ${os.cpus().length} cores"
set key top left
set grid
set logscale x 2
set yrange [0:*]
set xlabel 'concurrent streams'
set ylabel 'CPU, % of one core (mean${slate ? ', on slate' : ''})'
plot ${plots(2)}
set ylabel 'peak RSS, MB (sum over processes${slate ? ', on slate' : ''})'
plot ${plots(3)}
set ylabel 'peak PSS, MB${slate ? ' (on slate)' : ''}'
plot ${plots(4)}
set ylabel 'added delay, ms (send -> readable from nginx${slate ? ', before the cut' : ''})'
set key center right
plot ${delay}
unset multiplot
`;
  writeFileSync(join(outDir, 'plot.gp'), gp);
  execFileSync('gnuplot', ['plot.gp'], { cwd: outDir });
  console.log(`plot: ${outDir}/plot.png`);
} catch (e) {
  console.log(`no plot: ${e.message.split('\n')[0]} (install gnuplot-nox)`);
}
process.exit(0);
