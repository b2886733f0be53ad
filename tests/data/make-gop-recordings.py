#!/usr/bin/env python3
"""Makes the ffmpeg-h264-gop*-250ms recordings: H.264 (Constrained Baseline,
as browsers send it) in live-style Matroska with keyframes 5 s or 10 s apart,
what a browser that ignores the keyframe request sends. With and without
Opus audio. Cut at cluster boundaries (at most 250 ms each) into
chunk-NNNNN.bin + meta.json, the layout of the browser recordings.

    tests/data/make-gop-recordings.py        (from the source root)

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import json
import os
import subprocess

CLUSTER_ID = b"\x1f\x43\xb6\x75"
HERE = os.path.dirname(os.path.abspath(__file__))


def vint(data, pos):
    """An EBML variable-size integer: (value, length)."""
    first = data[pos]
    length = 1
    while not first & (0x80 >> (length - 1)):
        length += 1
    value = first & (0xFF >> length)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    return value, length


def cluster_starts(data):
    """Offsets of the top-level clusters, walking the segment's children."""
    pos = data.find(b"\x18\x53\x80\x67")  # Segment
    _, n = vint(data, pos + 4)
    pos += 4 + n
    starts = []
    while pos < len(data):
        id_len = vint(data, pos)[1]
        element = data[pos:pos + id_len]
        size, n = vint(data, pos + id_len)
        if element == CLUSTER_ID:
            starts.append(pos)
        pos += id_len + n + size
    return starts


def cluster_time_ms(data, start):
    pos = start + 4 + vint(data, start + 4)[1]
    if data[pos] == 0xBF:  # CRC-32
        pos += 1 + vint(data, pos + 1)[1] + 4
    assert data[pos] == 0xE7, "cluster without a leading Timecode"
    size, n = vint(data, pos + 1)
    return int.from_bytes(data[pos + 1 + n:pos + 1 + n + size], "big")


def make(name, gop_s, fps, audio):
    duration = 12
    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
            f"testsrc2=s=1280x720:r={fps}:d={duration}"]
    if audio:
        args += ["-f", "lavfi", "-i",
                 f"sine=f=440:d={duration}:sample_rate=48000"]
    keyint = gop_s * fps
    args += ["-c:v", "libx264", "-profile:v", "baseline", "-preset", "veryfast",
             "-b:v", "100k", "-maxrate", "150k", "-bufsize", "300k",
             "-x264-params", f"keyint={keyint}:min-keyint={keyint}:scenecut=0",
             "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "libopus", "-b:a", "24k"]
    args += ["-f", "matroska", "-live", "1", "-cluster_time_limit", "250",
             "pipe:1"]
    data = subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout

    starts = cluster_starts(data)
    bounds = [0] + starts[1:] + [len(data)]
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    chunks = []
    for i in range(len(bounds) - 1):
        piece = data[bounds[i]:bounds[i + 1]]
        with open(os.path.join(folder, f"chunk-{i:05d}.bin"), "wb") as f:
            f.write(piece)
        t = cluster_time_ms(data, starts[i])
        chunks.append({"index": i, "size": len(piece), "timecode": t,
                       "t_ms": t + 250})
    mime = "video/x-matroska;codecs=avc1" + (",opus" if audio else "")
    meta = {
        "mimeType": mime,
        "timeslice_ms": 250,
        "chunks": len(chunks),
        "bytes": len(data),
        "browser": "ffmpeg",
        "width": 1280,
        "height": 720,
        "frame_rate": fps,
        "keyframe_interval_s": gop_s,
        "requested_duration_ms": duration * 1000,
        "made_with": "tests/data/make-gop-recordings.py: " + " ".join(args),
        "chunk_list": chunks,
    }
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    make("ffmpeg-h264-gop5s-opus-250ms", 5, 20, True)
    make("ffmpeg-h264-gop5s-videoonly-250ms", 5, 20, False)
    make("ffmpeg-h264-gop10s-opus-250ms", 10, 30, True)
    make("ffmpeg-h264-gop10s-videoonly-250ms", 10, 30, False)
