#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// The page's error-kind table (web/js/error_kinds.js) against the server's documented list,
// README.md's table of error kinds (the kinds wsrtmpd sends in {"type":"error","kind":…}):
// the page must know exactly those kinds, each with its words and whether it retries.
// Node alone, no browser.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ERROR_KINDS, KINDS } from '../../web/js/error_kinds.js';

/** The first column of README.md's table whose header starts `| kind | close |`. */
function documentedKinds() {
  const lines = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8').split('\n');
  const header = lines.findIndex((l) => /^\|\s*kind\s*\|\s*close\s*\|/.test(l));
  assert.ok(header >= 0, 'README.md has a table of error kinds (| kind | close | …)');
  const kinds = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const m = /^\|\s*`([a-z_]+)`\s*\|/.exec(line);
    assert.ok(m, `a row of the error-kind table names its kind in backticks: ${line}`);
    kinds.push(m[1]);
  }
  return kinds;
}

test('the page knows exactly the error kinds README.md documents', () => {
  const documented = documentedKinds();
  assert.ok(documented.length > 0, 'the table has rows');
  assert.equal(new Set(documented).size, documented.length, 'no kind documented twice');
  assert.deepEqual([...ERROR_KINDS].sort(), [...documented].sort());
});

test('every kind says whether the page retries, and what it tells the streamer', () => {
  for (const kind of ERROR_KINDS) {
    const k = KINDS[kind];
    assert.equal(typeof k.retry, 'boolean', `${kind}: retry`);
    const text = typeof k.text === 'function' ? k.text({ silentSec: 10 }) : k.text;
    assert.ok(typeof text === 'string' && text.length > 0, `${kind}: text`);
  }
});

test('a kicked streamer reads that the operator ended the stream, and why', async () => {
  const { describeClose } = await import('../../web/js/socket.js');
  const kicked = describeClose({ code: 1008, kind: 'kicked', message: 'spam in the chat' });
  assert.equal(kicked.ok, false);
  assert.match(kicked.text, /operator .*ended your stream/);
  assert.match(kicked.text, /spam in the chat/);
  const banned = describeClose({ code: 1008, kind: 'banned',
    message: 'this stream key was banned by the operator for another 42 s' });
  assert.match(banned.text, /blocked this stream key/);
  assert.match(banned.text, /42 s/);
});
