#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// The page's part after Stop (web/js/recordings.js): which of the key's recordings are this
// broadcast's, the listing's URL, and the watch that asks until they are finalised. Node alone,
// no browser; the server side is tests/service/test_recording.cpp.
import test from 'node:test';
import assert from 'node:assert/strict';
import { CLOCK_SLACK_MS, GIVE_UP_MS, POLL_MS, RecordingWatch, pageToken, recordingsSince,
  recordingsUrl } from '../../web/js/recordings.js';

const GO_LIVE = Date.parse('2026-12-07T10:15:00Z');
const at = (s) => new Date(GO_LIVE + s * 1000).toISOString().replace('.000', '');

test('the listing URL carries the key and the token, escaped', () => {
  const loc = { protocol: 'https:', host: 'live.example.com' };
  assert.equal(recordingsUrl('anna_1', '', loc), 'https://live.example.com/recordings/anna_1');
  assert.equal(recordingsUrl('anna', '123.a+b', loc),
    'https://live.example.com/recordings/anna?token=123.a%2Bb');
  assert.equal(pageToken('?format=h264&token=99.ff'), '99.ff');
  assert.equal(pageToken(''), '');
});

test('only the segments that started with this broadcast, in order', () => {
  const list = [
    { name: 'anna-20261207T101500Z-10.mp4', started: at(9 * 3600) },
    { name: 'anna-20261207T101500Z-2.mp4', started: at(3600) },
    { name: 'anna-20261207T090000Z-1.mp4', started: at(-4500) },
    { name: 'anna-20261207T101500Z-1.mp4', started: at(-5) },
    { name: 'anna-20261207T101400Z-1.mp4', started: at(-CLOCK_SLACK_MS / 1000 - 1) },
    null,
  ];
  assert.deepEqual(recordingsSince(list, GO_LIVE).map((r) => r.name), [
    'anna-20261207T101500Z-1.mp4', 'anna-20261207T101500Z-2.mp4',
    'anna-20261207T101500Z-10.mp4']);
  assert.deepEqual(recordingsSince(undefined, GO_LIVE), []);
});

/** A watch on a fake clock and server: answers is what each request gets. */
function fakeWatch(answers) {
  let now = GO_LIVE + 60000;
  const timers = [];
  const shown = [];
  const asked = [];
  const watch = new RecordingWatch((list, done) => shown.push({ list, done }), {
    now: () => now,
    setTimeout: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
    clearTimeout: () => {},
    fetch: async (url) => {
      asked.push(url);
      const answer = answers[Math.min(asked.length - 1, answers.length - 1)];
      if (answer instanceof Error) throw answer;
      return { ok: answer.status === 200, json: async () => answer.body };
    },
  });
  const step = async () => {
    const timer = timers.shift();
    now += timer.ms;
    await timer.fn();
  };
  return { watch, shown, asked, timers, step };
}

const segment = (n, finished) => ({ name: `anna-20261207T101500Z-${n}.mp4`, started: at(n),
  finished, size: 1000 * n, duration_s: 10, url: `/recordings/anna/anna-20261207T101500Z-${n}.mp4` });

test('asks until every segment is finished, then stops', async () => {
  const f = fakeWatch([
    new Error('offline'),
    { status: 200, body: { recordings: [segment(1, true), segment(2, false)] } },
    { status: 200, body: { recordings: [segment(1, true), segment(2, true)] } },
  ]);
  f.watch.watch('anna', GO_LIVE, '', '/recordings/anna');
  for (let i = 0; i < 3; i++) await f.step();
  assert.equal(f.asked.length, 3);
  assert.deepEqual(f.shown.map((s) => [s.list.length, s.done]), [[0, false], [2, false], [2, true]]);
  assert.equal(f.timers.length, 0, 'no more asking');
});

test('gives up after a minute (recordings off: always empty)', async () => {
  const f = fakeWatch([{ status: 200, body: { recordings: [] } }]);
  f.watch.watch('anna', GO_LIVE, '', '/recordings/anna');
  while (f.timers.length) await f.step();
  assert.equal(f.asked.length, GIVE_UP_MS / POLL_MS + 1);
  assert.deepEqual(f.shown.at(-1), { list: [], done: true });
});

test('a new broadcast cancels the watch: a late answer is not shown', async () => {
  const f = fakeWatch([{ status: 200, body: { recordings: [segment(1, false)] } }]);
  f.watch.watch('anna', GO_LIVE, '', '/recordings/anna');
  const pending = f.timers.shift();
  f.watch.cancel();
  await pending.fn();
  assert.deepEqual(f.shown, []);
});
