#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets.

usage: make_seeds.py DATA_DIR OUT_DIR [STAMP]

Into OUT_DIR/seeds-ingest, seeds-demux, seeds-messages and seeds-whip (each emptied
first), in each target's input format (see fuzz_<name>.cpp):

- ingest: a flags byte, then a real recording's first MediaRecorder chunks
  (from DATA_DIR) as length-prefixed messages, cut at INGEST_BUDGET bytes so
  an execution stays cheap. Chunks larger than a 2-byte length are sent as
  several messages, which is fine: messages are not aligned to container
  elements anyway.
- demux: a flags byte (which demuxer, how to cut), then the start of a
  real recording as one byte stream, cut at a few sizes.
- messages: a settings byte, then client frames as a browser (or a broken
  client) would send them: real chunks as binary messages, fragments,
  control frames, text, close frames with valid and invalid codes, frames
  over the limits.
"""
import glob
import hashlib
import os
import struct
import sys

INGEST_BUDGET = 48 * 1024
FLAG_WEBSOCKET, FLAG_FULL_SIZE, FLAG_NO_PASSTHROUGH = 1, 2, 4

# fuzz_demux keeps inputs small: exec/s falls with the bytes demuxed, and
# the interesting part of a browser recording (headers, first clusters or
# fragments, codec data) is at its start.
DEMUX_CUTS = (1024, 4096, 12 * 1024)
DEMUX_FLAG_MP4, DEMUX_FLAG_SPLIT = 1, 2

# fuzz_messages settings byte.
MAX_MESSAGE_8, MAX_MESSAGE_200, MAX_MESSAGE_4096 = 1, 2, 3
MAX_QUEUED_16, MAX_QUEUED_300, MAX_QUEUED_8192 = 1 << 2, 2 << 2, 3 << 2
LIVE, TRICKLE, STOP_EARLY = 1 << 4, 1 << 5, 1 << 6
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def recordings(data_dir):
    for fixture in sorted(glob.glob(os.path.join(data_dir, "*", ""))):
        name = os.path.basename(os.path.dirname(fixture))
        chunks = []
        for path in sorted(glob.glob(os.path.join(fixture, "chunk-*.bin"))):
            with open(path, "rb") as f:
                chunks.append(f.read())
        if chunks:
            yield name, chunks


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


def ingest_seeds(data_dir):
    for name, chunks in recordings(data_dir):
        variants = [
            ("appsrc", 0, messages(chunks, INGEST_BUDGET)),
            ("ws", FLAG_WEBSOCKET, messages(chunks, INGEST_BUDGET, first_byte_alone=True)),
        ]
        if "h264" in name or "avc1" in name:
            variants.append(("appsrc-1280", FLAG_FULL_SIZE, messages(chunks, INGEST_BUDGET)))
            variants.append(("ws-1280-nopass", FLAG_WEBSOCKET | FLAG_FULL_SIZE |
                             FLAG_NO_PASSTHROUGH, messages(chunks, INGEST_BUDGET // 2)))
        for label, flags, msgs in variants:
            yield f"{name}-{label}", bytes([flags]) + b"".join(
                struct.pack("<H", len(m)) + m for m in msgs)


def demux_seeds(data_dir):
    for name, chunks in recordings(data_dir):
        stream = b"".join(chunks)
        container = DEMUX_FLAG_MP4 if stream[4:8] == b"ftyp" else 0
        for cut in DEMUX_CUTS:
            yield f"{name}-{cut // 1024}k", bytes([container]) + stream[:cut]
        # 64 * (1 + 7) = 512-byte pieces.
        yield f"{name}-split", bytes([container | DEMUX_FLAG_SPLIT | 7 << 2]) + \
            stream[:DEMUX_CUTS[1]]


def frame(opcode, payload=b"", fin=True, masked=True, rsv=0,
          mask=b"\x00\x00\x00\x00", length=None, length_bytes=None):
    """One client frame. length overrides the length field (a lie about the
    payload); length_bytes forces the 7-, 16- or 64-bit form."""
    n = len(payload) if length is None else length
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 0x10000 else 8
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if length_bytes == 0:
        head += bytes([mask_bit | n])
    elif length_bytes == 2:
        head += bytes([mask_bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def close(code=None, reason=b""):
    return frame(OP_CLOSE, b"" if code is None else struct.pack(">H", code) + reason)


def binary(data, **kw):
    return frame(OP_BINARY, data, **kw)


def message_seeds(data_dir):
    normal = close(1000)
    real = []
    for name, chunks in recordings(data_dir):
        if name.startswith("chrome-h264"):
            real = [c[:700] for c in chunks[:4]]
            break
    real_frames = b"".join(binary(c, mask=b"\x12\x34\x56\x78") for c in real)

    seeds = {
        # What a browser sends.
        "recording": (0, real_frames + normal),
        "recording-live": (LIVE, real_frames + normal),
        "recording-trickle": (TRICKLE | LIVE, real_frames + normal),
        "recording-no-close": (0, real_frames),
        "recording-stop-early": (STOP_EARLY, real_frames + normal),
        "recording-limit-4096": (MAX_MESSAGE_4096 | MAX_QUEUED_8192, real_frames + normal),
        "empty-binary": (0, binary(b"") + binary(b"x") + normal),
        "many-small": (0, b"".join(binary(bytes([i]) * 3) for i in range(40)) + normal),
        # Limits.
        "too-big": (MAX_MESSAGE_8, binary(b"12345678") + binary(b"123456789") + normal),
        "too-big-fragmented": (MAX_MESSAGE_8, binary(b"12345", fin=False) +
                               frame(OP_CONT, b"67890") + normal),
        "too-big-live": (MAX_MESSAGE_200 | LIVE, binary(b"a" * 100) + binary(b"b" * 300) + normal),
        "too-big-64bit-length": (MAX_MESSAGE_4096, binary(b"abc", length=1 << 62, length_bytes=8)),
        "too-big-unlimited": (0, binary(b"abc", length=(1 << 63) + 5, length_bytes=8)),
        # libsoup 3.2 wraps header + length with no limit (regressions/messages/
        # crash-libsoup-length-wrap-unlimited): wsserversrc caps the limit.
        "length-wraps-unlimited": (0, binary(b"abcd", length=(1 << 64) - 1, length_bytes=8)),
        "queue-overflow": (MAX_QUEUED_16, binary(b"0123456789") + binary(b"0123456789") + normal),
        "queue-overflow-then-more": (MAX_QUEUED_16, binary(b"0123456789") * 3 +
                                     frame(OP_TEXT, b"after") + normal),
        "queue-overflow-live": (MAX_QUEUED_300 | LIVE, binary(b"q" * 200) * 4 + normal),
        "fragments-over-limit": (MAX_MESSAGE_8, binary(b"12345", fin=False) +
                                 frame(OP_CONT, b"67890") + normal),
        "over-limit-after-1002": (MAX_MESSAGE_8, frame(OP_CONT, b"orphan") +
                                  binary(b"0123") + binary(b"12345", fin=False) +
                                  frame(OP_CONT, b"67890") + normal),
        "both-limits": (MAX_MESSAGE_200 | MAX_QUEUED_300, binary(b"q" * 200) * 2 +
                        binary(b"r" * 201) + normal),
        # Framing.
        "fragmented": (0, binary(b"frag-", fin=False) + frame(OP_PING, b"p") +
                       frame(OP_CONT, b"ment", fin=False) + frame(OP_CONT, b"ed") + normal),
        "continuation-first": (0, frame(OP_CONT, b"orphan") + normal),
        "new-message-inside-fragments": (0, binary(b"a", fin=False) + binary(b"b") + normal),
        "unmasked": (0, binary(b"plain", masked=False) + normal),
        "reserved-bits": (0, binary(b"rsv", rsv=4) + normal),
        "reserved-opcode": (0, frame(3, b"op3") + frame(0xB, b"opB") + normal),
        "non-minimal-length": (0, binary(b"short", length_bytes=2) +
                               binary(b"short", length_bytes=8) + normal),
        "length-past-end": (0, binary(b"abc", length=50)),
        "cut-header": (0, binary(b"whole") + bytes([0x82, 0xFE, 0x01])),
        # Control frames.
        "ping-pong": (0, frame(OP_PING, b"hi") + frame(OP_PONG, b"") + binary(b"data") + normal),
        "ping-too-long": (0, frame(OP_PING, b"p" * 126) + normal),
        "ping-fragmented": (0, frame(OP_PING, b"p", fin=False) + normal),
        # Text.
        "text": (0, frame(OP_TEXT, b'{"type":"hello"}') + binary(b"data") + normal),
        "text-invalid-utf8": (0, frame(OP_TEXT, b"\xff\xfe") + normal),
        "text-with-nul": (0, frame(OP_TEXT, b"a\x00b") + normal),
        "text-fragmented": (0, frame(OP_TEXT, b"\xc3", fin=False) + frame(OP_CONT, b"\xa9") + normal),
        # Close frames.
        "close-empty": (0, binary(b"data") + close()),
        "close-one-byte": (0, binary(b"data") + frame(OP_CLOSE, b"\x03")),
        "close-long-reason": (0, close(1000, b"r" * 123)),
        "close-reason-invalid-utf8": (0, close(1000, b"\xff")),
        "close-then-data": (0, normal + binary(b"late")),
        "close-twice": (0, normal + close(1001)),
        "close-fragmented": (0, frame(OP_CLOSE, b"\x03\xe8", fin=False)),
    }
    for code in (999, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010,
                 1011, 1012, 1013, 1014, 1015, 1016, 2999, 3000, 4000, 4999,
                 5000, 65535):
        seeds[f"close-{code}"] = (0, binary(b"data") + close(code, b"bye"))
    for label, (settings, body) in seeds.items():
        yield label, bytes([settings]) + body


def whip_seeds(data_dir):
    """fuzz_whip: offers as browsers and OBS send them, a trickle fragment, an answer."""
    head = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    video = ("m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 45\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
             "a=sendonly\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef01234567\r\n"
             "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
             "a=rtpmap:96 H264/90000\r\na=rtcp-fb:96 nack pli\r\n"
             "a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n"
             "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=rtpmap:98 VP8/90000\r\n"
             "a=rtpmap:45 AV1/90000\r\na=rid:h send\r\na=simulcast:send h\r\n")
    audio = ("m=audio 0 UDP/TLS/RTP/SAVPF 111 63\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
             "a=bundle-only\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n"
             "a=rtpmap:63 red/48000/2\r\n")
    yield "offer-browser", b"\x00" + (head + video + audio).encode()
    yield "offer-av1-only", b"\x00" + (head + video.replace(" 96 97 98 45", " 45")).encode()
    yield "trickle", b"\x01" + (b"a=ice-ufrag:abcd\r\na=ice-pwd:x\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
                                  b"a=mid:0\r\na=candidate:1 1 udp 2015363327 192.0.2.1 5000 typ host\r\n"
                                  b"a=end-of-candidates\r\n")
    yield "answer", b"\x02" + (head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                                "a=candidate:1 1 UDP 2015363327 10.0.0.5 43433 typ host\r\n"
                                "a=candidate:4 1 UDP 2015363583 fd00::2 36702 typ host\r\n").encode()


def write(out_dir, seeds):
    os.makedirs(out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(out_dir, "*")):
        os.unlink(old)
    count = 0
    for label, seed in seeds:
        digest = hashlib.sha1(seed).hexdigest()[:12]
        with open(os.path.join(out_dir, f"{label}-{digest}"), "wb") as f:
            f.write(seed)
        count += 1
    return count


def main():
    data_dir, out_dir = sys.argv[1], sys.argv[2]
    counts = {
        "ingest": write(os.path.join(out_dir, "seeds-ingest"), ingest_seeds(data_dir)),
        "demux": write(os.path.join(out_dir, "seeds-demux"), demux_seeds(data_dir)),
        "messages": write(os.path.join(out_dir, "seeds-messages"), message_seeds(data_dir)),
        "whip": write(os.path.join(out_dir, "seeds-whip"), whip_seeds(data_dir)),
    }
    summary = ", ".join(f"{n} {target}" for target, n in counts.items())
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as f:
            f.write(summary + "\n")
    print(f"seeds in {out_dir}/seeds-*: {summary}")


if __name__ == "__main__":
    main()
