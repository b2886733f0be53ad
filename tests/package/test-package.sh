#!/usr/bin/env bash
# Builds the Debian packages from this tree (dpkg-buildpackage -b), checks
# them with lintian, installs them with dpkg -i into a clean Debian 12 root
# (debootstrap --variant=minbase, plus the packages' dependencies from apt),
# so the maintainer scripts run, then uses them from their installed paths:
# the plugin by name (gst-inspect-1.0, gst-launch-1.0 on a real recording)
# and the daemon as the package's user with the shipped config (/healthz,
# the page, a stream recorded into /var/lib/wsrtmp/recordings). Then it boots
# the root with systemd (systemd-nspawn, when installed) and checks the unit
# as installed: Type=notify READY and STATUS, a transcoded stream inside the
# sandbox, structured journal records, `systemctl reload`, `systemctl stop`
# draining a running
# stream, and a watchdog restart of a stopped (SIGSTOP) daemon. Finally it
# purges the packages.
#
# Slow (minutes) and needs root: skipped (77) unless WSRTMP_TEST_PACKAGE=1.
#   WSRTMP_TEST_PACKAGE=1 meson test -C build --suite package --print-errorlogs
# The chroot is cached under BUILD/tests/package/cache (a minbase tarball,
# and one with the dependencies per dependency list): delete it to start over.
set -euo pipefail

if [[ ${WSRTMP_TEST_PACKAGE:-0} != 1 ]]; then
  echo "SKIP: the package test is slow; run it with WSRTMP_TEST_PACKAGE=1"
  exit 77
fi
if [[ $(id -u) != 0 ]]; then
  echo "SKIP: needs root (debootstrap, chroot, dpkg -i into the chroot)"
  exit 77
fi
for tool in debootstrap dpkg-buildpackage zstd unshare nsenter curl python3; do
  command -v $tool >/dev/null || { echo "SKIP: $tool missing (WSRTMP_SETUP_TESTS=1 scripts/setup)"; exit 77; }
done

# Mounts (proc in the chroot) vanish with this private mount namespace, even
# when the test is killed.
if [[ -z ${WSRTMP_PACKAGE_UNSHARED:-} ]]; then
  exec env WSRTMP_PACKAGE_UNSHARED=1 unshare --mount --propagation private "$0" "$@"
fi

