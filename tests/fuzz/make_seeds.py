#!/usr/bin/env python3
"""Writes fuzz_ingest's seed corpus from the real browser recordings.

usage: make_seeds.py DATA_DIR OUT_DIR [STAMP]

Each seed is fuzz_ingest's input format (see fuzz_ingest.cpp): a flags byte,
then the recording's first MediaRecorder chunks as length-prefixed messages,
cut at BUDGET bytes so an execution stays cheap. Chunks larger than a 2-byte
length are sent as several messages, which is fine: messages are not aligned
to container elements anyway.
"""
import glob
import hashlib
import os
import struct
import sys

BUDGET = 48 * 1024
FLAG_WEBSOCKET, FLAG_FULL_SIZE, FLAG_NO_PASSTHROUGH = 1, 2, 4


def messages(chunks, budget, first_byte_alone=False):
    out, total = [], 0
    for i, chunk in enumerate(chunks):
        if first_byte_alone and i == 0 and len(chunk) > 1:
            # Chromium may send a 1-byte first message.
            out.append(chunk[:1])
            chunk = chunk[1:]
        while chunk and total < budget:
            piece = chunk[:min(0xFFFF, budget - total)]
            out.append(piece)
            total += len(piece)
            chunk = chunk[len(piece):]
        if total >= budget:
            break
    return out


def encode(flags, msgs):
    return bytes([flags]) + b"".join(struct.pack("<H", len(m)) + m for m in msgs)


def main():
    data_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(out_dir, "*")):
        os.unlink(old)
    count = 0
    for fixture in sorted(glob.glob(os.path.join(data_dir, "*", ""))):
        name = os.path.basename(os.path.dirname(fixture))
        chunks = []
        for path in sorted(glob.glob(os.path.join(fixture, "chunk-*.bin"))):
            with open(path, "rb") as f:
                chunks.append(f.read())
        if not chunks:
            continue
        variants = [
            ("appsrc", 0, messages(chunks, BUDGET)),
            ("ws", FLAG_WEBSOCKET, messages(chunks, BUDGET, first_byte_alone=True)),
        ]
        if "h264" in name or "avc1" in name:
            variants.append(("appsrc-1280", FLAG_FULL_SIZE, messages(chunks, BUDGET)))
            variants.append(("ws-1280-nopass", FLAG_WEBSOCKET | FLAG_FULL_SIZE |
                             FLAG_NO_PASSTHROUGH, messages(chunks, BUDGET // 2)))
        for label, flags, msgs in variants:
            seed = encode(flags, msgs)
            digest = hashlib.sha1(seed).hexdigest()[:12]
            with open(os.path.join(out_dir, f"{name}-{label}-{digest}"), "wb") as f:
                f.write(seed)
            count += 1
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as f:
            f.write(f"{count} seeds\n")
    print(f"{count} seeds in {out_dir}")


if __name__ == "__main__":
    main()
