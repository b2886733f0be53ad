/* State changes of both elements, with real data in between: each can go
 * NULL -> PLAYING -> NULL -> PLAYING (and through READY and PAUSED) and
 * works again every time; flvencodebin removes the branches its input made
 * it add on PAUSED -> READY.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "pipeline.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using wsrtmp::test::Fixture;
using wsrtmp::test::PipelinePtr;
using wsrtmp::test::by_name;
using wsrtmp::test::launch;
using wsrtmp::test::StreamInfo;
using wsrtmp::test::TempDir;
using wsrtmp::test::WsClient;
using wsrtmp::test::find_stream;
using wsrtmp::test::probe_streams;

namespace {

constexpr GstClockTime END_TIMEOUT = 60 * GST_SECOND;

/* Sets a state and waits until it is reached (or fails the test). */
void
set_state (GstElement *pipeline, GstState state)
{
  GstStateChangeReturn ret = gst_element_set_state (pipeline, state);
  CPPUNIT_ASSERT_MESSAGE (std::string ("cannot go to ") +
      gst_element_state_get_name (state), ret != GST_STATE_CHANGE_FAILURE);
  if (ret == GST_STATE_CHANGE_ASYNC && state >= GST_STATE_PAUSED) {
    /* A sink prerolls only once data comes: no wait for PAUSED here. */
    return;
  }
  GstState current;
  CPPUNIT_ASSERT (gst_element_get_state (pipeline, &current, nullptr,
          10 * GST_SECOND) != GST_STATE_CHANGE_FAILURE);
}

void
assert_eos (GstElement *pipeline, const std::string &what)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, END_TIMEOUT,
      static_cast<GstMessageType> (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  CPPUNIT_ASSERT_MESSAGE (what + ": no EOS within 60 s", msg);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) error = nullptr;
    gst_message_parse_error (msg, &error, nullptr);
    CPPUNIT_FAIL (what + ": error instead of EOS: " + error->message);
  }
}

/* Drops what the bus holds (the last run's messages). */
void
flush_bus (GstElement *pipeline)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  gst_bus_set_flushing (bus, TRUE);
  gst_bus_set_flushing (bus, FALSE);
}

/* flvencodebin's children: parsebin and flvmux are its own, the rest came
 * from the input. */
int
children (GstElement *bin)
{
  GST_OBJECT_LOCK (bin);
  int n = GST_BIN_NUMCHILDREN (bin);
  GST_OBJECT_UNLOCK (bin);
  return n;
}

int
sink_pads (GstElement *element)
{
  GST_OBJECT_LOCK (element);
  int n = element->numsinkpads;
  GST_OBJECT_UNLOCK (element);
  return n;
}

GstElement *
mux_of (GstElement *encoder)
{
  GstElement *mux = gst_bin_get_by_name (GST_BIN (encoder), "mux");
  CPPUNIT_ASSERT (mux);
  gst_object_unref (mux);
  return mux;
}

/* What flvencodebin puts out, kept in memory: a sink keeps its file open
 * from NULL to READY, and the runs here go back to READY as well. */
class OutputRecorder {
 public:
  explicit OutputRecorder (GstElement *encoder)
  {
    g_autoptr (GstPad) pad = gst_element_get_static_pad (encoder, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, record, this, nullptr);
  }
  /* Writes what was recorded since the last call to path. */
  void save (const std::string &path)
  {
    std::lock_guard<std::mutex> lock (lock_);
    CPPUNIT_ASSERT (g_file_set_contents (path.c_str (), data_.data (),
            data_.size (), nullptr));
    data_.clear ();
  }

 private:
  static GstPadProbeReturn record (GstPad *, GstPadProbeInfo *info,
      gpointer self)
  {
    auto *recorder = static_cast<OutputRecorder *> (self);
    GstMapInfo map;
    GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
    if (gst_buffer_map (buffer, &map, GST_MAP_READ)) {
      std::lock_guard<std::mutex> lock (recorder->lock_);
      recorder->data_.append (reinterpret_cast<const char *> (map.data),
          map.size);
      gst_buffer_unmap (buffer, &map);
    }
    return GST_PAD_PROBE_OK;
  }
  std::mutex lock_;
  std::string data_;
};

