#!/usr/bin/env bash
# Our own nginx as a reverse proxy in front of wsrtmpd on 127.0.0.1, as its
# own process with its own config and pid file (never the system service).
# The location block is README.md's "Behind a reverse proxy" example.
#
#   nginx-proxy.sh start DIR PORT UPSTREAM_PORT [TLS_PORT CERT KEY]
#   nginx-proxy.sh stop DIR
#
# Plain HTTP on 127.0.0.1:PORT, and HTTPS on TLS_PORT when a certificate is
# given, both proxying to wsrtmpd on 127.0.0.1:UPSTREAM_PORT. nginx connects
# to wsrtmpd from 127.0.0.2 (proxy_bind), so that wsrtmpd can tell the proxy
# from clients that also run on this machine (127.0.0.1).
set -euo pipefail
cmd=${1:?usage: nginx-proxy.sh start|stop DIR [PORT UPSTREAM_PORT [TLS_PORT CERT KEY]]}
dir=$(mkdir -p "${2:?DIR missing}" && cd "$2" && pwd)
conf=$dir/nginx.conf

source "$(dirname "$0")/nginx-common.sh"

case $cmd in
  start)
    port=${3:?PORT missing}
    upstream=${4:?UPSTREAM_PORT missing}
    running && nginx -c "$conf" -s quit && sleep 0.3
    mkdir -p "$dir/tmp"
    user_line=""
    [[ $(id -u) = 0 ]] && user_line="user root root;"
    tls_lines=""
    if [[ $# -ge 7 ]]; then
      tls_lines="listen 127.0.0.1:$5 ssl;
    ssl_certificate $6;
    ssl_certificate_key $7;"
    fi
    cat > "$conf" <<CONF
$user_line
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log info;
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log $dir/access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;

  map \$http_upgrade \$connection_upgrade {
    default upgrade;
    ''      close;
  }
  server {
    listen 127.0.0.1:$port;
    $tls_lines

    location / {
      proxy_pass http://127.0.0.1:$upstream;
      proxy_bind 127.0.0.2;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header Forwarded "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
CONF
    launch_nginx
    echo "http://127.0.0.1:$port/"
    ;;
  stop)
    stop_nginx
    ;;
  *) echo "usage: nginx-proxy.sh start|stop DIR [PORT UPSTREAM_PORT [TLS_PORT CERT KEY]]" >&2; exit 2 ;;
esac
