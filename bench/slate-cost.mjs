#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// What a broadcast on slate costs, beside what a passthrough stream costs, in the same run:
// N WebSockets replay Chromium's H.264 recording (passed through) to wsrtmpd, which publishes to
// our own nginx-rtmp; wsrtmpd's CPU is sampled while they stream; then every connection is cut
// (no close frame, as a network drop) and the N broadcasts stay on slate (--continuity-timeout)
// while wsrtmpd's CPU is sampled again.
//
//   node bench/slate-cost.mjs [--streams 8] [--seconds 15] [--wsrtmpd PATH] [--no-slate]
//                             [--base-port 19650] [--out FILE]
//
// --no-slate measures only the passthrough phase and passes no continuity option (for a wsrtmpd
// from before continuity: the before/after comparison of passthrough CPU).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { cpuPercent, sampleTree } from './lib/procstat.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const { values: o } = parseArgs({ options: {
  streams: { type: 'string', default: '8' },
  seconds: { type: 'string', default: '15' },
  wsrtmpd: { type: 'string', default: join(root, 'build/service/wsrtmpd') },
  'plugin-path': { type: 'string', default: join(root, 'build/plugin') },
  'no-slate': { type: 'boolean', default: false },
  'base-port': { type: 'string', default: '19650' },
  out: { type: 'string' },
} });
const N = Number(o.streams);
const seconds = Number(o.seconds);
const port = Number(o['base-port']);
const fixture = join(root, 'tests/data/chrome-h264-opus-kf2s-30s-250ms');
const meta = JSON.parse(readFileSync(join(fixture, 'meta.json'), 'utf8'));
const chunks = readdirSync(fixture).filter((f) => /^chunk-\d+\.bin$/.test(f)).sort()
  .map((f) => readFileSync(join(fixture, f)));
const times = meta.chunk_list.map((c) => c.t_ms - meta.chunk_list[0].t_ms);

const dir = mkdtempSync(join(tmpdir(), 'wsrtmp-slate-'));
const nginx = join(root, 'tests/support/nginx-rtmp.sh');
const rtmp = execFileSync(nginx, ['start', join(dir, 'nginx'), String(port), String(port + 1)])
  .toString().trim().split('\n').pop();
const args = ['--listen', `127.0.0.1:${port + 2}`, '--rtmp-url', rtmp, '--max-sessions', '0',
  '--idle-timeout', '3600'];
if (!o['no-slate']) args.push('--continuity-timeout', '3600');
const daemon = spawn(o.wsrtmpd, args, {
  env: { ...process.env, GST_PLUGIN_PATH: o['plugin-path'] }, stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise((ok) => daemon.stdout.on('data', (d) => d.toString().includes('listening') && ok()));

const samples = [];
const sampler = setInterval(() => { const s = sampleTree(daemon.pid, false); if (s) samples.push(s); }, 500);
const now = () => performance.timeOrigin + performance.now();

// Each stream replays the recording in real time, looping it, until told to stop.
let stop = false;
async function stream(i) {
  const ws = new WebSocket(`ws://127.0.0.1:${port + 2}/ingest/slate-${i}`, { perMessageDeflate: false });
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  const start = now();
  for (let k = 0; !stop && k < chunks.length; k++) {
    const due = start + times[k] - now();
    if (due > 0) await sleep(due);
    ws.send(chunks[k]);
  }
  return ws;
}
const streams = [];
for (let i = 0; i < N; i++) { streams.push(stream(i)); await sleep(250 / N); }
const warm = now() + 4000;
await sleep(4000 + seconds * 1000);
const passthrough = cpuPercent(samples, warm, now());
const rssStreaming = samples.at(-1).rss_kb;
stop = true;
const sockets = await Promise.all(streams);

let slate = null, rssSlate = null;
if (!o['no-slate']) {
  for (const ws of sockets) ws.terminate(); // a drop: no close frame
  await sleep(3000);
  const from = now();
  await sleep(seconds * 1000);
  slate = cpuPercent(samples, from, now());
  rssSlate = samples.at(-1).rss_kb;
}
clearInterval(sampler);
daemon.kill('SIGKILL');
execFileSync(nginx, ['stop', join(dir, 'nginx')]);
rmSync(dir, { recursive: true, force: true });

const per = (x) => (x === null ? null : Math.round(x / N * 100) / 100);
const result = {
  streams: N, seconds, wsrtmpd: o.wsrtmpd,
  passthrough_cpu_percent_per_stream: per(passthrough),
  slate_cpu_percent_per_stream: per(slate),
  rss_kb_streaming: rssStreaming, rss_kb_on_slate: rssSlate,
};
console.log(`${N} streams, ${seconds} s each phase (% of one core per stream):`);
console.log(`  passthrough: ${result.passthrough_cpu_percent_per_stream} %`);
if (slate !== null) console.log(`  on slate:    ${result.slate_cpu_percent_per_stream} %`);
console.log(`  RSS: ${rssStreaming} kB streaming${rssSlate ? `, ${rssSlate} kB on slate` : ''}`);
if (o.out) writeFileSync(o.out, JSON.stringify(result, null, 2));
process.exit(0);