/* The run's output is a broadcast of the whole input: H.264 and AAC, as
 * long as the input (to within 0.2 s). */
void
assert_complete (const std::string &flv, const Fixture &fixture)
{
  auto output = probe_streams (flv);
  auto input = probe_streams (fixture.joined_path ());
  const StreamInfo *video = find_stream (output, "video");
  const StreamInfo *audio = find_stream (output, "audio");
  CPPUNIT_ASSERT_MESSAGE (fixture.name () + ": no video", video);
  CPPUNIT_ASSERT_MESSAGE (fixture.name () + ": no audio", audio);
  CPPUNIT_ASSERT_EQUAL (std::string ("h264"), video->codec_name);
  CPPUNIT_ASSERT_EQUAL (std::string ("aac"), audio->codec_name);
  const StreamInfo *in = find_stream (input, "video");
  if (!in)
    in = find_stream (input, "audio");
  CPPUNIT_ASSERT_MESSAGE (fixture.name () + ": video " + std::to_string (
          video->duration ()) + " s for " + std::to_string (in->duration ()),
      std::fabs (video->duration () - in->duration ()) <= 0.2);
}

}  // namespace

class StatesTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (StatesTest);
  CPPUNIT_TEST (test_flvencodebin_cycles);
  CPPUNIT_TEST (test_flvencodebin_stopped_mid_stream);
  CPPUNIT_TEST (test_wsserversrc_and_flvencodebin_cycle);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* One flvencodebin, several runs, each a different kind of input: H.264
   * passed through then transcoded, VP8 transcoded, audio only (a
   * generated picture). Between runs it goes back to READY or NULL and
   * must be as new: only parsebin and flvmux, no muxer pads. */
  void test_flvencodebin_cycles ()
  {
    TempDir dir;
    std::string flv = dir.file ("out.flv");
    auto pipeline = launch ("filesrc name=src ! flvencodebin name=enc "
        "speed-preset=ultrafast ! fakesink sync=false");
    GstElement *src = by_name (pipeline.get (), "src");
    GstElement *enc = by_name (pipeline.get (), "enc");
    OutputRecorder output (enc);
    CPPUNIT_ASSERT_EQUAL (2, children (enc));

    struct Run {
      const char *recording;
      GstState back_to;         /* where the run ends */
      const char *mode;
    };
    for (const Run &run : { Run { "ffmpeg-h264-gop5s-opus-250ms",
               GST_STATE_READY, "transcode" },
             Run { "chrome-vp8-opus-250ms", GST_STATE_NULL, "transcode" },
             Run { "chrome-h264-opus-kf2s-30s-250ms", GST_STATE_READY,
               "passthrough" },
             Run { "chrome-audio-opus-250ms", GST_STATE_NULL, "transcode" },
             Run { "ffmpeg-h264-gop10s-videoonly-250ms", GST_STATE_READY,
               "transcode" } }) {
      Fixture fixture (run.recording);
      g_object_set (src, "location", fixture.joined_path ().c_str (),
          nullptr);
      flush_bus (pipeline.get ());
      /* Step by step: READY, PAUSED (prerolls on the first data), PLAYING. */
      set_state (pipeline.get (), GST_STATE_READY);
      set_state (pipeline.get (), GST_STATE_PAUSED);
      set_state (pipeline.get (), GST_STATE_PLAYING);
      assert_eos (pipeline.get (), fixture.name ());
      CPPUNIT_ASSERT_MESSAGE (fixture.name (), children (enc) > 2);
      g_autofree char *mode = nullptr;
      g_object_get (enc, "output-mode", &mode, nullptr);
      CPPUNIT_ASSERT_EQUAL (std::string (run.mode), std::string (mode));

      set_state (pipeline.get (), GST_STATE_PAUSED);
      set_state (pipeline.get (), run.back_to);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (fixture.name () + ": children left",
          2, children (enc));
      CPPUNIT_ASSERT_EQUAL_MESSAGE (fixture.name () + ": muxer pads left",
          0, sink_pads (mux_of (enc)));
      output.save (flv);
      assert_complete (flv, fixture);
    }
  }

  /* Stopped while data flows (branches built, threads pushing), then run
   * again to the end. */
  void test_flvencodebin_stopped_mid_stream ()
  {
    TempDir dir;
    std::string flv = dir.file ("out.flv");
    Fixture fixture ("chrome-h264-opus-250ms");
    auto pipeline = launch ("filesrc location=" + fixture.joined_path () +
        " blocksize=4096 ! identity sleep-time=5000 ! flvencodebin name=enc "
        "speed-preset=ultrafast ! fakesink sync=false");
    GstElement *enc = by_name (pipeline.get (), "enc");
    OutputRecorder output (enc);
    for (int stop_after_ms : { 300, 1000, 2500 }) {
      set_state (pipeline.get (), GST_STATE_PLAYING);
      g_usleep (stop_after_ms * 1000);
      set_state (pipeline.get (), GST_STATE_NULL);
      CPPUNIT_ASSERT_EQUAL (2, children (enc));
      CPPUNIT_ASSERT_EQUAL (0, sink_pads (mux_of (enc)));
    }
    GstElement *identity = gst_bin_get_by_name (GST_BIN (pipeline.get ()),
        "identity0");
    g_object_set (identity, "sleep-time", 0, nullptr);
    gst_object_unref (identity);
    flush_bus (pipeline.get ());
    output.save (flv);
    set_state (pipeline.get (), GST_STATE_PLAYING);
    assert_eos (pipeline.get (), fixture.name ());
    set_state (pipeline.get (), GST_STATE_NULL);
    output.save (flv);
    assert_complete (flv, fixture);
  }

  /* wsserversrc listening ! flvencodebin: a browser streams, the pipeline
   * ends, goes to NULL (or READY) and listens again; a new client streams
   * again. Three times, each through READY and PAUSED. */
  void test_wsserversrc_and_flvencodebin_cycle ()
  {
    TempDir dir;
    std::string flv = dir.file ("out.flv");
    auto pipeline = launch ("wsserversrc name=src port=0 ! flvencodebin "
        "name=enc speed-preset=ultrafast ! fakesink sync=false");
    GstElement *src = by_name (pipeline.get (), "src");
    GstElement *enc = by_name (pipeline.get (), "enc");
    OutputRecorder output (enc);
    int round = 0;
    for (const char *recording : { "chrome-h264-opus-250ms",
             "chrome-vp8-opus-250ms", "chrome-h264-opus-250ms" }) {
      Fixture fixture (recording);
      flush_bus (pipeline.get ());
      set_state (pipeline.get (), GST_STATE_READY);
      set_state (pipeline.get (), GST_STATE_PAUSED);
      set_state (pipeline.get (), GST_STATE_PLAYING);
      int port = 0;
      g_object_get (src, "current-port", &port, nullptr);
      CPPUNIT_ASSERT_MESSAGE ("not listening", port > 0);
      std::string error;
      auto client = WsClient::connect ("ws://127.0.0.1:" +
          std::to_string (port) + "/", &error);
      CPPUNIT_ASSERT_MESSAGE (error, client);
      for (const auto &chunk : fixture.chunks ())
        client->send_binary (chunk.bytes);
      client->close (1000);
      assert_eos (pipeline.get (), fixture.name ());
      CPPUNIT_ASSERT (client->wait_closed (5000));
      CPPUNIT_ASSERT (children (enc) > 2);

      set_state (pipeline.get (), GST_STATE_PAUSED);
      set_state (pipeline.get (), round++ % 2 ? GST_STATE_NULL :
          GST_STATE_READY);
      CPPUNIT_ASSERT_EQUAL (2, children (enc));
      g_object_get (src, "current-port", &port, nullptr);
      CPPUNIT_ASSERT_EQUAL_MESSAGE ("still listening", 0, port);
      output.save (flv);
      assert_complete (flv, fixture);
    }
    set_state (pipeline.get (), GST_STATE_NULL);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (StatesTest);
