// SPDX-License-Identifier: LGPL-2.1-or-later
// ffprobe helpers: what a recording holds, and where each source frame ends in the byte stream.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

// ffprobe -of compact prints "k=v|k=v" lines, independent of the field order ffprobe picks.
function parseCompact(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const row = {};
    for (const kv of line.split('|')) {
      const eq = kv.indexOf('=');
      if (eq > 0) row[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    rows.push(row);
  }
  return rows;
}

// Streams (codec per type) and packets (type, pts, end byte) of a file.
export async function probe(file, { positions = false } = {}) {
  const fields = positions ? 'stream_index,pts_time,pos,size' : 'stream_index,pts_time';
  let out;
  try {
    out = await run('ffprobe', ['-v', 'error', '-show_entries',
      `stream=index,codec_type,codec_name,channels:packet=${fields}`, '-of', 'compact=p=0', file],
    { maxBuffer: 256 << 20 });
  } catch (e) {
    return { error: (e.stderr || e.message).toString().trim().split('\n')[0] };
  }
  const rows = parseCompact(out.stdout);
  const streams = {};
  const byIndex = {};
  for (const r of rows) {
    if (r.codec_type && r.index !== undefined) {
      byIndex[r.index] = r.codec_type;
      streams[r.codec_type] ??= { codec: r.codec_name, channels: r.channels === undefined ? undefined : Number(r.channels), pts: [], ends: [] };
    }
  }
  for (const r of rows) {
    if (r.stream_index === undefined || r.pts_time === undefined || r.pts_time === 'N/A') continue;
    const s = streams[byIndex[r.stream_index]];
    if (!s) continue;
    s.pts.push(Number(r.pts_time));
    if (positions) s.ends.push(Number(r.pos) + Number(r.size));
  }
  const summary = {};
  for (const [type, s] of Object.entries(streams)) {
    const first = s.pts.length ? Math.min(...s.pts) : null;
    const last = s.pts.length ? Math.max(...s.pts) : null;
    summary[type] = { codec: s.codec, channels: s.channels, packets: s.pts.length, first, last,
      span: s.pts.length ? +(last - first).toFixed(3) : 0,
      ...(positions ? { pts: s.pts, ends: s.ends } : {}) };
  }
  return summary;
}

// Runs fn over items with at most `limit` in flight.
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k], k);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function percentile(values, q) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  // nearest rank
  const rank = Math.max(1, Math.ceil(q * s.length));
  return s[Math.min(s.length, rank) - 1];
}

export const round = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? null
  : Math.round(x * 10 ** d) / 10 ** d);
