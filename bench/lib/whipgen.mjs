#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// WHIP load generator: N browserless WHIP senders (tests/support/whip_send.py, one process each:
// webrtcbin sending a recording's H.264 and Opus as they are, no encoding, OBS-like) against one
// /whip endpoint. Every stream gets its own key as its bearer. The senders' CPU is theirs, not the
// server's: the bench samples wsrtmpd alone.
//
//   node whipgen.mjs --url http://127.0.0.1:19452/whip --recording FILE.webm --streams N
//                    --seconds S [--key-prefix P] [--stagger-ms MS] [--out FILE]
//
// Stream i uses key "<P>-<i>". A sender starts its recording from the beginning once its peer
// connection is up ("whip: connected, sending"), in real time (clocksync), and ends with a DELETE
// S seconds after connecting (the recording's length: webrtcbin's sender posts no EOS at its end). The wall time (ms since the epoch) of that line is kept as
// connected_wall: frame at pts p left the sender at about connected_wall + p. An offer refused with
// 429 (more than 4 offers of one address waiting for their ICE gathering) is offered again after
// 1 s, up to 10 times.
//
// --out FILE gets a JSON document like loadgen.mjs's: per stream the key, connected_wall, the
// session's "output" (from its status resource, GET 3 s after connecting), the DELETE's status,
// the sender's exit code and its last lines. Exit status 1 when a sender failed.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(new URL(import.meta.url).pathname);
const { values: o } = parseArgs({ options: {
  url: { type: 'string' },
  recording: { type: 'string' },
  streams: { type: 'string', default: '1' },
  'key-prefix': { type: 'string', default: 'bench' },
  'stagger-ms': { type: 'string', default: '0' },
  seconds: { type: 'string' },
  sender: { type: 'string', default: resolve(here, '../../tests/support/whip_send.py') },
  out: { type: 'string' },
} });
if (!o.url || !o.recording || !(Number(o.seconds) > 0)) {
  console.error('usage: whipgen.mjs --url http://HOST:PORT/whip --recording FILE --seconds S [--streams N] [--out FILE]');
  process.exit(2);
}
const wall = () => performance.timeOrigin + performance.now();
const N = Number(o.streams);
const stagger = Number(o['stagger-ms']);

function runSender(key) {
  return new Promise((done) => {
    const r = { connected_wall: null, output: null, deleted: null, refused: null, lines: [] };
    // run as the tests run it: its #!/usr/bin/python3 has Debian's python3-gi (a python3 first on
    // PATH may not)
    const p = spawn(o.sender, [o.url, key, o.recording, '--seconds', o.seconds, '--status-at', '3'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (line) => { r.lines.push(line); if (r.lines.length > 8) r.lines.shift(); };
    createInterface({ input: p.stdout }).on('line', (line) => {
      const t = wall();
      keep(line);
      if (line.startsWith('whip: connected')) r.connected_wall = Math.round(t * 10) / 10;
      const status = /^whip: status 200 (.*)$/.exec(line);
      if (status) { try { r.output = JSON.parse(status[1]).output ?? null; } catch { /* not JSON */ } }
      const deleted = /^whip: deleted (\d+)/.exec(line);
      if (deleted) r.deleted = Number(deleted[1]);
      const refused = /^whip: refused (\d+)/.exec(line);
      if (refused) r.refused = Number(refused[1]);
    });
    createInterface({ input: p.stderr }).on('line', keep);
    // a sender that hangs is ended 45 s after its time (15 s to connect, 30 to end), counted as failed
    const guard = setTimeout(() => p.kill('SIGKILL'), (Number(o.seconds) + 45) * 1000);
    p.once('exit', (code, signal) => { clearTimeout(guard); done({ ...r, exit_code: code ?? signal }); });
  });
}

async function stream(i) {
  const key = `${o['key-prefix']}-${i}`;
  await sleep(i * stagger);
  let r;
  let retries = 0;
  for (;;) {
    r = await runSender(key);
    if (r.refused !== 429 || retries >= 10) break;
    retries++;
    await sleep(1000);
  }
  return { i, key, retries_429: retries, ...r,
    error: r.exit_code === 0 ? null : `exit ${r.exit_code}: ${r.lines.slice(-2).join(' | ')}` };
}

const started = wall();
const results = await Promise.all(Array.from({ length: N }, (_, i) => stream(i)));
const failed = results.filter((r) => r.error);
const summary = { recording: o.recording, streams: N, stagger_ms: stagger, started_wall: started,
  ended_wall: wall(), failed: failed.length, results };
if (o.out) writeFileSync(o.out, JSON.stringify(summary));
console.log(JSON.stringify({ ...summary, results: undefined, errors: failed.slice(0, 5).map((r) => `${r.key}: ${r.error}`) }));
process.exit(failed.length ? 1 : 0);
