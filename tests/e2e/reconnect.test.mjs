#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// The page's reconnect policy (web/js/reconnect.js, web/js/error_kinds.js) in
// node, no browser: which closes are retried, the backoff, the window. The page itself,
// reconnecting through a cut connection, is tested in Chromium by continuity.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  FATAL_KINDS, RETRY_KINDS, ReconnectWindow, backoffMs, shouldReconnect,
} from '../../web/js/reconnect.js';
import { ERROR_KINDS } from '../../web/js/error_kinds.js';

test('every error kind the page knows is either fatal or retried, never both', () => {
  for (const kind of ERROR_KINDS) {
    const fatal = FATAL_KINDS.includes(kind);
    const retry = RETRY_KINDS.includes(kind);
    assert.ok(fatal !== retry, `${kind}: fatal ${fatal}, retry ${retry}`);
  }
  for (const kind of [...FATAL_KINDS, ...RETRY_KINDS]) assert.ok(ERROR_KINDS.includes(kind), kind);
});

test('a dropped connection is retried; a refusal or the end of the show is not', () => {
  // No close frame (network drop, TCP reset), going away, restart, try later, failed attempt.
  for (const code of [1001, 1005, 1006, 1012, 1013, 1014]) {
    assert.equal(shouldReconnect({ code }), true, `code ${code}`);
  }
  // The server ended the stream, or refused it.
  for (const code of [1000, 1003, 1007, 1008, 1009, 1010, 1011]) {
    assert.equal(shouldReconnect({ code }), false, `code ${code}`);
  }
  // The kind decides over the code.
  assert.equal(shouldReconnect({ code: 1008, kind: 'replaced' }), false);
  assert.equal(shouldReconnect({ code: 1008, kind: 'key' }), false);
  assert.equal(shouldReconnect({ code: 1008, kind: 'idle' }), false);
  assert.equal(shouldReconnect({ code: 1013, kind: 'capacity' }), true);
  assert.equal(shouldReconnect({ code: 1013, kind: 'per_ip' }), true);
  assert.equal(shouldReconnect({ code: 1001, kind: 'shutdown' }), true);
  assert.equal(shouldReconnect({ code: 1011, kind: 'rtmp' }), false);
  // The operator ended the stream, or keeps the key out: never back by itself.
  assert.equal(shouldReconnect({ code: 1008, kind: 'kicked' }), false);
  assert.equal(shouldReconnect({ code: 1008, kind: 'banned' }), false);
  // A kind this page does not know (a newer server): the code decides.
  assert.equal(shouldReconnect({ code: 1006, kind: 'something_new' }), true);
  assert.equal(shouldReconnect({ code: 1008, kind: 'something_new' }), false);
});

test('backoff: 0.5 s doubling to 5 s', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map(backoffMs), [500, 1000, 2000, 4000, 5000, 5000, 5000]);
});

test('attempts last as long as the window, measured from the drop', () => {
  const w = new ReconnectWindow(10, 1000);
  const starts = [];
  let now = 1000;
  for (;;) {
    const d = w.next(now);
    if (d < 0) break;
    now += d; // the attempt fails at once
    starts.push(now - 1000);
  }
  // 0.5, 1.5, 3.5, 7.5 s after the drop; the next (12.5 s) would be past 10 s, so the last
  // one is made 0.25 s before the window ends; then it is over.
  assert.deepEqual(starts, [500, 1500, 3500, 7500, 9750]);
  assert.equal(w.leftMs(now), 250);
  assert.equal(w.leftMs(20000), 0);
  // A 60 s window: attempts at 0.5, 1.5, 3.5, 7.5, then every 5 s up to 57.5 s, and 59.75 s.
  const long = new ReconnectWindow(60, 0);
  let t = 0;
  let n = 0;
  for (let d = long.next(t); d >= 0; d = long.next(t)) { t += d; n += 1; }
  assert.equal(n, 15);
  assert.equal(t, 59750);
  // An attempt that takes time (a connection timing out) counts: the window is from the drop.
  const slow = new ReconnectWindow(5, 0);
  assert.equal(slow.next(0), 500);
  assert.equal(slow.next(4600), -1); // the attempt took 4.1 s: 0.4 s left, too little
});

test('no window, no reconnect (a server without continuity)', () => {
  assert.equal(new ReconnectWindow(0, 0).next(0), -1);
  assert.equal(new ReconnectWindow(undefined, 0).next(0), -1);
});
