#!/usr/bin/env python3
"""wsrtmpd speaks systemd's notify protocol (Type=notify, WatchdogSec=).

Plays systemd's part with a real NOTIFY_SOCKET: READY=1 (with the URL in
STATUS=) once wsrtmpd listens, WATCHDOG=1 pings at half of WATCHDOG_USEC
while the main loop turns, STOPPING=1 on SIGTERM, then exit 0. WSRTMPD names
the binary; GST_PLUGIN_PATH finds the plugin (meson test sets both).
"""
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

WATCHDOG_USEC = 1_000_000  # pings every 0.5 s
TIMEOUT_S = 60  # generous: the machine may be loaded


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    wsrtmpd = os.environ["WSRTMPD"]
    with tempfile.TemporaryDirectory(prefix="sd-notify-") as tmp:
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        env = dict(os.environ, NOTIFY_SOCKET=path,
                   WATCHDOG_USEC=str(WATCHDOG_USEC))
        # WATCHDOG_PID must name wsrtmpd itself: exec from a shell that sets
        # it to its own pid, as systemd sets it to the main pid.
        proc = subprocess.Popen(
            ["sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"', wsrtmpd,
             "--listen", "127.0.0.1:0", "--record-dir", tmp],
            env=env, stdout=subprocess.PIPE, text=True)
        try:
            run(sock, proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def receive(sock, deadline):
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([sock], [], [], left)[0]:
        return None
    return dict(line.split("=", 1)
                for line in sock.recv(4096).decode().splitlines())


def run(sock, proc):
    listening = proc.stdout.readline().strip()
    if not listening.startswith("wsrtmpd listening on "):
        fail("no 'listening' line, got %r" % listening)
    url = listening.split()[-1]

    deadline = time.monotonic() + TIMEOUT_S
    message = receive(sock, deadline)
    if message is None or message.get("READY") != "1":
        fail("expected READY=1 first, got %r" % message)
    if message.get("STATUS") != "listening on " + url:
        fail("STATUS=%r, expected 'listening on %s'" %
             (message.get("STATUS"), url))
    print("READY=1, STATUS=%s" % message["STATUS"])

    # Pings at half of WATCHDOG_USEC: about 8 in 4 s. Counted over a window,
    # not timed one by one: a loaded machine may deliver two at once.
    window_s = 4.0
    pings = 0
    window_end = time.monotonic() + window_s
    while time.monotonic() < window_end:
        message = receive(sock, window_end)
        if message and message.get("WATCHDOG") == "1":
            pings += 1
    nominal = window_s / (WATCHDOG_USEC / 1e6 / 2)
    if not 2 <= pings <= nominal + 2:
        fail("%d watchdog pings in %.0f s, expected about %.0f" %
             (pings, window_s, nominal))
    print("WATCHDOG=1 %d times in %.0f s" % (pings, window_s))

    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        message = receive(sock, deadline)
        if message is None:
            fail("no STOPPING=1 after SIGTERM")
        if message.get("STOPPING") == "1":
            break
    print("STOPPING=1, STATUS=%s" % message.get("STATUS"))
    try:
        code = proc.wait(TIMEOUT_S)
    except subprocess.TimeoutExpired:
        fail("still running %d s after SIGTERM" % TIMEOUT_S)
    if code != 0:
        fail("exit status %d after SIGTERM, expected 0" % code)
    print("exit 0")


if __name__ == "__main__":
    main()
