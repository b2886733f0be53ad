#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The slowest /healthz answer (polled every 20 ms) while 32 streams end at once and while 8
# streams reconnect to an nginx-rtmp that comes back: whether one client's teardown or
# reconnection holds the main loop every client shares. Run by hand (not a test):
#
#   bench/healthz-latency.sh [--runs 3] [--wsrtmpd build/service/wsrtmpd]
#
# Needs node >= 18 (`ws` from bench/node_modules), nginx with the RTMP module.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "node (>= 18) is needed" >&2; exit 2; }
if [[ ! -d $here/node_modules/ws ]]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
node "$here/healthz-latency.mjs" --scenario end "$@"
node "$here/healthz-latency.mjs" --scenario reconnect "$@"
