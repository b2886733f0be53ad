#!/usr/bin/env bash
# deploy/nginx/nginx.conf passes `nginx -t` once its certificate exists
# (made here with openssl), with loopback ports and test paths substituted
# by render-nginx-conf.py, and hashes on the key from the path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
conf=$here/../../deploy/nginx/nginx.conf
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
"$here/render-nginx-conf.py" "$dir" 18080 18443 "$dir/cert.pem" "$dir/key.pem" \
  "$here/../../web" 18081 18082 18083
nginx -t -c "$dir/nginx.conf" -e "$dir/error.log"

# What matters for one stream per key, in the shipped file itself.
grep -Eq '^ *hash \$wsrtmp_key consistent;' "$conf"
grep -Eq '^ *map \$uri \$wsrtmp_key' "$conf"        # the path: not $request_uri (token)
grep -Eq 'proxy_next_upstream error timeout http_503;' "$conf"
grep -Eq 'server 10\.0\.0\.[0-9]+:8080 max_fails=1 fail_timeout=' "$conf"
grep -Eq 'proxy_set_header Upgrade \$http_upgrade;' "$conf"
grep -Eq 'proxy_read_timeout 1h;' "$conf"
echo "deploy/nginx/nginx.conf: nginx -t ok"
