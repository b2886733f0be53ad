/* flvencodebin in a GstHarness: a recording pushed chunk by chunk, as
 * wsserversrc pushes a browser's messages, from the test's own thread. The
 * passthrough watch runs in that thread, so what the element says after
 * each chunk is exact: when it switches from passthrough to transcoding,
 * and what it tells (output-mode, the flvencodebin-output message).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

using wsrtmp::test::Fixture;
using wsrtmp::test::StreamInfo;
using wsrtmp::test::TempDir;
using wsrtmp::test::find_stream;
using wsrtmp::test::probe_streams;

namespace {

struct HarnessDeleter {
  void operator() (GstHarness *h) const
  {
    /* Messages left on the test's own bus hold their elements, which hold
     * the bus: flushing breaks the cycle (a pipeline's bus is flushed when
     * it stops; this one belongs to no pipeline). */
    g_autoptr (GstBus) bus = gst_element_get_bus (h->element);
    if (bus)
      gst_bus_set_flushing (bus, TRUE);
    gst_harness_teardown (h);
  }
};
using HarnessPtr = std::unique_ptr<GstHarness, HarnessDeleter>;

struct ModeMessage {
  std::string mode, reason;
};

/* flvencodebin with properties (name, value), a bus of its own for its
 * messages, and a byte stream started on its input (what wsserversrc
 * sends first). */
HarnessPtr
start (GstBus *bus,
    const std::vector<std::pair<const char *, const char *>> &properties = {})
{
  GstElement *element = gst_element_factory_make ("flvencodebin", nullptr);
  CPPUNIT_ASSERT (element);
  for (const auto &[name, value] : properties)
    gst_util_set_object_arg (G_OBJECT (element), name, value);
  HarnessPtr h (gst_harness_new_with_element (element, "sink", "src"));
  gst_object_unref (element);
  gst_element_set_bus (h->element, bus);
  gst_harness_push_event (h.get (), gst_event_new_stream_start ("harness"));
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_BYTES);
  gst_harness_push_event (h.get (), gst_event_new_segment (&segment));
  return h;
}

std::string
output_mode (GstHarness *h)
{
  g_autofree char *mode = nullptr;
  g_object_get (h->element, "output-mode", &mode, nullptr);
  return mode ? mode : "";
}

void
push_chunk (GstHarness *h, GBytes *bytes)
{
  GstFlowReturn ret = gst_harness_push (h, gst_buffer_new_wrapped_bytes (bytes));
  CPPUNIT_ASSERT_MESSAGE (gst_flow_get_name (ret), ret == GST_FLOW_OK);
}

/* Pushes every chunk; after each one the output mode must be "" (not
 * decided: parsebin waits for a first frame of every stream) or one of
 * modes, in that order, the first one by the chunk sent at 1 s. Returns
 * when (the chunk's t_ms) each mode was first seen. */
std::vector<double>
push_all (GstHarness *h, const Fixture &fixture,
    const std::vector<std::string> &modes)
{
  std::vector<double> first_seen;
  for (const auto &chunk : fixture.chunks ()) {
    push_chunk (h, chunk.bytes);
    std::string mode = output_mode (h);
    std::string at = fixture.name () + " after the chunk sent at " +
        std::to_string (chunk.t_ms) + " ms: \"" + mode + "\"";
    if (mode.empty ()) {
      CPPUNIT_ASSERT_MESSAGE (at, first_seen.empty () && chunk.t_ms <= 1000);
      continue;
    }
    size_t index = first_seen.size ();
    if (index > 0 && mode == modes[index - 1])
      continue;
    CPPUNIT_ASSERT_MESSAGE (at, index < modes.size () && mode == modes[index]);
    first_seen.push_back (chunk.t_ms);
  }
  CPPUNIT_ASSERT_EQUAL (modes.size (), first_seen.size ());
  return first_seen;
}

/* The element messages named flvencodebin-output on bus; fails on an
 * error message. */
std::vector<ModeMessage>
mode_messages (GstBus *bus)
{
  std::vector<ModeMessage> messages;
  while (GstMessage *msg = gst_bus_pop (bus)) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) error = nullptr;
      gst_message_parse_error (msg, &error, nullptr);
      std::string text = error->message;
      gst_message_unref (msg);
      CPPUNIT_FAIL (text);
    }
    if (gst_message_has_name (msg, "flvencodebin-output")) {
      const GstStructure *s = gst_message_get_structure (msg);
      messages.push_back ({ gst_structure_get_string (s, "mode"),
          gst_structure_get_string (s, "reason") });
    }
    gst_message_unref (msg);
  }
  return messages;
}

