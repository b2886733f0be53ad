// SPDX-License-Identifier: LGPL-2.1-or-later
// What the end-to-end tests (run.mjs, studio.mjs, continuity.mjs) share: where things are,
// cleanups, and small process and polling helpers.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the tests find the tree, the build and the tools, from the environment meson sets
 * (WSRTMP_SOURCE_ROOT, WSRTMP_BUILD_ROOT, WSRTMPD, GST_PLUGIN_PATH, CHROMIUM, E2E_ARTIFACTS) or
 * next to this file. ARTIFACTS: E2E_ARTIFACTS, else build/tests/e2e-artifacts when run from
 * meson, else tests/e2e/artifacts; then the subdirectory `name` (none when empty).
 */
export function e2ePaths(name = '') {
  const HERE = path.dirname(fileURLToPath(import.meta.url));
  const SOURCE_ROOT = path.resolve(process.env.WSRTMP_SOURCE_ROOT || path.join(HERE, '..', '..'));
  const buildRootSet = !!process.env.WSRTMP_BUILD_ROOT;
  const BUILD_ROOT = path.resolve(process.env.WSRTMP_BUILD_ROOT || path.join(SOURCE_ROOT, 'build'));
  return {
    HERE,
    SOURCE_ROOT,
    BUILD_ROOT,
    WSRTMPD: process.env.WSRTMPD || path.join(BUILD_ROOT, 'service', 'wsrtmpd'),
    PLUGIN_PATH: process.env.GST_PLUGIN_PATH || path.join(BUILD_ROOT, 'plugin'),
    CHROMIUM: process.env.CHROMIUM || '/usr/bin/chromium',
    WEB_ROOT: path.join(SOURCE_ROOT, 'web'),
    NGINX_SH: path.join(SOURCE_ROOT, 'tests', 'support', 'nginx-rtmp.sh'),
    ARTIFACTS: path.resolve(process.env.E2E_ARTIFACTS ||
      (buildRootSet ? path.join(BUILD_ROOT, 'tests', 'e2e-artifacts') : path.join(HERE, 'artifacts')), name),
  };
}

/**
 * Cleanups run once, last added first, whatever fails: push functions on `cleanups`; `cleanup()`
 * runs them (later calls wait for the same run).
 */
export function cleanupStack() {
  const cleanups = [];
  let cleaning = null;
  const cleanup = () => {
    if (!cleaning) {
      cleaning = (async () => {
        for (const fn of cleanups.reverse()) {
          try { await fn(); } catch (err) { console.log(`cleanup: ${err.message}`); }
        }
      })();
    }
    return cleaning;
  };
  return { cleanups, cleanup };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a command to its end (killed after timeout ms): { code, stdout, stderr, err }. */
export function run(cmd, args, { timeout = 30_000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr, err });
    });
  });
}

/** The executable cmd on PATH, or null. */
export function which(cmd) {
  for (const dir of (process.env.PATH || '/usr/bin:/bin').split(':')) {
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

/** Polls fn every stepMs until it returns something truthy (that value) or timeoutMs passed (null). */
export async function until(fn, timeoutMs, stepMs = 200) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return null;
    await sleep(stepMs);
  }
}
