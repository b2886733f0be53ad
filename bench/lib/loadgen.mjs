#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// Load generator: replays one browser recording (tests/data/<name>/chunk-NNNNN.bin, one file per
// MediaRecorder `dataavailable` Blob) over N concurrent WebSockets, one binary message per chunk,
// at the pace the browser produced them (meta.json chunk_list[].t_ms). Every stream gets its own key.
//
//   node loadgen.mjs --url 'ws://127.0.0.1:19452/ingest/{key}' --fixture DIR --streams N
//                    [--key-prefix P] [--duration S] [--stagger-ms MS] [--cut] [--out FILE]
//
// Stream i uses key "<P>-<i>". --duration S sends only the chunks due in the first S seconds
// (0 = the whole recording). The socket is closed with 1000 after the last chunk has left, like a
// page that stops its recorder; with --cut the TCP connection is dropped instead, without a close
// frame, like a network failure (the server's broadcast then goes on slate). Text frames from the server are read: the last {"type":"stats"}
// frame's "output" and "state" are kept.
//
// --out FILE gets a JSON document with, per stream, the wall time (ms since the epoch,
// performance.timeOrigin based) of every send, the bytes sent, how late the sends were against
// the schedule, and how the connection ended. Exit status 1 when a connection failed.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

const { values: o } = parseArgs({ options: {
  url: { type: 'string' },
  fixture: { type: 'string' },
  streams: { type: 'string', default: '1' },
  'key-prefix': { type: 'string', default: 'bench' },
  duration: { type: 'string', default: '0' },
  'stagger-ms': { type: 'string', default: '0' },
  cut: { type: 'boolean', default: false },
  out: { type: 'string' },
} });
if (!o.url || !o.fixture) {
  console.error('usage: loadgen.mjs --url URL_WITH_{key} --fixture DIR [--streams N] [--out FILE]');
  process.exit(2);
}

export const wall = () => performance.timeOrigin + performance.now();

const meta = JSON.parse(readFileSync(join(o.fixture, 'meta.json'), 'utf8'));
const names = readdirSync(o.fixture).filter((f) => /^chunk-\d+\.bin$/.test(f)).sort();
const chunks = names.map((f) => readFileSync(join(o.fixture, f)));
const list = Array.isArray(meta.chunk_list) && meta.chunk_list.length === chunks.length ? meta.chunk_list : null;
const slice = Number(meta.timeslice_ms) || 250;
const offsets = list && list.every((c) => typeof c.t_ms === 'number')
  ? list.map((c) => c.t_ms - list[0].t_ms)
  : chunks.map((_, k) => k * slice);
const durationMs = Number(o.duration) * 1000;
const last = durationMs > 0 ? Math.max(0, offsets.findLastIndex((t) => t < durationMs)) : chunks.length - 1;
const N = Number(o.streams);
const stagger = Number(o['stagger-ms']);

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function stream(i) {
  const key = `${o['key-prefix']}-${i}`;
  const r = { i, key, sends: [], bytes: 0, max_late_ms: 0, max_buffered: 0, output: null,
    state: null, stats_frames: 0, close_code: null, close_reason: '', close_wall: null,
    error: null, aborted: false, open_ms: null };
  await sleep(i * stagger);
  const t0 = wall();
  let ws;
  try {
    ws = await open(o.url.replace('{key}', key));
  } catch (e) {
    r.error = `open: ${e.message}`;
    return r;
  }
  r.open_ms = wall() - t0;
  const closed = new Promise((resolve) => ws.once('close', (code, reason) => {
    r.close_code = code;
    r.close_reason = reason.toString();
    r.close_wall = wall();
    resolve();
  }));
  ws.on('error', (e) => { r.error ??= e.message; });
  ws.on('message', (data, binary) => {
    if (binary) return;
    try {
      const m = JSON.parse(data.toString());
      if (m.type === 'stats') {
        r.stats_frames++;
        if (m.output) r.output = m.output;
      }
      if (m.type === 'state' || m.state) r.state = m.state;
    } catch { /* not ours to judge */ }
  });
  const start = wall();
  for (let k = 0; k <= last; k++) {
    const due = start + offsets[k];
    const wait = due - wall();
    if (wait > 0) await sleep(wait);
    if (ws.readyState !== WebSocket.OPEN) { r.aborted = true; break; }
    const now = wall();
    r.max_late_ms = Math.max(r.max_late_ms, now - due);
    ws.send(chunks[k], { binary: true });
    r.sends.push(Math.round(now * 10) / 10);
    r.bytes += chunks[k].length;
    r.max_buffered = Math.max(r.max_buffered, ws.bufferedAmount);
  }
  r.last_send_wall = r.sends.at(-1) ?? null;
  if (o.cut && !r.aborted) {
    // a network drop: what was sent is flushed, then the socket goes without a close frame
    while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 0) await sleep(5);
    r.cut = true;
    r.close_sent_wall = wall();
    ws.terminate();
    await Promise.race([closed, sleep(5000)]);
    return r;
  }
  while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 0) await sleep(5);
  r.close_sent_wall = wall();
  if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'done');
  // The server may keep the socket open while it drains; do not wait forever.
  await Promise.race([closed, sleep(60000)]);
  if (r.close_code === null) r.error ??= 'no close within 60 s';
  return r;
}

const started = wall();
const results = await Promise.all(Array.from({ length: N }, (_, i) => stream(i)));
const failed = results.filter((r) => r.error || r.aborted || (!r.cut && ![1000, 1005].includes(r.close_code)));
const summary = {
  fixture: o.fixture, streams: N, chunks_per_stream: last + 1, stagger_ms: stagger,
  started_wall: started, ended_wall: wall(), failed: failed.length,
  max_late_ms: Math.round(Math.max(...results.map((r) => r.max_late_ms)) * 10) / 10,
  results,
};
if (o.out) writeFileSync(o.out, JSON.stringify(summary));
console.log(JSON.stringify({ ...summary, results: undefined,
  errors: failed.slice(0, 5).map((r) => `${r.key}: ${r.error || `close ${r.close_code} ${r.close_reason}`}`) }));
process.exit(failed.length ? 1 : 0);