/* Ends the input and writes everything the element put out to path. */
void
finish (GstHarness *h, const std::string &path)
{
  CPPUNIT_ASSERT (gst_harness_push_event (h, gst_event_new_eos ()));
  std::string flv;
  GstBuffer *buffer = nullptr;
  while (gst_harness_pull_until_eos (h, &buffer) && buffer) {
    GstMapInfo map;
    CPPUNIT_ASSERT (gst_buffer_map (buffer, &map, GST_MAP_READ));
    flv.append (reinterpret_cast<const char *> (map.data), map.size);
    gst_buffer_unmap (buffer, &map);
    gst_clear_buffer (&buffer);
  }
  CPPUNIT_ASSERT_MESSAGE ("no EOS out of the element", buffer == nullptr);
  CPPUNIT_ASSERT (g_file_set_contents (path.c_str (), flv.data (), flv.size (),
          nullptr));
}

double
max_keyframe_gap (const StreamInfo &video)
{
  double gap = 0;
  for (size_t i = 1; i < video.keyframe_times.size (); i++)
    gap = std::max (gap, video.keyframe_times[i] - video.keyframe_times[i - 1]);
  return gap;
}

/* FLV tags in a byte stream (the file header skipped). */
struct FlvTag {
  int type;                     /* 8 audio, 9 video */
  bool media;                   /* a frame, not a sequence header */
  double dts, pts;              /* seconds */
};

/* The complete tags in flv; returns how many bytes they (and the header)
 * take, so that a caller can keep the rest for later. */
size_t
parse_tags (const std::string &flv, std::vector<FlvTag> &tags)
{
  auto byte = [&] (size_t i) { return (guint8) flv[i]; };
  size_t pos = 13;              /* "FLV", version, flags, offset, size 0 */
  while (pos + 15 <= flv.size ()) {
    size_t size = byte (pos + 1) << 16 | byte (pos + 2) << 8 | byte (pos + 3);
    if (pos + 11 + size + 4 > flv.size ())
      break;
    guint32 ms = byte (pos + 7) << 24 | byte (pos + 4) << 16 |
        byte (pos + 5) << 8 | byte (pos + 6);
    FlvTag tag { byte (pos), false, ms / 1000.0, ms / 1000.0 };
    const size_t body = pos + 11;
    if (tag.type == 9 && size >= 5) {
      /* AVC packet type 1 (NALUs), then a signed 24-bit composition time. */
      tag.media = byte (body + 1) == 1;
      gint32 cts = byte (body + 2) << 16 | byte (body + 3) << 8 |
          byte (body + 4);
      if (cts & 0x800000)
        cts -= 0x1000000;
      tag.pts += cts / 1000.0;
    } else if (tag.type == 8 && size >= 2) {
      tag.media = byte (body + 1) == 1;     /* AAC raw frame */
    }
    if (tag.type == 8 || tag.type == 9)
      tags.push_back (tag);
    pos += 11 + size + 4;
  }
  return pos;
}

/* Pulls what the element puts out until want(tags) or the deadline. */
template <typename Want>
std::vector<FlvTag>
pull_until (GstHarness *h, std::string &flv, Want want, gint64 deadline)
{
  std::vector<FlvTag> tags;
  while (true) {
    while (GstBuffer *buffer = gst_harness_try_pull (h)) {
      GstMapInfo map;
      CPPUNIT_ASSERT (gst_buffer_map (buffer, &map, GST_MAP_READ));
      flv.append (reinterpret_cast<const char *> (map.data), map.size);
      gst_buffer_unmap (buffer, &map);
      gst_buffer_unref (buffer);
    }
    tags.clear ();
    parse_tags (flv, tags);
    if (want (tags) || g_get_monotonic_time () > deadline)
      return tags;
    g_usleep (10000);
  }
}

long
count_frames (const std::vector<FlvTag> &tags, int type)
{
  return std::count_if (tags.begin (), tags.end (), [type] (const FlvTag &t) {
    return t.type == type && t.media;
  });
}

}  // namespace

class FlvEncodeBinHarnessTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (FlvEncodeBinHarnessTest);
  CPPUNIT_TEST (test_switch_when_the_keyframe_is_late);
  CPPUNIT_TEST (test_short_gops_stay_passthrough);
  CPPUNIT_TEST (test_passthrough_disabled);
  CPPUNIT_TEST (test_last_picture_of_a_message_goes_out);
  CPPUNIT_TEST (test_audio_lag_zero_waits_for_audio);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* Keyframes 5 s apart (an ffmpeg recording, and Chromium's own without
   * videoKeyFrameIntervalDuration): passthrough from the first chunk, then
   * transcoding from the chunk that carries the picture 2.2 s after the
   * keyframe, not from the next keyframe; the output keeps 2.2 s. */
  void test_switch_when_the_keyframe_is_late ()
  {
    for (const char *recording : { "ffmpeg-h264-gop5s-opus-250ms",
             "chrome-h264-opus-250ms" }) {
      Fixture fixture (recording);
      g_autoptr (GstBus) bus = gst_bus_new ();
      HarnessPtr h = start (bus, { { "speed-preset", "ultrafast" } });
      CPPUNIT_ASSERT_EQUAL (std::string (""), output_mode (h.get ()));

      double switched_at_ms = push_all (h.get (), fixture,
          { "passthrough", "transcode" })[1];
      /* The chunk holding the picture at 2.2 s is sent at 2.2 to 2.6 s
       * (250 ms chunks, Chromium's every 300 ms or so, ~290 ms late). */
      CPPUNIT_ASSERT_MESSAGE (fixture.name () + ": switched with the chunk "
          "sent at " + std::to_string (switched_at_ms) + " ms",
          switched_at_ms >= 2200 && switched_at_ms <= 2650);

      TempDir dir;
      finish (h.get (), dir.file ("out.flv"));
      auto messages = mode_messages (bus);
      CPPUNIT_ASSERT_EQUAL ((size_t) 2, messages.size ());
      CPPUNIT_ASSERT_EQUAL (std::string ("passthrough"), messages[0].mode);
      CPPUNIT_ASSERT_EQUAL (std::string ("transcode"), messages[1].mode);
      CPPUNIT_ASSERT_EQUAL (std::string (
              "input keyframes are more than 2.0 s apart"),
          messages[1].reason);

      auto output = probe_streams (dir.file ("out.flv"));
      const StreamInfo *video = find_stream (output, "video");
      CPPUNIT_ASSERT (video && find_stream (output, "audio"));
      CPPUNIT_ASSERT_EQUAL (std::string ("h264"), video->codec_name);
      CPPUNIT_ASSERT_MESSAGE (std::to_string (max_keyframe_gap (*video)),
          max_keyframe_gap (*video) <= 2.2 + 0.001);
      auto input = probe_streams (fixture.joined_path ());
      CPPUNIT_ASSERT (std::fabs (find_stream (input, "video")->last_pts -
              video->last_pts) <= 0.05 + 0.001);
    }
  }

  /* Keyframes every 2 s (Chromium asked for them): passthrough throughout,
   * one message. */
  void test_short_gops_stay_passthrough ()
  {
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    g_autoptr (GstBus) bus = gst_bus_new ();
    HarnessPtr h = start (bus);
    push_all (h.get (), fixture, { "passthrough" });
    TempDir dir;
    finish (h.get (), dir.file ("out.flv"));
    auto messages = mode_messages (bus);
    CPPUNIT_ASSERT_EQUAL ((size_t) 1, messages.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("passthrough"), messages[0].mode);
  }

  /* passthrough=false: transcoding from the start, said once. */
  void test_passthrough_disabled ()
  {
    Fixture fixture ("ffmpeg-h264-gop5s-videoonly-250ms");
    g_autoptr (GstBus) bus = gst_bus_new ();
    HarnessPtr h = start (bus, { { "passthrough", "false" },
        { "speed-preset", "ultrafast" } });
    push_all (h.get (), fixture, { "transcode" });
    TempDir dir;
    finish (h.get (), dir.file ("out.flv"));
    auto messages = mode_messages (bus);
    CPPUNIT_ASSERT_EQUAL ((size_t) 1, messages.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("transcode"), messages[0].mode);
    CPPUNIT_ASSERT_EQUAL (std::string ("passthrough disabled"),
        messages[0].reason);
    auto output = probe_streams (dir.file ("out.flv"));
    const StreamInfo *video = find_stream (output, "video");
    CPPUNIT_ASSERT (video && find_stream (output, "audio"));
    CPPUNIT_ASSERT (max_keyframe_gap (*video) <= 2.0 + 0.001);
  }

  /* Every picture of a message goes out with it, not with the next message
   * (~300 ms later): h264parse is told that Matroska's byte-stream H.264
   * comes one picture per buffer (it would wait for the next picture's
   * start code), and flvmux need not wait for the audio up to the picture
   * (audio-lag=70 ms; a message's encoded audio ends 45-70 ms before its
   * last picture). Presentation times stay the
   * input's, and every track's decoding times rise. */
  void test_last_picture_of_a_message_goes_out ()
  {
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    g_autoptr (GstBus) bus = gst_bus_new ();
    HarnessPtr h = start (bus, { { "audio-lag", "70000000" } });
    TempDir dir;
    std::string input, flv;
    std::vector<FlvTag> tags;
    const auto &chunks = fixture.chunks ();
    for (size_t i = 0; i < 12 && i < chunks.size (); i++) {
      push_chunk (h.get (), chunks[i].bytes);
      gsize size;
      auto *data = static_cast<const char *> (g_bytes_get_data (
              chunks[i].bytes, &size));
      input.append (data, size);
      CPPUNIT_ASSERT (g_file_set_contents (dir.file ("in.mkv").c_str (),
              input.data (), input.size (), nullptr));
      const StreamInfo *in_video = nullptr;
      auto in = probe_streams (dir.file ("in.mkv"));
      in_video = find_stream (in, "video");
      /* The first message's audio is shorter by the encoder's start-up
       * (its priming is dropped): its last picture waits either way. */
      if (i == 0 || !in_video || !find_stream (in, "audio"))
        continue;
      /* Generous: a loaded machine is slow, and a held picture waits
       * forever here (no next message comes). */
      tags = pull_until (h.get (), flv, [&] (const std::vector<FlvTag> &t) {
        return count_frames (t, 9) >= in_video->packets;
      }, g_get_monotonic_time () + 20 * G_USEC_PER_SEC);
      CPPUNIT_ASSERT_EQUAL_MESSAGE ("pictures out after message " +
          std::to_string (i), in_video->packets, count_frames (tags, 9));
    }
    CPPUNIT_ASSERT (count_frames (tags, 9) > 30);
    double last_dts[10] = {}, first_video_pts = -1;
    for (const FlvTag &tag : tags) {
      if (!tag.media)
        continue;
      std::string at = std::to_string (tag.type) + " at " +
          std::to_string (tag.dts);
      CPPUNIT_ASSERT_MESSAGE (at, tag.dts > last_dts[tag.type] ||
          last_dts[tag.type] == 0);
      last_dts[tag.type] = tag.dts;
      if (tag.type == 9) {
        CPPUNIT_ASSERT_MESSAGE (at, tag.pts - tag.dts >= 0 &&
            tag.pts - tag.dts <= 0.07 + 0.0005);
        if (first_video_pts < 0)
          first_video_pts = tag.pts;
      }
    }
    /* Presentation times are the input's (Chromium's first picture is at
     * 10 ms, its first audio at 0). */
    auto in = probe_streams (dir.file ("in.mkv"));
    CPPUNIT_ASSERT (std::fabs (first_video_pts -
            find_stream (in, "video")->first_pts) <= 0.001);
    CPPUNIT_ASSERT (mode_messages (bus).size () == 1);
  }

  /* audio-lag=0: no composition offset, and a picture waits for the audio
   * up to its time (the muxer's timestamp order). */
  void test_audio_lag_zero_waits_for_audio ()
  {
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    g_autoptr (GstBus) bus = gst_bus_new ();
    HarnessPtr h = start (bus, { { "audio-lag", "0" } });
    for (const auto &chunk : fixture.chunks ())
      push_chunk (h.get (), chunk.bytes);
    TempDir dir;
    finish (h.get (), dir.file ("out.flv"));
    std::string flv;
    g_autofree char *contents = nullptr;
    gsize length = 0;
    CPPUNIT_ASSERT (g_file_get_contents (dir.file ("out.flv").c_str (),
            &contents, &length, nullptr));
    flv.assign (contents, length);
    std::vector<FlvTag> tags;
    parse_tags (flv, tags);
    CPPUNIT_ASSERT (count_frames (tags, 9) > 500);
    double last = 0;
    for (const FlvTag &tag : tags) {
      if (!tag.media)
        continue;
      CPPUNIT_ASSERT (tag.pts == tag.dts);
      CPPUNIT_ASSERT (tag.dts >= last);
      last = tag.dts;
    }
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (FlvEncodeBinHarnessTest);
