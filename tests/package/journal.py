#!/usr/bin/env python3
"""Under systemd, wsrtmpd's logs reach the journal as structured fields.

systemd connects a service's stderr to journald's stream socket
(/run/systemd/journal/stdout); GLib's default log writer then sees that
(g_log_writer_is_journald) and sends each record as fields to
/run/systemd/journal/socket. This test plays journald's part in a private
mount namespace (a tmpfs on /run, so a real journald is never touched),
streams a recording through wsrtmpd and checks that the session events arrive
with GLIB_DOMAIN, SESSION, STREAM_KEY (masked) and PRIORITY, and nothing on
the plain stream. Needs root (unshare, mount); skipped (77) otherwise.
"""
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 60


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root for a private /run")
        sys.exit(77)
    if not os.environ.get("WSRTMP_JOURNAL_UNSHARED"):
        env = dict(os.environ, WSRTMP_JOURNAL_UNSHARED="1")
        sys.exit(subprocess.call(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs tmpfs /run && exec "$0" "$@"',
             sys.executable] + sys.argv, env=env))

    os.makedirs("/run/systemd/journal")
    records = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    records.bind("/run/systemd/journal/socket")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("/run/systemd/journal/stdout")
    listener.listen(1)
    stderr = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stderr.connect("/run/systemd/journal/stdout")
    plain, _ = listener.accept()
    st = os.fstat(stderr.fileno())

    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(os.environ["WSRTMP_TEST_DATA"], "chrome-h264-opus-250ms")
    with tempfile.TemporaryDirectory(prefix="journal-") as tmp:
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        env.pop("GST_DEBUG", None)  # GStreamer's own log writes to stderr
        proc = subprocess.Popen(
            [os.environ["WSRTMPD"], "--listen", "127.0.0.1:0",
             "--record-dir", tmp],
            env=env, stdout=subprocess.PIPE, stderr=stderr.fileno(), text=True)
        stderr.close()
        try:
            url = proc.stdout.readline().split()[-1]
            subprocess.run([sys.executable, os.path.join(here, "ws_stream.py"),
                            url.replace("http", "ws", 1) + "ingest/journaltest",
                            data], check=True, timeout=TIMEOUT_S)
            events = read_events(records, "ended after")
        finally:
            proc.terminate()
            proc.wait(TIMEOUT_S)

    for event in events:
        print(" | ".join("%s=%s" % kv for kv in sorted(event.items())))
    for event in events:
        for field, value in (("GLIB_DOMAIN", "wsrtmpd"), ("SESSION", "1"),
                             ("STREAM_KEY", "jou***"), ("PRIORITY", "5")):
            if event.get(field) != value:
                sys.exit("FAIL: %s=%r, expected %r in %r" %
                         (field, event.get(field), value, event))
    plain.setblocking(False)
    try:
        leaked = plain.recv(65536)
    except BlockingIOError:
        leaked = b""
    if b"wsrtmpd-" in leaked:
        sys.exit("FAIL: records on the plain stream too: %r" % leaked[:200])


def read_events(records, last):
    """Session records (with a SESSION field) up to the one saying `last`."""
    events = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if not select.select([records], [], [], 1)[0]:
            continue
        fields = dict(line.split("=", 1) for line in
                      records.recv(65536).decode().splitlines() if "=" in line)
        if "SESSION" in fields:
            events.append(fields)
            if last in fields.get("MESSAGE", ""):
                return events
    sys.exit("FAIL: no journal record saying %r; got %r" % (last, events))


if __name__ == "__main__":
    main()
