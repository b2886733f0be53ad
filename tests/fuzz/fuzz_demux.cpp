/* libFuzzer target: flvencodebin's demux-and-parse front without decoders
 * or encoders.
 *
 * Input format (make_seeds.py builds seeds from tests/data):
 *
 *   byte 0   flags
 *              bit 0     the container: 0 = WebM/Matroska (matroskademux),
 *                        1 = MP4 (qtdemux)
 *              bit 1     push the stream in pieces of 64 * (1 + (byte 0 >> 2))
 *                        bytes (else as one buffer)
 *   then     the byte stream, as wsserversrc would push it (BYTES segment,
 *            offsets), ended with EOS
 *
 * flvencodebin's parsebin finds a browser's recording to be WebM or MP4 and
 * builds   matroskademux or qtdemux ! h264parse (for H.264; vp9parse,
 * av1parse, aacparse for those; nothing for VP8 and Opus)   and flvencodebin
 * then passes H.264 through   h264parse ! capsfilter
 * caps=video/x-h264,stream-format=avc,alignment=au   and AAC through
 * aacparse ! capsfilter caps=audio/mpeg,...,stream-format=raw. This target
 * runs exactly those elements, with a fakesink behind each stream instead
 * of decoders, encoders and flvmux, and without typefind (the input says
 * which demuxer; fuzz_ingest covers typefinding).
 *
 * The branches are made once and reused: one per kind of stream (more
 * when an input has several streams of a kind). An execution makes a new
 * demuxer (a reused one keeps state across READY: matroskademux then fails
 * on the same input the second time), links our pad to it, pushes the
 * input from this thread, so every element downstream runs synchronously
 * in this thread, then removes the demuxer and stops the branches it used
 * (READY: they forget the stream).
 *
 * Checks: no crash or sanitizer report (the main point), pushing ends (a
 * hang trips libFuzzer's -timeout), and every stream the demuxer exposed
 * got EOS or an error was posted.
 *
 * The demuxers and parsers are GStreamer's, not instrumented: libFuzzer is
 * guided by the debug statements they reach instead (fuzz::trace_gst_debug).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "fuzz_common.h"

#include <gst/gst.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr guint8 FLAG_MP4 = 1 << 0;
constexpr guint8 FLAG_SPLIT = 1 << 1;

/* parsebin's parser, then flvencodebin's passthrough (gstflvencodebin.cpp:
 * VIDEO_PASSTHROUGH, AUDIO_PASSTHROUGH), then a sink. */
struct BranchKind {
  const char *caps_name;
  const char *description;
};
const BranchKind branch_kinds[] = {
  { "video/x-h264", "h264parse ! h264parse ! capsfilter "
        "caps=video/x-h264,stream-format=avc,alignment=au" },
  { "audio/mpeg", "aacparse ! aacparse ! capsfilter "
        "caps=audio/mpeg,mpegversion=4,stream-format=raw" },
  { "video/x-vp9", "vp9parse" },
  { "video/x-av1", "av1parse" },
  { nullptr, nullptr },         /* anything else: straight to a sink */
};

struct Branch {
  const BranchKind *kind;
  GstElement *bin;
  GstPad *sink;
  bool in_use = false;
  bool ended = false;
};

/* No pipeline: one that stays in PLAYING keeps the messages of children
 * that come and go (the EOS of every sink, state changes) for ever. Each
 * element posts to our bus directly. */
struct Harness {
  GstPad *feed = nullptr;           /* ours: pushes into a demuxer */
  GstBus *bus = nullptr;
  /* Touched only from this thread: the demuxers add their pads while we
   * push. */
  std::vector<Branch *> branches;
  int streams = 0;
};

Harness *harness;

GstPadProbeReturn
note_eos (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS)
    static_cast<Branch *> (data)->ended = true;
  return GST_PAD_PROBE_OK;
}

Branch *
make_branch (const BranchKind *kind)
{
  std::string description = kind->description ?
      std::string (kind->description) + " ! " : "";
  description += "fakesink sync=false async=false";
  GError *error = nullptr;
  GstElement *bin = gst_parse_bin_from_description (description.c_str (),
      TRUE, &error);
  if (!bin) {
    fprintf (stderr, "fuzz_demux: cannot build %s: %s\n", description.c_str (),
        error->message);
    abort ();
  }
  auto *branch = new Branch { kind, bin, gst_element_get_static_pad (bin,
          "sink") };
  gst_pad_add_probe (branch->sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      note_eos, branch, nullptr);
  gst_object_ref_sink (bin);
  gst_element_set_bus (bin, harness->bus);
  harness->branches.push_back (branch);
  return branch;
}

/* A free branch for caps, made if there is none. */
Branch *
take_branch (GstCaps *caps)
{
  const GstStructure *s = gst_caps_get_size (caps) == 0 ? nullptr :
      gst_caps_get_structure (caps, 0);
  const BranchKind *kind = branch_kinds;
  while (kind->caps_name && !(s && gst_structure_has_name (s,
              kind->caps_name)))
    kind++;
  Branch *branch = nullptr;
  for (Branch *b : harness->branches)
    if (b->kind == kind && !b->in_use)
      branch = b;
  if (!branch)
    branch = make_branch (kind);
  branch->in_use = true;
  branch->ended = false;
  gst_element_set_state (branch->bin, GST_STATE_PLAYING);
  return branch;
}

