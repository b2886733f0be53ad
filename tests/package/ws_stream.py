#!/usr/bin/env python3
"""Streams a browser recording (tests/data/NAME/chunk-*.bin, one WebSocket
message per chunk, as MediaRecorder sent them) to a wsrtmpd /ingest/KEY URL,
closes with 1000 and waits for the server's close. Exits 0 when the server
answers 1000 ("stream ended": everything was delivered).

Usage: ws_stream.py ws://HOST:PORT/ingest/KEY CHUNK_DIR
The standard library only: it runs where the package test runs.
"""
import base64
import glob
import os
import socket
import struct
import sys
import urllib.parse


def frame(opcode, payload):
    mask = os.urandom(4)
    header = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        more = sock.recv(n - len(data))
        if not more:
            raise EOFError("connection closed")
        data += more
    return data


def read_frame(sock):
    b0, b1 = read_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(sock, 8))[0]
    return b0 & 0x0F, read_exact(sock, n)


def main():
    url, chunk_dir = sys.argv[1], sys.argv[2]
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n"
                  % (parts.path, parts.netloc, key)).encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += read_exact(sock, 1)
    if not response.startswith(b"HTTP/1.1 101"):
        sys.exit("no WebSocket upgrade: %r" % response.split(b"\r\n")[0])

    chunks = sorted(glob.glob(os.path.join(chunk_dir, "chunk-*.bin")))
    if not chunks:
        sys.exit("no chunk-*.bin in " + chunk_dir)
    for path in chunks:
        with open(path, "rb") as f:
            sock.sendall(frame(0x2, f.read()))
    sock.sendall(frame(0x8, struct.pack("!H", 1000)))
    while True:  # text frames (state, stats) until the server's close
        opcode, payload = read_frame(sock)
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if payload else 1005
            print("server closed with %d %s" % (code, payload[2:].decode()))
            sys.exit(0 if code == 1000 else 1)


if __name__ == "__main__":
    main()