src=${WSRTMP_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${WSRTMP_BUILD_ROOT:-$src/build}/tests/package
cache=$build/cache
mirror=${WSRTMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"
work=$(mktemp -d "$build/run.XXXXXX")
daemon=
nspawn=
cleanup () {
  [[ -n $daemon ]] && kill "$daemon" 2>/dev/null || true
  if [[ -n $nspawn ]]; then
    kill -TERM "$nspawn" 2>/dev/null || true
    wait "$nspawn" 2>/dev/null || true
  fi
  [[ -d $work/root/proc ]] && umount "$work/root/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
start=$SECONDS
step () { echo "== [$((SECONDS - start)) s] $*"; }
fail () { echo "FAIL: $*" >&2; exit 1; }

step "dpkg-buildpackage -b -us -uc"
mkdir -p "$work/src/wsrtmp"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$src" ls-files -co --exclude-standard -z |
    tar -C "$src" --null -T - -cf - | tar -C "$work/src/wsrtmp" -xf -
else
  tar -C "$src" --exclude='./build*' -cf - . | tar -C "$work/src/wsrtmp" -xf -
fi
(cd "$work/src/wsrtmp" && nice dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) ||
  { tail -40 "$work/build.log"; fail "dpkg-buildpackage"; }
debs=("$work"/src/gstreamer1.0-wsrtmp_*.deb "$work"/src/wsrtmpd_*.deb)
ls -l "${debs[@]}"

if command -v lintian >/dev/null; then
  step "lintian"
  lintian --allow-root --pedantic --display-info "$work"/src/wsrtmp_*.changes | tee "$work/lintian.txt" || true
  ! grep -q '^E:' "$work/lintian.txt" || fail "lintian reports errors"
fi

step "clean Debian 12 root"
base=$cache/bookworm-minbase.tar.zst
if [[ ! -f $base ]]; then
  nice debootstrap --variant=minbase bookworm "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$work/base" --numeric-owner -cf - . | zstd -q -T0 -3 >"$base.tmp"
  mv "$base.tmp" "$base"
  rm -rf "$work/base"
fi
# dpkg -i resolves nothing: the root gets our packages' dependencies from apt
# first (cached per dependency list), plus gstreamer1.0-tools for the checks.
deps=$( { for deb in "${debs[@]}"; do dpkg-deb -f "$deb" Depends; done; echo gstreamer1.0-tools, systemd-sysv; } |
  tr ',' '\n' | sed -e 's/(.*)//' -e 's/|.*//' -e 's/[[:space:]]//g' |
  grep -v -e '^$' -e '^gstreamer1.0-wsrtmp$' | sort -u | tr '\n' ' ')
with_deps=$cache/bookworm-deps-$(echo "$deps" | sha256sum | cut -c1-16).tar.zst
mkdir "$work/root"
if [[ -f $with_deps ]]; then
  zstd -dc "$with_deps" | tar -C "$work/root" -xf -
  mount -t proc proc "$work/root/proc"
else
  zstd -dc "$base" | tar -C "$work/root" -xf -
  mount -t proc proc "$work/root/proc"
  cp /etc/resolv.conf "$work/root/etc/resolv.conf"
  echo "dependencies: $deps"
  chroot "$work/root" apt-get update -q >"$work/apt.log" 2>&1 &&
  DEBIAN_FRONTEND=noninteractive nice chroot "$work/root" apt-get install -y -q \
    --no-install-recommends $deps >>"$work/apt.log" 2>&1 ||
    { tail -20 "$work/apt.log"; fail "apt-get install of the dependencies"; }
  chroot "$work/root" apt-get clean
  tar -C "$work/root" --numeric-owner --exclude=./proc/'*' -cf - . | zstd -q -T0 -3 >"$with_deps.tmp"
  mv "$with_deps.tmp" "$with_deps"
fi
in_root () { chroot "$work/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
! in_root id wsrtmp >/dev/null 2>&1 || fail "the clean root already has a user wsrtmp"

step "dpkg -i"
cp "${debs[@]}" "$work/root/tmp/"
in_root sh -c 'dpkg -i /tmp/*.deb' || fail "dpkg -i"
[[ -z $(in_root dpkg --audit) ]] || fail "dpkg --audit is not empty"

step "maintainer scripts: user, directories, conffile, unit"
in_root id wsrtmp || fail "no user wsrtmp"
for dir in /var/lib/wsrtmp /var/lib/wsrtmp/recordings; do
  owner=$(in_root stat -c %U:%G "$dir") || fail "$dir missing"
  [[ $owner = wsrtmp:wsrtmp ]] || fail "$dir is owned by $owner"
done
[[ $(in_root dpkg-query -W -f='${Conffiles}' wsrtmpd) = *' /etc/wsrtmp/wsrtmpd.conf '* ]] ||
  fail "/etc/wsrtmp/wsrtmpd.conf is not a conffile"
[[ -f $work/root/lib/systemd/system/wsrtmpd.service ]] || fail "no systemd unit"
[[ -L $work/root/etc/systemd/system/multi-user.target.wants/wsrtmpd.service ]] ||
  fail "the unit is not enabled (dh_installsystemd's postinst)"
# The unit as installed: its paths exist in the root; systemd is not PID 1
# here, so it is checked offline (not started).
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --man=no --root="$work/root" wsrtmpd.service || fail "systemd-analyze verify"
  systemd-analyze security --offline=yes --root="$work/root" --threshold=25 wsrtmpd.service |
    tail -1 || fail "systemd-analyze security: exposure above 2.5"
fi
in_root man -w wsrtmpd >/dev/null 2>&1 || [[ -f $work/root/usr/share/man/man8/wsrtmpd.8.gz ]] ||
  fail "no man page"

step "the plugin by name, no GST_PLUGIN_PATH"
in_root gst-inspect-1.0 wsserversrc >"$work/inspect.txt" || fail "gst-inspect-1.0 wsserversrc"
grep -q 'WebSocket' "$work/inspect.txt" || fail "gst-inspect-1.0 wsserversrc: not our element"
grep -E -q '^ *Filename +(/usr)?/lib/[^/]+/gstreamer-1\.0/libgstwsrtmp\.so$' "$work/inspect.txt" ||
  { grep Filename "$work/inspect.txt"; fail "wsserversrc is not loaded from GStreamer's plugin directory"; }
in_root gst-inspect-1.0 flvencodebin >/dev/null || fail "gst-inspect-1.0 flvencodebin"
# WHIP ingest: webrtcbin makes its ICE elements by name (gstreamer1.0-nice, a Depends).
for element in webrtcbin nicesrc nicesink; do
  in_root gst-inspect-1.0 $element >/dev/null || fail "gst-inspect-1.0 $element (WHIP ingest)"
done
cat "$src"/tests/data/chrome-h264-opus-250ms/chunk-*.bin >"$work/root/tmp/in.webm"
in_root gst-launch-1.0 -q filesrc location=/tmp/in.webm ! flvencodebin ! \
  filesink location=/tmp/out.flv || fail "gst-launch-1.0 ... flvencodebin ..."
[[ $(head -c 3 "$work/root/tmp/out.flv") = FLV ]] || fail "gst-launch-1.0 wrote no FLV"
echo "flvencodebin: $(stat -c %s "$work/root/tmp/out.flv") bytes of FLV"

step "wsrtmpd from its installed paths, as wsrtmp, with the shipped config"
# The shipped config as the unit runs it; only the port is ours (others may
# hold 8080 here) and the overload guard is off (a busy test machine is no
# overload). The same network namespace: the host reaches it.
guard_off="--overload-delay-ms 0 --overload-cpu-percent 0 --overload-machine-percent 0"
chroot --userspec=wsrtmp:wsrtmp "$work/root" env -i PATH=/usr/bin:/bin HOME=/var/lib/wsrtmp \
  /usr/bin/wsrtmpd --config /etc/wsrtmp/wsrtmpd.conf --listen 127.0.0.1:0 $guard_off \
  >"$work/wsrtmpd.out" 2>"$work/wsrtmpd.err" &
daemon=$!
for _ in $(seq 300); do
  grep -q '^wsrtmpd listening on ' "$work/wsrtmpd.out" && break
  kill -0 $daemon 2>/dev/null || { cat "$work/wsrtmpd.err"; fail "wsrtmpd exited"; }
  sleep 0.2
done
url=$(awk '/^wsrtmpd listening on /{print $4}' "$work/wsrtmpd.out")
[[ -n $url ]] || { cat "$work/wsrtmpd.err"; fail "wsrtmpd never listened"; }
echo "wsrtmpd listening on $url"
code=$(curl -s -o "$work/healthz" -w '%{http_code}' "${url}healthz")
[[ $code = 200 ]] || fail "/healthz answered $code"
cat "$work/healthz"; echo
curl -sf -o "$work/index.html" "$url" || fail "GET / failed"
cmp "$work/index.html" "$work/root/usr/share/wsrtmp/web/index.html" ||
  fail "GET / is not /usr/share/wsrtmp/web/index.html"
curl -sf -o /dev/null "${url}js/app.js" || fail "GET /js/app.js failed"
python3 "$src/tests/package/ws_stream.py" "${url/http/ws}ingest/packagetest" \
  "$src/tests/data/chrome-h264-opus-250ms" || fail "streaming to the installed wsrtmpd"
# The recording is complete once the session has left (sessions_active 0).
for _ in $(seq 300); do
  [[ $(curl -s "${url}healthz") = *'"sessions_active":0'* ]] && break
  sleep 0.2
done
recording=$(ls "$work"/root/var/lib/wsrtmp/recordings/packagetest-*.flv 2>/dev/null | head -1)
[[ -n $recording ]] || fail "no recording in /var/lib/wsrtmp/recordings"
recording=${recording#$work/root}
[[ $(in_root stat -c %U "$recording") = wsrtmp && $(head -c 3 "$work/root$recording") = FLV ]] ||
  fail "$recording: not an FLV written by wsrtmp"
echo "recorded $recording ($(stat -c %s "$work/root$recording") bytes)"
kill -TERM $daemon
wait $daemon || fail "wsrtmpd exited with $? after SIGTERM"
daemon=

if [[ ${WSRTMP_TEST_PACKAGE_BOOT:-1} = 1 ]] && command -v systemd-nspawn >/dev/null; then
  step "boot the root with systemd (systemd-nspawn): the unit as installed"
  umount "$work/root/proc"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # A drop-in, as an admin would: our port (others may hold 8080), the
  # overload guard off (as above) and a short watchdog, to see it fire.
  mkdir -p "$work/root/etc/systemd/system/wsrtmpd.service.d" "$work/root/var/log/journal"
  printf '[Service]\nExecStart=\nExecStart=%s\nWatchdogSec=4s\n' \
    "/usr/bin/wsrtmpd --config /etc/wsrtmp/wsrtmpd.conf --listen 127.0.0.1:$port $guard_off" \
    >"$work/root/etc/systemd/system/wsrtmpd.service.d/test.conf"
  # Same network as the host; no machined or system bus here, hence
  # --register=no --keep-unit.
  systemd-nspawn -D "$work/root" --boot --register=no --keep-unit --link-journal=no \
    --machine="wsrtmp-test-$port" --console=pipe </dev/null >"$work/boot.log" 2>&1 &
  nspawn=$!
  main=
  for _ in $(seq 300); do
    main=$(pgrep -f "^/usr/bin/wsrtmpd --config /etc/wsrtmp/wsrtmpd.conf --listen 127.0.0.1:$port $guard_off\$" || true)
    [[ -n $main ]] && curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
    kill -0 $nspawn 2>/dev/null || { cat "$work/boot.log"; fail "systemd-nspawn --boot exited"; }
    sleep 0.2
  done
  [[ -n $main ]] || { tail -20 "$work/boot.log"; fail "wsrtmpd.service never answered on port $port"; }
  init=$(ps -o ppid= -p "$main" | tr -d ' ')
  [[ -n $init ]] || fail "no init process for wsrtmpd $main"
  in_boot () { nsenter -t "$init" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
  unit_state () { in_boot systemctl show wsrtmpd -p ActiveState -p NRestarts -p StatusText; }
  wait_for () {  # wait_for TEXT: until `systemctl show` says it (30 s)
    for _ in $(seq 150); do
      [[ $(unit_state) = *"$1"* ]] && return 0
      sleep 0.2
    done
    unit_state; in_boot journalctl -u wsrtmpd --no-pager -n 20; fail "wsrtmpd.service: no $1"
  }
  # Type=notify: "active" only after READY=1; STATUS= is ours.
  wait_for "StatusText=listening on http://127.0.0.1:$port/"
  wait_for "ActiveState=active"
  unit_state
  in_boot systemd-analyze security wsrtmpd.service | tail -1
  in_boot systemd-analyze verify --man=no wsrtmpd.service || fail "systemd-analyze verify (booted)"

  # Inside the sandbox: a transcoded stream recorded, its events in the
  # journal as fields.
  python3 "$src/tests/package/ws_stream.py" "ws://127.0.0.1:$port/ingest/boottest" \
    "$src/tests/data/chrome-vp8-opus-250ms" || fail "streaming to wsrtmpd.service"
  for _ in $(seq 300); do
    [[ $(curl -s "http://127.0.0.1:$port/healthz") = *'"sessions_active":0'* ]] && break
    sleep 0.2
  done
  in_boot journalctl -u wsrtmpd --no-pager -o verbose SESSION=1 'STREAM_KEY=boo***' >"$work/journal.txt"
  grep -q 'MESSAGE=session 1 \[boo\*\*\*\] from 127.0.0.1: ended after' "$work/journal.txt" ||
    { cat "$work/journal.txt"; fail "no structured journal record of the session's end"; }
  recording=$(cd "$work/root" && ls var/lib/wsrtmp/recordings/boottest-*.flv | head -1)
  [[ -n $recording && $(head -c 3 "$work/root/$recording") = FLV ]] || fail "no recording from the service"
  echo "service recorded /$recording ($(stat -c %s "$work/root/$recording") bytes)"

  # systemctl reload: SIGHUP re-reads the files, the same process stays up.
  before=$(in_boot systemctl show wsrtmpd -p MainPID --value)
  in_boot systemctl reload wsrtmpd || fail "systemctl reload"
  wait_for "StatusText=reloaded"
  [[ $(in_boot systemctl show wsrtmpd -p MainPID --value) = "$before" ]] ||
    fail "systemctl reload restarted wsrtmpd"
  in_boot journalctl -u wsrtmpd --no-pager -o cat | grep -q '^reloaded ' ||
    fail "no 'reloaded' line in the journal after systemctl reload"

  # systemctl stop while a stream runs: STOPPING, the stream drains, clean stop.
  python3 "$src/tests/package/ws_stream.py" "ws://127.0.0.1:$port/ingest/drainstop" \
    "$src/tests/data/chrome-vp8-opus-250ms" >/dev/null &
  client=$!
  for _ in $(seq 100); do
    [[ $(curl -s "http://127.0.0.1:$port/healthz") = *'"sessions_active":1'* ]] && break
    sleep 0.1
  done
  in_boot systemctl stop wsrtmpd || fail "systemctl stop"
  wait $client || true
  in_boot journalctl -u wsrtmpd --no-pager -o cat >"$work/journal.txt"
  grep -A3 'draining 1 active' "$work/journal.txt" >"$work/drain.txt" || true
  cat "$work/drain.txt"
  grep -q 'dra\*\*\*\] from 127.0.0.1: ended after' "$work/drain.txt" ||
    fail "systemctl stop did not drain the running stream"
  [[ $(unit_state) = *ActiveState=inactive* ]] || fail "not inactive after systemctl stop"

  # A stuck main loop: the watchdog pings stop, systemd kills and restarts it.
  in_boot systemctl start wsrtmpd || fail "systemctl start"
  main=$(in_boot systemctl show wsrtmpd -p MainPID --value)
  [[ $main -gt 1 ]] || fail "no MainPID after systemctl start"
  in_boot sh -c "kill -STOP $main"
  wait_for "NRestarts=1"
  wait_for "ActiveState=active"
  in_boot journalctl -u wsrtmpd --no-pager -o cat >"$work/journal.txt"
  grep -F "Failed with result 'watchdog'" "$work/journal.txt" || fail "no watchdog restart in the journal"

  kill -TERM $nspawn
  wait $nspawn || true
  nspawn=
  rm -r "$work/root/etc/systemd/system/wsrtmpd.service.d"
  mount -t proc proc "$work/root/proc"
else
  echo "(not booted with systemd: no systemd-nspawn, or WSRTMP_TEST_PACKAGE_BOOT=0)"
fi

step "dpkg --purge"
in_root dpkg --purge wsrtmpd gstreamer1.0-wsrtmp || fail "dpkg --purge"
[[ ! -e $work/root/etc/wsrtmp/wsrtmpd.conf ]] || fail "purge left /etc/wsrtmp/wsrtmpd.conf"
step "passed"
