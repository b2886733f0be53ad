#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Restream (issue 15) by hand: what extra destinations cost and whether bad ones reach the good one.
#
#   bench/restream.sh [--streams 2] [--scenario passthrough|transcode] [--extra 4] [more bench.mjs options]
#
# Runs bench.mjs (wsrtmpd only) three times on the same load and prints, per run, the added latency
# (WebSocket send -> frame readable from nginx, p50/p95) of the good destination and wsrtmpd's CPU
# and PSS per stream:
#   one   the good destination alone
#   bad   beside a refused port, a server that never reads and one that reads at half the bitrate
#   good  beside --extra more good destinations (same nginx, other keys): the cost per destination
# Targets (README "Restream"): p95 with bad destinations within 50 ms of alone; per extra destination
# under 0.3 % of a core and 3 MB at 2.5 Mbit/s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
streams=2 extra=4 scenario=passthrough args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --streams) streams=$2; shift 2 ;;
    --extra) extra=$2; shift 2 ;;
    --scenario) scenario=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
out=$here/results/restream-$(date -u +%Y%m%d-%H%M%S)
for d in one bad "good:$extra"; do
  "$here/run.sh" --no-peer --scenario "$scenario" --streams "$streams" --latency-streams "$streams" \
    --destinations "$d" --out "$out/${d%%:*}" "${args[@]}" >&2
done
node - "$out" "$streams" "$extra" <<'JS'
const [out, streams, extra] = process.argv.slice(2);
const fs = require('node:fs');
const get = (d) => JSON.parse(fs.readFileSync(`${out}/${d}/results.json`, 'utf8')).cases.find((c) => c.target === 'ours');
const rows = { one: get('one'), bad: get('bad'), good: get('good') };
for (const [d, c] of Object.entries(rows)) {
  console.log(`${d.padEnd(5)} latency p50/p95 ${c.latency_ms.p50}/${c.latency_ms.p95} ms  CPU/stream ${c.cpu_pct_per_stream} %  PSS/stream ${c.pss_mb_per_stream} MB  complete ${c.complete}/${c.N}`);
}
console.log(`p95 beside bad destinations - alone: ${rows.bad.latency_ms.p95 - rows.one.latency_ms.p95} ms (target <= 50)`);
const cpu = (rows.good.cpu_pct_per_stream - rows.one.cpu_pct_per_stream) / extra;
const pss = (rows.good.pss_mb_per_stream - rows.one.pss_mb_per_stream) / extra;
console.log(`per extra destination: CPU ${cpu.toFixed(2)} % of a core, PSS ${pss.toFixed(2)} MB (targets 0.3 %, 3 MB)`);
JS
