#!/usr/bin/env bash
# Builds the Debian packages from this tree (dpkg-buildpackage -b), checks
# them with lintian, installs them with dpkg -i into a clean Debian 12 root
# (debootstrap --variant=minbase, plus the packages' dependencies from apt),
# so the maintainer scripts run, then uses them from their installed paths:
# the plugin by name (gst-inspect-1.0, gst-launch-1.0 on a real recording)
# and the daemon as the package's user with the shipped config (/healthz,
# the page, a stream recorded into /var/lib/wsrtmp/recordings), and finally
# purges them.
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
for tool in debootstrap dpkg-buildpackage zstd unshare curl python3; do
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
cleanup () {
  [[ -n $daemon ]] && kill "$daemon" 2>/dev/null || true
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
deps=$( { for deb in "${debs[@]}"; do dpkg-deb -f "$deb" Depends; done; echo gstreamer1.0-tools; } |
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
cat "$src"/tests/data/chrome-h264-opus-250ms/chunk-*.bin >"$work/root/tmp/in.webm"
in_root gst-launch-1.0 -q filesrc location=/tmp/in.webm ! flvencodebin ! \
  filesink location=/tmp/out.flv || fail "gst-launch-1.0 ... flvencodebin ..."
[[ $(head -c 3 "$work/root/tmp/out.flv") = FLV ]] || fail "gst-launch-1.0 wrote no FLV"
echo "flvencodebin: $(stat -c %s "$work/root/tmp/out.flv") bytes of FLV"

step "wsrtmpd from its installed paths, as wsrtmp, with the shipped config"
# The shipped config as the unit runs it; only the port is ours (others may
# hold 8080 here). The same network namespace: the host reaches it.
chroot --userspec=wsrtmp:wsrtmp "$work/root" env -i PATH=/usr/bin:/bin HOME=/var/lib/wsrtmp \
  /usr/bin/wsrtmpd --config /etc/wsrtmp/wsrtmpd.conf --listen 127.0.0.1:0 \
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

step "dpkg --purge"
in_root dpkg --purge wsrtmpd gstreamer1.0-wsrtmp || fail "dpkg --purge"
[[ ! -e $work/root/etc/wsrtmp/wsrtmpd.conf ]] || fail "purge left /etc/wsrtmp/wsrtmpd.conf"
step "passed"