/* A demuxer's new stream (in this thread, while we push). */
void
on_pad_added (GstElement *, GstPad *pad, gpointer)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  Branch *branch = take_branch (caps);
  gst_caps_unref (caps);
  if (gst_pad_link (pad, branch->sink) == GST_PAD_LINK_OK)
    harness->streams++;
  else
    fuzz::note ("cannot link %s", GST_PAD_NAME (pad));
}

/* Only errors are read: the rest would only fill the bus. */
GstBusSyncReply
keep_errors (GstBus *, GstMessage *msg, gpointer)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    return GST_BUS_PASS;
  gst_message_unref (msg);      /* dropping is ours to do */
  return GST_BUS_DROP;
}

void
make_harness ()
{
  harness = new Harness ();
  harness->feed = gst_pad_new ("feed", GST_PAD_SRC);
  harness->bus = gst_bus_new ();
  gst_bus_set_sync_handler (harness->bus, keep_errors, nullptr, nullptr);
}

void
run (guint8 flags, const guint8 *data, gsize size)
{
  const char *demux_name = (flags & FLAG_MP4) ? "qtdemux" : "matroskademux";
  GstElement *demux = gst_element_factory_make (demux_name, nullptr);
  if (!demux) {
    fprintf (stderr, "fuzz_demux: no %s\n", demux_name);
    abort ();
  }
  gst_object_ref_sink (demux);
  g_signal_connect (demux, "pad-added", G_CALLBACK (on_pad_added), nullptr);
  gst_element_set_bus (demux, harness->bus);
  GstPad *demux_sink = gst_element_get_static_pad (demux, "sink");
  gst_pad_link (harness->feed, demux_sink);
  gst_element_set_state (demux, GST_STATE_PLAYING);
  gst_pad_set_active (harness->feed, TRUE);
  gst_pad_push_event (harness->feed, gst_event_new_stream_start ("fuzz"));
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_BYTES);
  gst_pad_push_event (harness->feed, gst_event_new_segment (&segment));

  gsize piece = (flags & FLAG_SPLIT) ? 64 * (1 + (flags >> 2)) : size;
  gsize pos = 0;
  while (pos < size) {
    gsize n = std::min (piece, size - pos);
    GstBuffer *buffer = gst_buffer_new_memdup (data + pos, n);
    GST_BUFFER_OFFSET (buffer) = pos;
    GST_BUFFER_OFFSET_END (buffer) = pos + n;
    pos += n;
    GstFlowReturn ret = gst_pad_push (harness->feed, buffer);
    if (ret != GST_FLOW_OK) {
      fuzz::note ("push: %s", gst_flow_get_name (ret));
      break;
    }
  }
  gst_pad_push_event (harness->feed, gst_event_new_eos ());

  /* Everything ran in this thread: by now each stream has ended, or an
   * error is on the bus. */
  int ended = 0;
  for (Branch *b : harness->branches)
    ended += b->in_use && b->ended;
  GstMessage *error = gst_bus_pop (harness->bus);
  if (error) {
    GError *err = nullptr;
    gst_message_parse_error (error, &err, nullptr);
    fuzz::note ("%d stream(s), %d ended; error from %s: %s", harness->streams,
        ended, GST_OBJECT_NAME (GST_MESSAGE_SRC (error)), err->message);
    g_error_free (err);
    gst_message_unref (error);
    /* More errors from the same execution (basesrc-style follow-ups). */
    gst_bus_set_flushing (harness->bus, TRUE);
    gst_bus_set_flushing (harness->bus, FALSE);
  } else {
    fuzz::note ("%d stream(s), %d ended", harness->streams, ended);
    if (ended < harness->streams)
      fuzz::hang ("a stream the demuxer exposed got no EOS and no error was "
          "posted");
  }

  /* Ready for the next input: the demuxer goes, with its pads (which
   * unlinks the branches), the branches forget the stream. */
  gst_pad_set_active (harness->feed, FALSE);
  gst_element_set_state (demux, GST_STATE_NULL);
  gst_pad_unlink (harness->feed, demux_sink);
  gst_object_unref (demux_sink);
  gst_object_unref (demux);
  for (Branch *b : harness->branches) {
    if (!b->in_use)
      continue;
    gst_element_set_state (b->bin, GST_STATE_READY);
    b->in_use = false;
  }
  harness->streams = 0;
}

}  // namespace

extern "C" int
LLVMFuzzerInitialize (int *, char ***)
{
  fuzz::init ("fuzz_demux");
  fuzz::trace_gst_debug ("matroska*:6,ebml*:6,qtdemux*:6,*parse:6,"
      "codecparsers*:6");
  make_harness ();
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  run (data[0], data + 1, size - 1);
  return 0;
}
