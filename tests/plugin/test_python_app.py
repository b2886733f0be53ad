#!/usr/bin/env python3
"""flvencodebin in an application of another language binding: Python
through PyGObject (Debian's python3-gi, gir1.2-gstreamer-1.0 and
gir1.2-gst-plugins-base-1.0).

The app builds `wsserversrc ! flvencodebin ! filesink`, listens on a port
the system picks (port=0, then `current-port`), a client streams a browser
recording to it (tests/package/ws_stream.py: one WebSocket message per
MediaRecorder chunk), and the pipeline ends on EOS when the client closes.
The file must have one onMetaData (flvmux wrote one per bitrate tag before
issue 32: ffprobe then saw a third, subtitle stream), one H.264 and one AAC
stream, as long as the recording.

Run by meson (plugin suite) with GST_PLUGIN_PATH at the build tree.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

# H.264 with keyframes 2 s apart: passed through (fast), Opus transcoded to
# AAC; no switch to transcoding, so no second onMetaData is due.
RECORDING = "chrome-h264-opus-kf2s-30s-250ms"
DURATION_TOLERANCE_S = 0.2


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def script_tags(path):
    """Names of the FLV file's script tags (type 18), in order."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:3] != b"FLV":
        fail(path + " is not an FLV file")
    names = []
    pos = struct.unpack(">I", data[5:9])[0] + 4
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        body = data[pos + 11:pos + 11 + size]
        if data[pos] & 0x1F == 18 and body[:1] == b"\x02":
            length = struct.unpack(">H", body[1:3])[0]
            names.append(body[3:3 + length].decode())
        pos += 11 + size + 4
    return names


def probe(path):
    """ffprobe's streams, each with its packets' time span (seconds)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_entries",
         "packet=stream_index,pts_time", "-of", "json", path],
        check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    streams = info.get("streams", [])
    times = {}
    for packet in info.get("packets", []):
        if packet.get("pts_time", "N/A") != "N/A":
            times.setdefault(packet["stream_index"], []).append(
                float(packet["pts_time"]))
    for s in streams:
        t = times.get(s["index"], [0.0])
        s["span"] = max(t) - min(t)
    return streams


def run_app(chunk_dir, output):
    """The application: the pipeline, a client, EOS. Returns the client's
    output (its exit status is checked)."""
    pipeline = Gst.parse_launch(
        "wsserversrc name=src host=127.0.0.1 port=0 ! flvencodebin ! "
        "filesink name=file")
    pipeline.get_by_name("file").set_property("location", output)
    bus = pipeline.get_bus()
    try:
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            fail("the pipeline did not start")
        # wsserversrc listens once it is started (READY to PAUSED).
        port = pipeline.get_by_name("src").get_property("current-port")
        if port <= 0:
            fail("wsserversrc is not listening (current-port %d)" % port)

        client = {}
        client_script = os.path.join(os.environ["WSRTMP_SOURCE_ROOT"],
                                     "tests", "package", "ws_stream.py")

        def stream():
            client["done"] = subprocess.run(
                [sys.executable, client_script,
                 "ws://127.0.0.1:%d/" % port, chunk_dir],
                capture_output=True, text=True, timeout=60)

        thread = threading.Thread(target=stream)
        thread.start()
        message = bus.timed_pop_filtered(
            60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        thread.join()
        if message is None:
            fail("no EOS within 60 s")
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            fail("pipeline error: %s (%s)" % (error.message, debug))
        done = client["done"]
        if done.returncode != 0:
            fail("client: %s%s" % (done.stdout, done.stderr))
        return done.stdout
    finally:
        pipeline.set_state(Gst.State.NULL)


def main():
    Gst.init(None)
    chunk_dir = os.path.join(os.environ["WSRTMP_TEST_DATA"], RECORDING)
    with tempfile.TemporaryDirectory() as tmp:
        output = os.path.join(tmp, "app.flv")
        print(run_app(chunk_dir, output).strip())

        scripts = script_tags(output)
        if scripts != ["onMetaData"]:
            fail("script tags %s, want one onMetaData" % scripts)

        streams = probe(output)
        kinds = sorted((s["codec_type"], s["codec_name"]) for s in streams)
        if kinds != [("audio", "aac"), ("video", "h264")]:
            fail("ffprobe's streams %s, want one H.264 and one AAC" % kinds)

        recording = os.path.join(tmp, "recording.mkv")
        with open(recording, "wb") as joined:
            for name in sorted(os.listdir(chunk_dir)):
                if name.startswith("chunk-"):
                    with open(os.path.join(chunk_dir, name), "rb") as chunk:
                        joined.write(chunk.read())
        want = next(s["span"] for s in probe(recording)
                    if s["codec_type"] == "video")
        got = next(s["span"] for s in streams if s["codec_type"] == "video")
        if abs(got - want) > DURATION_TOLERANCE_S:
            fail("video lasts %.3f s, the recording %.3f s" % (got, want))
        print("one onMetaData, H.264 + AAC, %.3f s (recording %.3f s)"
              % (got, want))


if __name__ == "__main__":
    main()
