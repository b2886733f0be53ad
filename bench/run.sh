#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# wsrtmp benchmark: wsrtmpd and (when present) the node+ffmpeg peer under the same replayed
# browser load, side by side. See bench/README.md.
#
#   bench/run.sh [--scenario passthrough|passthrough-aac|transcode|slate|restream|whip-passthrough] [--whip-jitter-ms 200] [--timeslice 250|100]
#                [--streams 1,8,32] [--peer-streams 1,8] [--slate-after 15] [--slate-seconds 15]
#                [--restream-destinations 3] [--duration SECONDS] [--peer DIR | --no-peer] [--no-ours] [--latency-streams 2]
#                [--x264-preset veryfast] [--framerate 30] [--base-port 19450] [--stagger-ms MS] [--stop-on-fail]
#                [--offer N] [--wsrtmpd PATH] [--out DIR]
#
# Results go to bench/results/<timestamp>-<scenario>/ (table.txt, results.json, plot.png, raw data).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "node (>= 18) is needed" >&2; exit 2; }
if [[ ! -d $here/node_modules/ws ]]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
exec node "$here/bench.mjs" "$@"
