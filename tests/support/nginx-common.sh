# Sourced by nginx-rtmp.sh and nginx-proxy.sh: our own nginx process, with
# the config and pid file in $dir (never the system service).
# SPDX-License-Identifier: LGPL-2.1-or-later

running() { [[ -f $dir/nginx.pid ]] && kill -0 "$(cat "$dir/nginx.pid")" 2>/dev/null; }

# Starts nginx with $conf and waits (5 s at most) for its pid file.
launch_nginx() {
  nginx -c "$conf" -e "$dir/error.log" -q
  for _ in $(seq 50); do running && break; sleep 0.1; done
  running || { echo "nginx failed to start, see $dir/error.log" >&2; exit 1; }
}

# Asks nginx to quit (10 s), then kills it.
stop_nginx() {
  if running; then
    nginx -c "$conf" -e "$dir/error.log" -s quit
    for _ in $(seq 100); do running || break; sleep 0.1; done
    running && kill -9 "$(cat "$dir/nginx.pid")"
  fi
  return 0
}
