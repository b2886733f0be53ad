#!/usr/bin/env python3
"""deploy/kubernetes/ checked against the real wsrtmpd: the manifests parse,
the daemon starts with the Deployment's arguments, the probes' paths and
port are the ones it answers on, the HPA's metric is one it exports (and the
one prometheus-adapter is told to serve), the Ingress hashes on the key, the
grace period outlasts the preStop wait, and the preStop command really waits
while a stream runs and returns once it ended.

No cluster here: this is what can be checked without one.
Needs PyYAML (Debian: python3-yaml) and $WSRTMPD (meson sets it).
"""
import base64
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

try:
    import yaml
except ImportError:
    print('PyYAML missing: apt-get install python3-yaml', file=sys.stderr)
    sys.exit(77)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
DEPLOY = os.path.join(ROOT, 'deploy', 'kubernetes')


def load(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def only(docs, kind):
    found = [doc for doc in docs if doc['kind'] == kind]
    assert len(found) == 1, f'{len(found)} x {kind}'
    return found[0]


def option(args, name):
    """The value of --name=VALUE in a container's args."""
    for arg in args:
        if arg.startswith(f'--{name}='):
            return arg.split('=', 1)[1]
    raise AssertionError(f'--{name} not in the args')


class Daemon:
    """wsrtmpd with the Deployment's args, but on a free loopback port, and
    recording instead of publishing to the example RTMP server (whose name
    does not resolve: a stream would end at once), with a long idle
    timeout (the preStop test holds a stream that sends nothing) and the
    overload guard off (a busy test machine is no overload; readiness is
    checked for "ok")."""

    def __init__(self, args):
        self.dir = tempfile.TemporaryDirectory()
        self.log = open(os.path.join(self.dir.name, 'wsrtmpd.log'), 'w+')
        args = [a for a in args if not a.startswith(('--listen=',
                                                     '--rtmp-url='))]
        args += [f'--record-dir={self.dir.name}/rec', '--idle-timeout=60',
                 '--overload-delay-ms=0', '--overload-cpu-percent=0',
                 '--overload-machine-percent=0']
        self.process = subprocess.Popen(
            [os.path.abspath(os.environ.get('WSRTMPD', os.path.join(
                ROOT, 'build', 'service', 'wsrtmpd'))),
             '--listen=127.0.0.1:0'] + args,
            stdout=subprocess.PIPE, stderr=self.log, text=True,
            cwd=self.dir.name)
        line = self.process.stdout.readline()
        match = re.match(r'wsrtmpd listening on http://127\.0\.0\.1:(\d+)/',
                         line)
        if not match:
            self.stop()
            raise AssertionError('wsrtmpd did not start: ' + line +
                                 self.output())
        self.port = int(match.group(1))

    def get(self, path):
        try:
            with urllib.request.urlopen(
                    f'http://127.0.0.1:{self.port}{path}', timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.process.terminate()
        self.process.wait(20)
        self.log.close()
        self.dir.cleanup()


def open_stream(port, key):
    """A WebSocket to /ingest/KEY that sends nothing: a session runs."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=5)
    nonce = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f'GET /ingest/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                  'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                  f'Sec-WebSocket-Key: {nonce}\r\n'
                  'Sec-WebSocket-Version: 13\r\n\r\n').encode())
    answer = b''
    while b'\r\n\r\n' not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b'HTTP/1.1 101'), answer
    return sock


class KubernetesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = load('wsrtmpd.yaml')
        cls.adapter = load('prometheus-adapter-values.yaml')[0]
        cls.deployment = only(cls.docs, 'Deployment')
        cls.service = only(cls.docs, 'Service')
        cls.ingress = only(cls.docs, 'Ingress')
        cls.hpa = only(cls.docs, 'HorizontalPodAutoscaler')
        pod = cls.deployment['spec']['template']['spec']
        cls.pod = pod
        (cls.container,) = pod['containers']
        cls.args = cls.container['args']
        cls.env = {e['name']: e['value'] for e in cls.container['env']}
        cls.daemon = Daemon(cls.args)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def port_named(self, name):
        for port in self.container['ports']:
            if port['name'] == name:
                return port['containerPort']
        self.fail(f'no container port {name}')

    def test_probes_are_the_daemons(self):
        listen_port = int(option(self.args, 'listen').rsplit(':', 1)[1])
        readiness = self.container['readinessProbe']['httpGet']
        liveness = self.container['livenessProbe']['httpGet']
        for probe in (readiness, liveness):
            self.assertEqual(listen_port, self.port_named(probe['port']))
        self.assertEqual('/healthz', readiness['path'])
        self.assertEqual('/livez', liveness['path'])
        status, body = self.daemon.get(readiness['path'])
        self.assertEqual(200, status, body)
        self.assertIn('"status":"ok"', body)
        status, body = self.daemon.get(liveness['path'])
        self.assertEqual(200, status, body)

    def test_hpa_metric_is_exported(self):
        (metric,) = self.hpa['spec']['metrics']
        self.assertEqual('Pods', metric['type'])
        name = metric['pods']['metric']['name']
        self.assertEqual('wsrtmp_sessions_active', name)
        status, text = self.daemon.get('/metrics')
        self.assertEqual(200, status)
        self.assertIn(f'# TYPE {name} gauge\n', text)
        self.assertRegex(text, rf'(?m)^{name} 0$')
        target = self.hpa['spec']['scaleTargetRef']
        self.assertEqual(('Deployment', self.deployment['metadata']['name']),
                         (target['kind'], target['name']))
        # Below --max-sessions, where readiness says "full".
        average = float(metric['pods']['target']['averageValue'])
        self.assertLess(average, int(option(self.args, 'max-sessions')))
        # prometheus-adapter serves exactly that name, per pod.
        rules = [rule for rule in self.adapter['rules']['custom']
                 if rule['name']['as'] == name]
        self.assertEqual(1, len(rules))
        self.assertIn(name + '{', rules[0]['seriesQuery'])
        self.assertEqual({'resource': 'pod'},
                         rules[0]['resources']['overrides']['pod'])

    def test_ingress_hashes_on_the_key(self):
        annotations = self.ingress['metadata']['annotations']
        # $uri: the path without ?token=, i.e. /ingest/KEY.
        self.assertEqual('$uri',
                         annotations['nginx.ingress.kubernetes.io/upstream-hash-by'])
        self.assertIn('http_503',
                      annotations['nginx.ingress.kubernetes.io/proxy-next-upstream'])
        self.assertGreaterEqual(
            int(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']),
            3600)
        (service_port,) = self.service['spec']['ports']
        self.assertEqual(self.port_named(service_port['targetPort']),
                         self.port_named('http'))
        self.assertEqual(self.deployment['spec']['selector']['matchLabels'],
                         self.service['spec']['selector'])
        paths = {}
        for rule in self.ingress['spec']['rules']:
            for path in rule['http']['paths']:
                backend = path['backend']['service']
                self.assertEqual(self.service['metadata']['name'],
                                 backend['name'])
                self.assertEqual(service_port['name'], backend['port']['name'])
                paths[path['path']] = path['pathType']
        self.assertEqual('Prefix', paths.get('/ingest/'))
        self.assertEqual('Exact', paths.get('/'))
        # Every file of the page is routed (and it is served); the npm
        # files beside it are not installed (meson.build), nor routed.
        npm_files = {'package.json', 'package-lock.json', 'vendor.mjs',
                     'node_modules'}
        for entry in os.listdir(os.path.join(ROOT, 'web')):
            if entry == 'index.html' or entry in npm_files:
                continue
            is_dir = os.path.isdir(os.path.join(ROOT, 'web', entry))
            routed = (f'/{entry}/', 'Prefix') if is_dir else (f'/{entry}',
                                                              'Exact')
            self.assertEqual(routed[1], paths.get(routed[0]),
                             f'web/{entry} is not routed by the Ingress')
            if not is_dir:
                self.assertEqual(200, self.daemon.get(routed[0])[0])

    def test_grace_period_outlasts_the_drain(self):
        grace = self.pod['terminationGracePeriodSeconds']
        drain_max = int(self.env['WSRTMP_DRAIN_MAX_S'])
        drain_timeout = int(option(self.args, 'drain-timeout'))
        # wsrtmpd stops a drain at --drain-timeout + 2 s (its backstop).
        self.assertGreater(grace, drain_max + drain_timeout + 2)

    def test_resources_requested(self):
        resources = self.container['resources']
        for what in ('cpu', 'memory'):
            self.assertIn(what, resources['requests'])
        self.assertIn('memory', resources['limits'])

    def test_prestop_waits_for_the_streams(self):
        """The preStop command, run against the daemon: returns at once
        when no stream runs, waits while one does, returns after it ended."""
        command = self.container['lifecycle']['preStop']['exec']['command']
        listen_port = option(self.args, 'listen').rsplit(':', 1)[1]
        self.assertIn(f'/dev/tcp/127.0.0.1/{listen_port}', command[-1])
        command = command[:-1] + [command[-1].replace(
            f'/dev/tcp/127.0.0.1/{listen_port}',
            f'/dev/tcp/127.0.0.1/{self.daemon.port}')]
        env = dict(os.environ, WSRTMP_DRAIN_MAX_S='60')

        start = time.monotonic()
        subprocess.run(command, env=env, timeout=10, check=True)
        self.assertLess(time.monotonic() - start, 3)

        stream = open_stream(self.daemon.port, 'prestop')
        try:
            for _ in range(50):
                if '"sessions_active":1' in self.daemon.get('/healthz')[1]:
                    break
                time.sleep(0.1)
            hook = subprocess.Popen(command, env=env)
            time.sleep(2)
            self.assertIsNone(hook.poll(), 'preStop returned while a stream '
                              'ran: ' + self.daemon.get('/healthz')[1] +
                              self.daemon.output())
            self.assertIn('"sessions_active":1', self.daemon.get('/healthz')[1])
        finally:
            stream.close()
        start = time.monotonic()
        hook.wait(15)
        self.assertEqual(0, hook.returncode)
        print(f'preStop returned {time.monotonic() - start:.1f} s after the '
              'stream ended')


if __name__ == '__main__':
    unittest.main(verbosity=2)
