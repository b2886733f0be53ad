/* flvencodebin keeps audio and video in sync, from the start and over a long
 * stream, and keeps one output size when the input size changes.
 *
 * The inputs are synthetic and made at test time with ffmpeg's lavfi: a white
 * flash (100 ms) and a 1 kHz beep (100 ms) at the start of every second. The
 * offset between each flash and its beep is measured in the decoded input
 * and in the decoded output.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

using wsrtmp::test::TempDir;

namespace {

void
run_or_fail (const std::vector<std::string> &args)
{
  std::vector<const char *> argv;
  for (const auto &a : args)
    argv.push_back (a.c_str ());
  argv.push_back (nullptr);
  g_autofree char *err = nullptr;
  int status = 0;
  CPPUNIT_ASSERT (g_spawn_sync (nullptr, const_cast<char **> (argv.data ()),
          nullptr, static_cast<GSpawnFlags> (G_SPAWN_SEARCH_PATH |
              G_SPAWN_STDOUT_TO_DEV_NULL), nullptr, nullptr, nullptr, &err,
          &status, nullptr));
  CPPUNIT_ASSERT_MESSAGE (args[0] + " failed: " + (err ? err : ""),
      g_spawn_check_wait_status (status, nullptr));
}

/* A flash + beep recording of `seconds`, `size` (WxH), video codec args. */
void
make_flash_beep (const std::string &path, int seconds, const std::string &size,
    const std::vector<std::string> &video_codec, const char *format)
{
  std::string d = std::to_string (seconds);
  std::vector<std::string> args { "ffmpeg", "-v", "error", "-y",
    "-f", "lavfi", "-i", "color=c=black:s=" + size + ":r=30:d=" + d +
        ",drawbox=c=white:t=fill:enable='lt(mod(t\\,1)\\,0.1)'",
    "-f", "lavfi", "-i", "sine=f=1000:sample_rate=48000:d=" + d +
        ",volume=volume=0:enable='gte(mod(t\\,1)\\,0.1)'" };
  args.insert (args.end (), video_codec.begin (), video_codec.end ());
  args.insert (args.end (), { "-pix_fmt", "yuv420p", "-c:a", "libopus",
      "-b:a", "64k", "-f", format, path });
  run_or_fail (args);
}

struct Onsets {
  std::mutex lock;
  std::vector<double> flashes;  /* seconds */
  std::vector<double> beeps;
  bool lit = false, loud = false;
  std::vector<std::pair<int, int>> sizes;      /* distinct frame sizes seen */
};

GstFlowReturn
on_video (GstAppSink *sink, gpointer data)
{
  auto *onsets = static_cast<Onsets *> (data);
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  GstStructure *s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);
  int width = 0, height = 0;
  gst_structure_get_int (s, "width", &width);
  gst_structure_get_int (s, "height", &height);
  GstMapInfo map;
  gst_buffer_map (buffer, &map, GST_MAP_READ);
  /* GRAY8: the centre row is enough to tell white from black. */
  guint64 sum = 0;
  const guint8 *row = map.data + (height / 2) * GST_ROUND_UP_4 (width);
  for (int x = 0; x < width; x++)
    sum += row[x];
  gst_buffer_unmap (buffer, &map);
  bool lit = sum / width > 128;
  std::lock_guard<std::mutex> l (onsets->lock);
  if (lit && !onsets->lit)
    onsets->flashes.push_back (GST_BUFFER_PTS (buffer) / 1e9);
  onsets->lit = lit;
  auto size = std::make_pair (width, height);
  if (std::find (onsets->sizes.begin (), onsets->sizes.end (), size) ==
      onsets->sizes.end ())
    onsets->sizes.push_back (size);
  return GST_FLOW_OK;
}

GstFlowReturn
on_audio (GstAppSink *sink, gpointer data)
{
  auto *onsets = static_cast<Onsets *> (data);
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  GstMapInfo map;
  gst_buffer_map (buffer, &map, GST_MAP_READ);
  const float *samples = reinterpret_cast<const float *> (map.data);
  size_t count = map.size / sizeof (float);
  /* 1 ms windows at 48 kHz (mono). */
  constexpr size_t WINDOW = 48;
  std::lock_guard<std::mutex> l (onsets->lock);
  for (size_t start = 0; start + WINDOW <= count; start += WINDOW) {
    float peak = 0;
    for (size_t i = start; i < start + WINDOW; i++)
      peak = std::max (peak, std::fabs (samples[i]));
    /* lavfi's sine has an amplitude of 1/8. */
    bool loud = peak > 0.05f;
    if (loud && !onsets->loud)
      onsets->beeps.push_back (GST_BUFFER_PTS (buffer) / 1e9 + start / 48000.0);
    onsets->loud = loud;
  }
  gst_buffer_unmap (buffer, &map);
  return GST_FLOW_OK;
}

