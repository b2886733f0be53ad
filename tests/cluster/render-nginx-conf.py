#!/usr/bin/env python3
"""deploy/nginx/nginx.conf made runnable on loopback by an unprivileged test:
ports, daemons, certificate, page and nginx's own files substituted, nothing
else changed. Every substitution must apply, so a config that drifts from
what the tests expect fails here, loudly.

  render-nginx-conf.py DIR HTTP_PORT HTTPS_PORT CERT KEY WEB_ROOT DAEMON_PORT...

Writes DIR/nginx.conf (nginx's pid, logs and temporary files in DIR).
"""
import os
import re
import sys


def main():
    if len(sys.argv) < 8:
        sys.exit(__doc__)
    out_dir, http_port, https_port, cert, key, web_root = sys.argv[1:7]
    daemons = sys.argv[7:]
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.join(here, '..', '..', 'deploy', 'nginx', 'nginx.conf')
    with open(source) as f:
        conf = f.read()

    def replace(old, new, count=1):
        nonlocal conf
        if conf.count(old) != count:
            sys.exit(f'deploy/nginx/nginx.conf: expected {count} x {old!r}')
        conf = conf.replace(old, new)

    # As root nginx would switch to www-data, who cannot reach our files.
    replace('user www-data;', 'user root root;' if os.getuid() == 0 else '')
    replace('pid /run/nginx.pid;', f'pid {out_dir}/nginx.pid;')
    replace('error_log /var/log/nginx/error.log;',
            f'error_log {out_dir}/error.log info;')
    replace('access_log /var/log/nginx/wsrtmp.access.log;',
            f'access_log {out_dir}/access.log;\n'
            + ''.join(f'    {name}_temp_path {out_dir}/tmp/{name};\n'
                      for name in ('client_body', 'proxy', 'fastcgi',
                                   'uwsgi', 'scgi')))
    replace('listen 80;', f'listen 127.0.0.1:{http_port};')
    replace('listen 443 ssl;', f'listen 127.0.0.1:{https_port} ssl;')
    replace('listen [::]:80;\n', '')
    replace('listen [::]:443 ssl;\n', '')
    replace('/etc/letsencrypt/live/live.example.com/fullchain.pem', cert)
    replace('/etc/letsencrypt/live/live.example.com/privkey.pem', key)
    replace('root /usr/share/wsrtmp/web;', f'root {web_root};')

    servers = re.findall(r'^( *)server 10\.0\.0\.\d+:8080 (.*);\n', conf,
                         re.MULTILINE)
    if not servers:
        sys.exit('deploy/nginx/nginx.conf: no daemon in upstream wsrtmpd')
    indent, parameters = servers[0]
    block = ''.join(f'{indent}server 127.0.0.1:{port} {parameters};\n'
                    for port in daemons)
    conf = re.sub(r'^ *server 10\.0\.0\.\d+:8080 .*;\n', '', conf,
                  flags=re.MULTILINE)
    replace('        hash $wsrtmp_key consistent;\n',
            '        hash $wsrtmp_key consistent;\n' + block)

    os.makedirs(os.path.join(out_dir, 'tmp'), exist_ok=True)
    with open(os.path.join(out_dir, 'nginx.conf'), 'w') as f:
        f.write(conf)


if __name__ == '__main__':
    main()
