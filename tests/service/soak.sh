#!/usr/bin/env bash
# Endurance figures for the README (not run in CI): N sequential
# connect/stream/disconnect cycles, then M concurrent real-time streams for
# S seconds, against the real wsrtmpd and our own nginx-rtmp. Prints RSS, fds
# and threads of wsrtmpd and the failed sessions.
#
#   tests/service/soak.sh [CYCLES=1000] [SOAK_SECONDS=1800] [STREAMS=20]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${WSRTMP_BUILD_ROOT:-$root/build}
cycles=${1:-1000} seconds=${2:-1800} streams=${3:-20}
ninja -C "$build" tests/service/test_endurance service/wsrtmpd >/dev/null
export GST_PLUGIN_PATH=$build/plugin GST_REGISTRY=$build/tests/registry.bin \
  WSRTMP_TEST_DATA=$root/tests/data WSRTMP_SOURCE_ROOT=$root \
  WSRTMP_BUILD_ROOT=$build WSRTMPD=$build/service/wsrtmpd GST_DEBUG='*:1'
test=$build/tests/service/test_endurance
if [[ $cycles -gt 0 ]]; then
  echo "== $cycles sequential cycles"
  WSRTMP_ENDURANCE_CYCLES=$cycles "$test" testEndurance 2>/dev/null | grep -a -E 'endurance:|OK|Fail|^- '
fi
if [[ $seconds -gt 0 ]]; then
  echo "== soak: $streams concurrent streams for $seconds s"
  WSRTMP_SOAK_SECONDS=$seconds WSRTMP_SOAK_STREAMS=$streams "$test" testSoak 2>/dev/null | grep -a -E 'soak:|OK|Fail|^- '
fi
