// The page's encoder parts that need no browser (node --test): the avcC check (web/js/avcc.js)
// on the record Firefox 153 really hands out, and the uplink's bitrate policy
// (web/js/uplink.js) on a narrowed link simulated second by second.
import test from 'node:test';
import assert from 'node:assert/strict';
import { buildAvcC, checkedAvcC, parseAvcC } from '../../web/js/avcc.js';
import { UplinkControl, MIN_VIDEO_BPS } from '../../web/js/uplink.js';

const hex = (s) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g).map((b) => parseInt(b, 16)));
const SPS = hex('6742c01fd9005005ba100000030010 01e84800f18324 80'.replace(/ /g, ''));
const PPS = hex('68cb8cb2');
// Firefox 153's record for that stream: each parameter set with its header byte twice.
const FIREFOX_AVCC = hex('0142c01f030100186767 42c01fd9005005ba1000000300 1001e84800f1832480 0100056868cb8cb2'.replace(/ /g, ''));

/** A keyframe as the encoder puts it out: 4-byte lengths, SPS, PPS, IDR slice. */
function keyframe() {
  const idr = hex('65888411c4600800');
  const parts = [SPS, PPS, idr];
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    new DataView(out.buffer).setUint32(at, p.length);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

test('Firefox\'s avcC is rebuilt from the keyframe\'s own SPS/PPS', () => {
  const { description, repaired } = checkedAvcC(FIREFOX_AVCC, keyframe());
  assert.equal(repaired, true);
  const rec = parseAvcC(description);
  assert.equal(rec.lengthSize, 4);
  assert.deepEqual([...rec.sps[0]], [...SPS]);
  assert.deepEqual([...rec.pps[0]], [...PPS]);
  assert.equal(description[1], 0x42); // profile from the SPS
  assert.equal(description[4], 0xff); // reserved bits set, 4-byte lengths
});

test('a correct avcC is kept as it is', () => {
  const good = buildAvcC([SPS], [PPS]);
  const { description, repaired } = checkedAvcC(good, keyframe());
  assert.equal(repaired, false);
  assert.equal(description, good);
});

test('a keyframe without parameter sets keeps the record', () => {
  const idrOnly = hex('000000056588841100');
  const { repaired } = checkedAvcC(FIREFOX_AVCC, idrOnly);
  assert.equal(repaired, false);
});

/**
 * A page sending `chosen` through a link of `linkBps` per second (`schedule(t)`), the server
 * counting what got through and telling the page every second, as uplink.js sees it.
 */
function simulate({ chosen = 2_500_000, audio = 128_000, schedule, seconds }) {
  const u = new UplinkControl({ videoBitsPerSecond: chosen, audioBitsPerSecond: audio });
  let queued = 0; // bytes handed to the socket
  let arrived = 0; // bytes the server has
  let serverBytesIn = null;
  const trace = [];
  for (let ms = 0; ms < seconds * 1000; ms += 100) {
    const t = ms / 1000;
    if (!u.skipping) queued += ((u.video + audio) / 8) / 10;
    else queued += (audio / 8) / 10;
    arrived = Math.min(queued, arrived + schedule(t) / 8 / 10);
    if (ms % 1000 === 0) serverBytesIn = arrived;
    if (ms % 500 === 0) {
      u.update({ now: ms, queuedBytes: queued, serverBytesIn, bufferedBytes: 0, fromStats: ms % 1000 === 0 });
      trace.push({ t, video: u.video, behind: (queued - arrived) * 8 / schedule(t), lowered: u.lowered });
    }
  }
  return trace;
}

test('narrowed to 1 Mbit/s: down within 5 s, never 2 s behind, back within 30 s of opening', () => {
  const narrow = (t) => (t >= 10 && t < 55 ? 1_000_000 : 10_000_000);
  const trace = simulate({ schedule: narrow, seconds: 90 });
  const down = trace.find((p) => p.t >= 10 && p.video < 1_000_000);
  assert.ok(down && down.t - 10 <= 5, `bitrate down after ${down && down.t - 10} s`);
  const worst = Math.max(...trace.filter((p) => p.t >= 10 && p.t < 55).map((p) => p.behind));
  assert.ok(worst < 2, `at most ${worst.toFixed(2)} s behind while narrowed`);
  const back = trace.find((p) => p.t >= 55 && p.video === 2_500_000);
  assert.ok(back && back.t - 55 <= 30, `back to the chosen quality after ${back && back.t - 55} s`);
  assert.equal(trace.at(-1).lowered, false);
});

test('a link that keeps up changes nothing', () => {
  const trace = simulate({ schedule: () => 10_000_000, seconds: 30 });
  assert.ok(trace.every((p) => p.video === 2_500_000 && !p.lowered));
});

test('a link that passes nothing for 5 s: lowered and thinned out at once, back after', () => {
  const stalled = (t) => (t >= 10 && t < 15 ? 0 : 10_000_000);
  const trace = simulate({ schedule: (t) => Math.max(stalled(t), 1), seconds: 60 });
  const down = trace.find((p) => p.t >= 10 && p.video < 2_500_000);
  assert.ok(down && down.t - 10 <= 3, `bitrate down after ${down && down.t - 10} s`);
  assert.ok(trace.at(-1).video === 2_500_000, `back to ${trace.at(-1).video}`);
});

test('never below the floor', () => {
  const trace = simulate({ schedule: () => 100_000, seconds: 30 });
  assert.ok(trace.every((p) => p.video >= MIN_VIDEO_BPS));
});