/* Decodes a file and finds every flash and beep. */
void
measure (const std::string &path, Onsets &onsets)
{
  std::string description = "filesrc location=" + path + " ! decodebin name=d "
      "d. ! queue ! videoconvert ! video/x-raw,format=GRAY8 ! "
      "appsink name=v sync=false "
      "d. ! queue ! audioconvert ! audioresample ! "
      "audio/x-raw,format=F32LE,channels=1,rate=48000 ! "
      "appsink name=a sync=false";
  g_autoptr (GError) error = nullptr;
  g_autoptr (GstElement) pipeline = gst_parse_launch (description.c_str (),
      &error);
  CPPUNIT_ASSERT_MESSAGE (error ? error->message : "", pipeline);
  GstAppSinkCallbacks video = {}, audio = {};
  video.new_sample = on_video;
  audio.new_sample = on_audio;
  g_autoptr (GstElement) v = gst_bin_get_by_name (GST_BIN (pipeline), "v");
  g_autoptr (GstElement) a = gst_bin_get_by_name (GST_BIN (pipeline), "a");
  gst_app_sink_set_callbacks (GST_APP_SINK (v), &video, &onsets, nullptr);
  gst_app_sink_set_callbacks (GST_APP_SINK (a), &audio, &onsets, nullptr);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus,
      180 * GST_SECOND, static_cast<GstMessageType> (GST_MESSAGE_EOS |
          GST_MESSAGE_ERROR));
  gst_element_set_state (pipeline, GST_STATE_NULL);
  CPPUNIT_ASSERT_MESSAGE ("decoding " + path + " did not finish", msg);
  CPPUNIT_ASSERT_MESSAGE ("decoding " + path + " failed",
      GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
}

/* beep - flash for every flash that has its beep within half a second. */
std::vector<double>
offsets (Onsets &onsets)
{
  std::vector<double> result;
  for (double flash : onsets.flashes) {
    auto nearest = std::min_element (onsets.beeps.begin (), onsets.beeps.end (),
        [flash] (double a, double b) {
          return std::fabs (a - flash) < std::fabs (b - flash);
        });
    if (nearest != onsets.beeps.end () && std::fabs (*nearest - flash) < 0.5)
      result.push_back (*nearest - flash);
  }
  return result;
}

void
encode (const std::string &in, const std::string &out,
    const std::string &properties, std::string *mode = nullptr)
{
  std::string description = "filesrc location=" + in + " ! flvencodebin " +
      properties + " name=enc ! filesink location=" + out;
  g_autoptr (GError) error = nullptr;
  g_autoptr (GstElement) pipeline = gst_parse_launch (description.c_str (),
      &error);
  CPPUNIT_ASSERT_MESSAGE (error ? error->message : "", pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus,
      180 * GST_SECOND, static_cast<GstMessageType> (GST_MESSAGE_EOS |
          GST_MESSAGE_ERROR));
  if (mode) {
    g_autoptr (GstElement) enc = gst_bin_get_by_name (GST_BIN (pipeline),
        "enc");
    g_autofree char *value = nullptr;
    g_object_get (enc, "output-mode", &value, nullptr);
    *mode = value ? value : "";
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  CPPUNIT_ASSERT_MESSAGE ("encoding " + in + " did not finish", msg);
  CPPUNIT_ASSERT_MESSAGE ("encoding " + in + " failed",
      GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
}

/* The output's flash/beep offsets stay within 40 ms of the input's, from
 * the first second to the last, and do not drift. */
void
assert_in_sync (const std::string &input, const std::string &output,
    int seconds)
{
  Onsets in, out;
  measure (input, in);
  measure (output, out);
  auto in_offsets = offsets (in);
  auto out_offsets = offsets (out);
  char text[300];
  g_snprintf (text, sizeof text, "flash/beep pairs: input %zu (%zu flashes, "
      "%zu beeps), output %zu (%zu flashes, %zu beeps) of %d s",
      in_offsets.size (), in.flashes.size (), in.beeps.size (),
      out_offsets.size (), out.flashes.size (), out.beeps.size (), seconds);
  CPPUNIT_ASSERT_MESSAGE (text, (int) in_offsets.size () >= seconds - 1);
  CPPUNIT_ASSERT_MESSAGE (text, (int) out_offsets.size () >= seconds - 1);

  double reference = in_offsets.front ();
  double first = out_offsets.front ();
  auto [low, high] = std::minmax_element (out_offsets.begin (),
      out_offsets.end ());
  g_snprintf (text, sizeof text, "A/V offset: input %.1f ms, output first "
      "%.1f ms, last %.1f ms, range %.1f .. %.1f ms", reference * 1000,
      first * 1000, out_offsets.back () * 1000, *low * 1000, *high * 1000);
  g_print ("%s\n", text);
  std::string timeline = "output A/V offset by minute (ms):";
  for (size_t i = 0; i < out_offsets.size (); i += 60)
    timeline += " " + std::to_string ((int) std::lround (out_offsets[i] * 1000));
  g_print ("%s\n", timeline.c_str ());
  CPPUNIT_ASSERT_MESSAGE (text, std::fabs (first - reference) < 0.040);
  CPPUNIT_ASSERT_MESSAGE (text, std::fabs (*low - reference) < 0.040);
  CPPUNIT_ASSERT_MESSAGE (text, std::fabs (*high - reference) < 0.040);
  /* No drift: the last ten seconds sit where the first ten did (single
   * onsets jitter by a fraction of an AAC frame, 21 ms). */
  auto mean = [] (std::vector<double>::const_iterator from, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++)
      sum += from[i];
    return sum / n;
  };
  size_t n = std::min<size_t> (10, out_offsets.size ());
  double drift = mean (out_offsets.end () - n, n) -
      mean (out_offsets.begin (), n);
  g_print ("drift over %d s: %.1f ms\n", seconds, drift * 1000);
  CPPUNIT_ASSERT_MESSAGE (text, std::fabs (drift) < 0.010);
}

}  // namespace

class AvSyncTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (AvSyncTest);
  CPPUNIT_TEST (test_passthrough_ten_minutes_no_drift);
  CPPUNIT_TEST (test_transcode_in_sync);
  CPPUNIT_TEST (test_size_change_keeps_output_size);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* H.264 with 2 s keyframes at the output size: video passed through,
   * audio re-encoded; 10 minutes. */
  void test_passthrough_ten_minutes_no_drift ()
  {
    TempDir dir;
    make_flash_beep (dir.file ("in.mkv"), 600, "320x180", { "-c:v", "libx264",
        "-preset", "ultrafast", "-g", "60", "-bf", "0" }, "matroska");
    std::string mode;
    encode (dir.file ("in.mkv"), dir.file ("out.flv"),
        "width=320 height=180", &mode);
    CPPUNIT_ASSERT_EQUAL (std::string ("passthrough"), mode);
    assert_in_sync (dir.file ("in.mkv"), dir.file ("out.flv"), 600);
  }

  /* VP8 (as Chromium and Firefox send) → decode, rate, scale, x264. */
  void test_transcode_in_sync ()
  {
    TempDir dir;
    make_flash_beep (dir.file ("in.webm"), 60, "320x180", { "-c:v", "libvpx",
        "-deadline", "realtime", "-b:v", "300k" }, "webm");
    std::string mode;
    encode (dir.file ("in.webm"), dir.file ("out.flv"),
        "width=320 height=180 speed-preset=ultrafast", &mode);
    CPPUNIT_ASSERT_EQUAL (std::string ("transcode"), mode);
    assert_in_sync (dir.file ("in.webm"), dir.file ("out.flv"), 60);
  }

  /* A camera switch or screen share changes the size mid-stream (VP8
   * keyframes carry it; the WebM track header keeps the first size). The
   * platform must only ever see the output size. */
  void test_size_change_keeps_output_size ()
  {
    TempDir dir;
    make_flash_beep (dir.file ("a.webm"), 4, "640x480", { "-c:v", "libvpx",
        "-deadline", "realtime", "-g", "30" }, "webm");
    make_flash_beep (dir.file ("b.webm"), 4, "1920x1080", { "-c:v", "libvpx",
        "-deadline", "realtime", "-g", "30" }, "webm");
    std::string list = dir.file ("list.txt");
    std::string entries = "file '" + dir.file ("a.webm") + "'\nfile '" +
        dir.file ("b.webm") + "'\n";
    CPPUNIT_ASSERT (g_file_set_contents (list.c_str (), entries.c_str (), -1,
            nullptr));
    run_or_fail ({ "ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0",
        "-i", list, "-c", "copy", dir.file ("changing.webm") });

    Onsets in;
    measure (dir.file ("changing.webm"), in);
    CPPUNIT_ASSERT_MESSAGE ("the input does not change size",
        in.sizes.size () >= 2);

    encode (dir.file ("changing.webm"), dir.file ("out.flv"),
        "speed-preset=ultrafast");
    Onsets out;
    measure (dir.file ("out.flv"), out);
    CPPUNIT_ASSERT_EQUAL ((size_t) 1, out.sizes.size ());
    CPPUNIT_ASSERT_EQUAL (1280, out.sizes[0].first);
    CPPUNIT_ASSERT_EQUAL (720, out.sizes[0].second);
    auto streams = wsrtmp::test::probe_streams (dir.file ("out.flv"));
    auto *video = wsrtmp::test::find_stream (streams, "video");
    CPPUNIT_ASSERT (video);
    CPPUNIT_ASSERT_MESSAGE (std::to_string (video->duration ()),
        std::fabs (video->duration () - 8.0) < 0.25);
    /* Every second's flash survived the switch. */
    CPPUNIT_ASSERT ((int) out.flashes.size () >= 7);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (AvSyncTest);
