#!/usr/bin/env bash
# RTMPS for tests: our own nginx terminating TLS (the stream module with ssl)
# in front of an RTMP server on 127.0.0.1, as its own process with its own
# config and pid file (never the system service). The certificate is made
# here, self-signed for 127.0.0.1: a client that checks certificates must
# refuse it.
#
#   nginx-rtmps.sh start DIR TLS_PORT RTMP_PORT   prints "rtmps://127.0.0.1:TLS_PORT/live"
#   nginx-rtmps.sh stop DIR
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
cmd=${1:?usage: nginx-rtmps.sh start|stop DIR [TLS_PORT RTMP_PORT]}
dir=$(mkdir -p "${2:?DIR missing}" && cd "$2" && pwd)
conf=$dir/nginx.conf
module=/usr/lib/nginx/modules/ngx_stream_module.so

source "$(dirname "$0")/nginx-common.sh"

case $cmd in
  start)
    tls_port=${3:?TLS_PORT missing}
    rtmp_port=${4:?RTMP_PORT missing}
    running && nginx -c "$conf" -s quit && sleep 0.3
    [[ -f $module ]] || { echo "nginx stream module missing: install libnginx-mod-stream" >&2; exit 1; }
    if [[ ! -f $dir/cert.pem ]]; then
      openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" \
        -out "$dir/cert.pem" -days 1 -subj /CN=localhost \
        -addext subjectAltName=IP:127.0.0.1 2>/dev/null
    fi
    user_line=""
    [[ $(id -u) = 0 ]] && user_line="user root root;"
    cat > "$conf" <<CONF
load_module $module;
$user_line
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log info;
worker_processes 1;
events { worker_connections 1024; }
stream {
  server {
    listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    proxy_pass 127.0.0.1:$rtmp_port;
  }
}
CONF
    launch_nginx
    echo "rtmps://127.0.0.1:$tls_port/live"
    ;;
  stop)
    stop_nginx
    ;;
  *) echo "usage: nginx-rtmps.sh start|stop DIR [TLS_PORT RTMP_PORT]" >&2; exit 2 ;;
esac
