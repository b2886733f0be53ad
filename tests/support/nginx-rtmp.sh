#!/usr/bin/env bash
# Our own nginx with the RTMP module on 127.0.0.1, as its own process with its
# own config and pid file (never the system service). Used by the service and
# end-to-end tests and by bench/.
#
#   nginx-rtmp.sh start DIR [RTMP_PORT] [HTTP_PORT]   prints "rtmp://127.0.0.1:PORT/live"
#   nginx-rtmp.sh stop DIR
#
# Every published stream is recorded to DIR/rec/<key>.flv (`record all`).
# The stat page (rtmp_stat) is at http://127.0.0.1:HTTP_PORT/stat.
set -euo pipefail
cmd=${1:?usage: nginx-rtmp.sh start|stop DIR [RTMP_PORT] [HTTP_PORT]}
dir=$(mkdir -p "${2:?DIR missing}" && cd "$2" && pwd)
rtmp_port=${3:-19350}
http_port=${4:-$((rtmp_port + 1))}
conf=$dir/nginx.conf
module=/usr/lib/nginx/modules/ngx_rtmp_module.so

source "$(dirname "$0")/nginx-common.sh"

case $cmd in
  start)
    running && nginx -c "$conf" -s quit && sleep 0.3
    [[ -f $module ]] || { echo "nginx RTMP module missing: install libnginx-mod-rtmp" >&2; exit 1; }
    mkdir -p "$dir/rec" "$dir/tmp"
    # As root, nginx would run its worker as nobody, who may not reach a
    # private temporary directory: keep the worker as ourselves.
    user_line=""
    [[ $(id -u) = 0 ]] && user_line="user root root;"
    cat > "$conf" <<CONF
load_module $module;
$user_line
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log info;
worker_processes 1;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:$rtmp_port;
    chunk_size 4096;
    application live {
      live on;
      record all;
      record_path $dir/rec;
      record_unique off;
    }
  }
}
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$http_port;
    location /stat { rtmp_stat all; }
  }
}
CONF
    launch_nginx
    echo "rtmp://127.0.0.1:$rtmp_port/live"
    ;;
  stop)
    stop_nginx
    ;;
  *) echo "usage: nginx-rtmp.sh start|stop DIR [RTMP_PORT] [HTTP_PORT]" >&2; exit 2 ;;
esac
