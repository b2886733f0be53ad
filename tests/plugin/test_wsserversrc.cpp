/* Tests of the wsserversrc element with real browser recordings and a real
 * libsoup WebSocket client.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "pipeline.h"
#include "gstwsserversrc.h"
#include "rawws.h"
#include "wsclient.h"
#include "wsclose.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include <dirent.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

using wsrtmp::test::Fixture;
using wsrtmp::test::PipelinePtr;
using wsrtmp::test::by_name;
using wsrtmp::test::launch;
using wsrtmp::test::generate_certificate;
using wsrtmp::test::RawWs;
using wsrtmp::test::WsClient;

namespace {

constexpr GstClockTime BUS_TIMEOUT = 20 * GST_SECOND;

int
current_port (GstElement *src)
{
  int port = 0;
  g_object_get (src, "current-port", &port, nullptr);
  return port;
}

std::string
ws_url (GstElement *src, const char *path = "/", const char *scheme = "ws")
{
  return std::string (scheme) + "://127.0.0.1:" +
      std::to_string (current_port (src)) + path;
}

void
play (GstElement *pipeline)
{
  CPPUNIT_ASSERT (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
}

/* Waits for EOS or ERROR; returns the message (caller unrefs) or nullptr. */
GstMessage *
wait_end (GstElement *pipeline, GstClockTime timeout = BUS_TIMEOUT)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  return gst_bus_timed_pop_filtered (bus, timeout,
      static_cast<GstMessageType> (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
}

void
assert_eos (GstElement *pipeline)
{
  g_autoptr (GstMessage) msg = wait_end (pipeline);
  CPPUNIT_ASSERT_MESSAGE ("no EOS within the timeout", msg);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) error = nullptr;
    g_autofree char *debug = nullptr;
    gst_message_parse_error (msg, &error, &debug);
    CPPUNIT_FAIL (std::string ("error instead of EOS: ") + error->message);
  }
}

/* Everything an appsink received, joined. */
class ByteCollector {
 public:
  explicit ByteCollector (GstElement *appsink)
  {
    GstAppSinkCallbacks callbacks = {};
    callbacks.new_sample = [] (GstAppSink *sink, gpointer data) {
      auto *self = static_cast<ByteCollector *> (data);
      g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
      GstBuffer *buffer = gst_sample_get_buffer (sample);
      GstMapInfo map;
      gst_buffer_map (buffer, &map, GST_MAP_READ);
      std::lock_guard<std::mutex> lock (self->lock_);
      self->bytes_.append (reinterpret_cast<const char *> (map.data), map.size);
      self->buffers_++;
      self->arrivals_.push_back ({ g_get_monotonic_time (),
              self->bytes_.size () });
      gst_buffer_unmap (buffer, &map);
      return GST_FLOW_OK;
    };
    gst_app_sink_set_callbacks (GST_APP_SINK (appsink), &callbacks, this,
        nullptr);
  }
  std::string bytes ()
  {
    std::lock_guard<std::mutex> lock (lock_);
    return bytes_;
  }
  int buffers ()
  {
    std::lock_guard<std::mutex> lock (lock_);
    return buffers_;
  }
  /* When each buffer arrived (monotonic µs), with the bytes so far. */
  struct Arrival {
    gint64 time_us;
    size_t bytes;
  };
  std::vector<Arrival> arrivals ()
  {
    std::lock_guard<std::mutex> lock (lock_);
    return arrivals_;
  }

 private:
  std::mutex lock_;
  std::string bytes_;
  int buffers_ = 0;
  std::vector<Arrival> arrivals_;
};

std::string
as_string (GBytes *bytes)
{
  gsize size;
  const char *data = static_cast<const char *> (g_bytes_get_data (bytes, &size));
  return std::string (data, size);
}

std::unique_ptr<WsClient>
connect_or_fail (const std::string &url,
    const WsClient::Options &options = WsClient::Options ())
{
  std::string error;
  auto client = WsClient::connect (url, options, &error);
  CPPUNIT_ASSERT_MESSAGE ("cannot connect to " + url + ": " + error, client);
  return client;
}

int
count_entries (const char *dir)
{
  int count = 0;
  DIR *d = opendir (dir);
  while (readdir (d))
    count++;
  closedir (d);
  return count;
}

/* Counts the buffers matroskademux puts out per stream type. */
struct DemuxCounts {
  std::mutex lock;
  std::map<std::string, int> frames;    /* "video" / "audio" -> buffers */

  static void on_pad_added (GstElement *demux, GstPad *pad, gpointer data)
  {
    auto *self = static_cast<DemuxCounts *> (data);
    GstElement *pipeline = GST_ELEMENT (gst_element_get_parent (demux));
    GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
    g_object_set (sink, "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add (GST_BIN (pipeline), sink);
    gst_element_sync_state_with_parent (sink);
    g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, "sink");
    gst_pad_link (pad, sinkpad);
    gst_object_unref (pipeline);

    std::string kind = g_str_has_prefix (GST_PAD_NAME (pad), "video") ?
        "video" : "audio";
    auto *probe_data = new std::pair<DemuxCounts *, std::string> (self, kind);
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        [] (GstPad *, GstPadProbeInfo *, gpointer d) {
          auto *p = static_cast<std::pair<DemuxCounts *, std::string> *> (d);
          std::lock_guard<std::mutex> lock (p->first->lock);
          p->first->frames[p->second]++;
          return GST_PAD_PROBE_OK;
        }, probe_data, [] (gpointer d) {
          delete static_cast<std::pair<DemuxCounts *, std::string> *> (d);
        });
  }

  int get (const std::string &kind)
  {
    std::lock_guard<std::mutex> lock (this->lock);
    return frames[kind];
  }
};

}  // namespace

class WsServerSrcTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsServerSrcTest);
  CPPUNIT_TEST (test_bytes_equal_recording);
  CPPUNIT_TEST (test_realtime_pace_and_stats);
  CPPUNIT_TEST (test_demux_frame_counts);
  CPPUNIT_TEST (test_one_byte_first_message);
  CPPUNIT_TEST (test_one_byte_messages);
  CPPUNIT_TEST (test_second_client_gets_1013);
  CPPUNIT_TEST (test_oversize_message_gets_1009_and_error);
  CPPUNIT_TEST (test_far_oversize_message_gets_1009_while_sending);
  CPPUNIT_TEST (test_unlimited_size_survives_wrapping_frame_length);
  CPPUNIT_TEST (test_fragmented_message_over_limit_gets_1009);
  CPPUNIT_TEST (test_no_close_code_claimed_after_libsoups_close);
  CPPUNIT_TEST (test_lingering_close_is_bounded);
  CPPUNIT_TEST (test_close_codes_on_the_wire);
  CPPUNIT_TEST (test_slow_downstream_gets_1011_and_error);
  CPPUNIT_TEST (test_text_message_posted_on_bus);
  CPPUNIT_TEST (test_abrupt_disconnect_is_eos_with_warning);
  CPPUNIT_TEST (test_origin_allowlist);
  CPPUNIT_TEST (test_wrong_path_is_refused);
  CPPUNIT_TEST (test_adopted_connection);
  CPPUNIT_TEST (test_wss_with_generated_certificate);
  CPPUNIT_TEST (test_port_in_use_is_an_error);
  CPPUNIT_TEST (test_start_stop_cycles_leak_nothing);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* Sends a recording to a listening wsserversrc ! appsink and checks that
   * what comes out is the recording, byte for byte, then EOS. */
  void check_bytes (const Fixture &fixture, bool realtime,
      const std::vector<GBytes *> &messages,
      std::vector<ByteCollector::Arrival> *arrivals = nullptr)
  {
    auto pipeline = launch ("wsserversrc name=src port=0 ! "
        "appsink name=sink sync=false");
    ByteCollector collector (by_name (pipeline.get (), "sink"));
    play (pipeline.get ());
    GstElement *src = by_name (pipeline.get (), "src");

    auto client = connect_or_fail (ws_url (src));
    /* Media does not compress: the permessage-deflate libsoup (like a
     * browser) offers is declined. */
    CPPUNIT_ASSERT_EQUAL ((size_t) 0, client->extensions ().size ());
    if (realtime)
      CPPUNIT_ASSERT (client->replay (fixture, true));
    else
      for (GBytes *message : messages)
        client->send_binary (message);
    client->close (1000);
    assert_eos (pipeline.get ());

    CPPUNIT_ASSERT (collector.bytes () == as_string (fixture.joined ()));
    guint64 received_bytes = 0, received_messages = 0;
    g_object_get (src, "bytes-received", &received_bytes, "messages-received",
        &received_messages, nullptr);
    CPPUNIT_ASSERT_EQUAL ((guint64) g_bytes_get_size (fixture.joined ()),
        received_bytes);
    CPPUNIT_ASSERT_EQUAL ((guint64) messages.size (), received_messages);
    /* A buffer per message, but small messages that wait together are
     * joined into one. */
    int non_empty = 0;
    for (GBytes *message : messages)
      non_empty += g_bytes_get_size (message) > 0;
    CPPUNIT_ASSERT (collector.buffers () > 0);
    CPPUNIT_ASSERT (collector.buffers () <= non_empty);
    int close_code = 0;
    g_object_get (src, "client-close-code", &close_code, nullptr);
    CPPUNIT_ASSERT_EQUAL (1000, close_code);
    if (arrivals)
      *arrivals = collector.arrivals ();
  }

  static std::vector<GBytes *> chunk_bytes (const Fixture &fixture)
  {
    std::vector<GBytes *> messages;
    for (const auto &chunk : fixture.chunks ())
      messages.push_back (chunk.bytes);
    return messages;
  }

  void test_bytes_equal_recording ()
  {
    for (const char *name : { "chrome-vp8-opus-250ms", "chrome-h264-opus-250ms",
            "firefox-vp8-opus-250ms", "chrome-mp4-avc1-opus-250ms" }) {
      Fixture fixture (name);
      check_bytes (fixture, false, chunk_bytes (fixture));
    }
  }

  /* Sent at the browser's pace (8 s of 250 ms chunks), the bytes come out
   * at that pace: nothing held back and pushed in a burst. Tolerant of a
   * loaded machine, which only delays buffers. */
  void test_realtime_pace_and_stats ()
  {
    Fixture fixture ("chrome-audio-opus-250ms");
    std::vector<ByteCollector::Arrival> arrivals;
    check_bytes (fixture, true, chunk_bytes (fixture), &arrivals);

    const auto &chunks = fixture.chunks ();
    const gint64 sent_us = static_cast<gint64> (
        (chunks.back ().t_ms - chunks.front ().t_ms) * 1000);
    CPPUNIT_ASSERT (sent_us > 5 * G_USEC_PER_SEC);
    CPPUNIT_ASSERT (arrivals.size () >= 2);
    const gint64 arrived_us = arrivals.back ().time_us -
        arrivals.front ().time_us;
    const size_t total = arrivals.back ().bytes;
    char text[160];
    g_snprintf (text, sizeof text, "sent over %.2f s, arrived over %.2f s "
        "in %zu buffers", sent_us / 1e6, arrived_us / 1e6, arrivals.size ());
    CPPUNIT_ASSERT_MESSAGE (text, arrived_us >= sent_us * 9 / 10);
    /* No second carries more than half the stream (about 1/8 at pace). */
    size_t first = 0;
    for (size_t last = 0; last < arrivals.size (); last++) {
      while (arrivals[last].time_us - arrivals[first].time_us >
          G_USEC_PER_SEC)
        first++;
      size_t before = first > 0 ? arrivals[first - 1].bytes : 0;
      CPPUNIT_ASSERT_MESSAGE (text,
          (arrivals[last].bytes - before) * 2 <= total);
    }
  }

  /* The element's output demuxes into exactly the recording's frames. */
  void check_demux (const Fixture &fixture,
      const std::vector<GBytes *> &messages)
  {
    auto streams = wsrtmp::test::probe_streams (fixture.joined_path ());
    auto pipeline = launch ("wsserversrc name=src port=0 ! "
        "matroskademux name=demux");
    DemuxCounts counts;
    g_signal_connect (by_name (pipeline.get (), "demux"), "pad-added",
        G_CALLBACK (DemuxCounts::on_pad_added), &counts);
    play (pipeline.get ());
    auto client = connect_or_fail (ws_url (by_name (pipeline.get (), "src")));
    for (GBytes *message : messages)
      client->send_binary (message);
    client->close (1000);
    assert_eos (pipeline.get ());

    for (const auto &stream : streams) {
      CPPUNIT_ASSERT_EQUAL_MESSAGE (fixture.name () + " " + stream.codec_type,
          (int) stream.packets, counts.get (stream.codec_type));
    }
  }

  void test_demux_frame_counts ()
  {
    for (const char *name : { "chrome-vp8-opus-250ms", "chrome-h264-opus-250ms",
            "chrome-audio-opus-250ms", "chrome-vp8-videoonly-250ms",
            "firefox-vp8-opus-250ms" }) {
      Fixture fixture (name);
      check_demux (fixture, chunk_bytes (fixture));
    }
  }

  /* Chromium may send the first byte of the EBML header alone. */
  void test_one_byte_first_message ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    auto messages = chunk_bytes (fixture);
    GBytes *first = messages.front ();
    g_autoptr (GBytes) head = g_bytes_new_from_bytes (first, 0, 1);
    g_autoptr (GBytes) rest = g_bytes_new_from_bytes (first, 1,
        g_bytes_get_size (first) - 1);
    messages.erase (messages.begin ());
    messages.insert (messages.begin (), { head, rest });
    check_bytes (fixture, false, messages);
    check_demux (fixture, messages);
  }

  /* A stream cut into one-byte messages (joined into bigger buffers
   * inside) still comes out byte for byte, and demuxes. */
  void test_one_byte_messages ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    GBytes *all = fixture.joined ();
    const gsize split = 20000;
    std::vector<GBytes *> messages;
    for (gsize i = 0; i < split; i++)
      messages.push_back (g_bytes_new_from_bytes (all, i, 1));
    messages.push_back (g_bytes_new_from_bytes (all, split,
            g_bytes_get_size (all) - split));
    check_bytes (fixture, false, messages);
    check_demux (fixture, messages);
    for (GBytes *message : messages)
      g_bytes_unref (message);
  }

  void test_second_client_gets_1013 ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    auto pipeline = launch ("wsserversrc name=src port=0 ! "
        "appsink name=sink sync=false");
    ByteCollector collector (by_name (pipeline.get (), "sink"));
    play (pipeline.get ());
    std::string url = ws_url (by_name (pipeline.get (), "src"));

    auto first = connect_or_fail (url);
    first->send_binary (fixture.chunks ()[0].bytes);
    auto second = connect_or_fail (url);
    CPPUNIT_ASSERT (second->wait_closed (5000));
    CPPUNIT_ASSERT_EQUAL (1013, second->close_code ());
    CPPUNIT_ASSERT (!second->close_reason ().empty ());

    /* The first client is unaffected. */
    for (size_t i = 1; i < fixture.chunks ().size (); i++)
      first->send_binary (fixture.chunks ()[i].bytes);
    first->close (1000);
    assert_eos (pipeline.get ());
    CPPUNIT_ASSERT (collector.bytes () == as_string (fixture.joined ()));
  }

  void test_oversize_message_gets_1009_and_error ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    auto pipeline = launch ("wsserversrc name=src port=0 "
        "max-message-size=16384 ! appsink name=sink sync=false");
    ByteCollector collector (by_name (pipeline.get (), "sink"));
    play (pipeline.get ());
    auto client = connect_or_fail (ws_url (by_name (pipeline.get (), "src")));
    /* chunk 0 (7.5 KB) fits; 8 MB does not, and the client is still
     * sending it when the server gives up. */
    client->send_binary (fixture.chunks ()[0].bytes);
    std::string huge (8 * 1024 * 1024, 'x');
    g_autoptr (GBytes) huge_bytes = g_bytes_new (huge.data (), huge.size ());
    client->send_binary (huge_bytes);
    CPPUNIT_ASSERT (client->wait_closed (5000));
    CPPUNIT_ASSERT_EQUAL (1009, client->close_code ());

    g_autoptr (GstMessage) msg = wait_end (pipeline.get ());
    CPPUNIT_ASSERT (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    const GstStructure *details = nullptr;
    gst_message_parse_error_details (msg, &details);
    int code = 0;
    CPPUNIT_ASSERT (details && gst_structure_get_int (details, "close-code",
            &code));
    CPPUNIT_ASSERT_EQUAL (1009, code);
    /* What was accepted before the oversize message was still pushed. */
    CPPUNIT_ASSERT (collector.bytes () ==
        as_string (fixture.chunks ()[0].bytes));
  }

  /* Far over the limit (30 and 100 MiB against the default 16 MiB), from a
   * client that keeps sending after the server gave up: the server must go
   * on reading until the client is done (RFC 6455 §7.1.1), or the kernel
   * answers the unread bytes with a reset and the client never reads its
   * close frame (browsers and Node then report 1006). */
  void test_far_oversize_message_gets_1009_while_sending ()
  {
    for (guint64 mib : { 30, 100 }) {
      auto pipeline = launch ("wsserversrc name=src port=0 ! "
          "fakesink sync=false");
      play (pipeline.get ());
      RawWs client (current_port (by_name (pipeline.get (), "src")));
      CPPUNIT_ASSERT (client.handshake ("/"));
      /* A reset while sending is what browsers report as 1006. */
      std::string what = std::to_string (mib) + " MiB";
      CPPUNIT_ASSERT_MESSAGE (what + ": reset while sending",
          client.send_frame_of_size (mib * 1024 * 1024));
      CPPUNIT_ASSERT_EQUAL_MESSAGE (what, 1009, client.read_close (10));
      CPPUNIT_ASSERT_EQUAL_MESSAGE (what, std::string ("message too big"),
          client.close_reason ());
      /* Then the server closes the connection. */
      CPPUNIT_ASSERT_MESSAGE (what, client.wait_eof (10));

      g_autoptr (GstMessage) msg = wait_end (pipeline.get ());
      CPPUNIT_ASSERT (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
      const GstStructure *details = nullptr;
      gst_message_parse_error_details (msg, &details);
      int code = 0;
      CPPUNIT_ASSERT (details && gst_structure_get_int (details,
              GST_WS_SERVER_SRC_ERROR_CLOSE_CODE, &code));
      CPPUNIT_ASSERT_EQUAL (1009, code);
    }
  }

  /* max-message-size=0 (no limit) must not hand libsoup 3.2 "unlimited":
   * one frame announcing 2^64 - 1 bytes wraps its length arithmetic and it
   * writes past its buffer (a SIGSEGV here, from any client). With the cap
   * (G_MAXINT) that frame is too big: 1009. A message above the default
   * limit still passes. */
  void test_unlimited_size_survives_wrapping_frame_length ()
  {
    auto pipeline = launch ("wsserversrc name=src port=0 max-message-size=0 "
        "! appsink name=sink sync=false");
    ByteCollector collector (by_name (pipeline.get (), "sink"));
    play (pipeline.get ());
    GstElement *src = by_name (pipeline.get (), "src");
    guint64 setting = 1;
    g_object_get (src, GST_WS_SERVER_SRC_PROP_MAX_MESSAGE_SIZE, &setting,
        nullptr);
    CPPUNIT_ASSERT_EQUAL ((guint64) 0, setting);

    RawWs client (current_port (src));
    CPPUNIT_ASSERT (client.handshake ("/"));
    const std::string big (17 * 1024 * 1024, 'b');
    CPPUNIT_ASSERT (client.write (RawWs::frame (0x2, big)));
    /* FIN, binary, masked, 64-bit length 2^64 - 1, mask 0, 4 bytes. */
    std::string wrapping ("\x82\xff", 2);
    wrapping += std::string (8, '\xff') + std::string (4, '\0') + "abcd";
    CPPUNIT_ASSERT (client.write (wrapping));
    CPPUNIT_ASSERT_EQUAL (1009, client.read_close (10));

    g_autoptr (GstMessage) msg = wait_end (pipeline.get ());
    CPPUNIT_ASSERT (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    const GstStructure *details = nullptr;
    gst_message_parse_error_details (msg, &details);
    int code = 0;
    CPPUNIT_ASSERT (details && gst_structure_get_int (details,
            GST_WS_SERVER_SRC_ERROR_CLOSE_CODE, &code));
    CPPUNIT_ASSERT_EQUAL (1009, code);
    CPPUNIT_ASSERT (collector.bytes () == big);
  }

  /* libsoup 3.2 limits frames, not messages: 3 fragments of 8 KiB under a
   * 16 KiB max-message-size make a 24 KiB message, refused like a too big
   * frame. */
  void test_fragmented_message_over_limit_gets_1009 ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    auto pipeline = launch ("wsserversrc name=src port=0 "
        "max-message-size=16384 ! appsink name=sink sync=false");
    ByteCollector collector (by_name (pipeline.get (), "sink"));
    play (pipeline.get ());
    RawWs client (current_port (by_name (pipeline.get (), "src")));
    CPPUNIT_ASSERT (client.handshake ("/"));
    const std::string first = as_string (fixture.chunks ()[0].bytes);
    const std::string part (8 * 1024, 'f');
    auto not_final = [] (std::string frame) {
      frame[0] &= 0x7f;
      return frame;
    };
    CPPUNIT_ASSERT (client.write (RawWs::frame (0x2, first) +
            not_final (RawWs::frame (0x2, part)) +
            not_final (RawWs::frame (0x0, part)) + RawWs::frame (0x0, part)));
    CPPUNIT_ASSERT_EQUAL (1009, client.read_close (10));
    CPPUNIT_ASSERT_EQUAL (std::string ("message too big"),
        client.close_reason ());

    g_autoptr (GstMessage) msg = wait_end (pipeline.get ());
    CPPUNIT_ASSERT (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    const GstStructure *details = nullptr;
    gst_message_parse_error_details (msg, &details);
    int code = 0;
    CPPUNIT_ASSERT (details && gst_structure_get_int (details,
            GST_WS_SERVER_SRC_ERROR_CLOSE_CODE, &code));
    CPPUNIT_ASSERT_EQUAL (1009, code);
    CPPUNIT_ASSERT (collector.bytes () == first);
  }

  /* After libsoup answered a protocol error (a continuation frame with no
   * message to continue) with 1002, it still delivers what the client
   * sends; a frame or a message over max-message-size then cannot get 1009
   * any more. The element must not claim it sent 1009: the stream ends
   * with the close under way (EOS after what was accepted). */
  void test_no_close_code_claimed_after_libsoups_close ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    const std::string first = as_string (fixture.chunks ()[0].bytes);
    const std::string too_big (16 * 1024 + 1, 'x');
    for (bool fragmented : { false, true }) {
      std::string what = fragmented ? "fragmented" : "one frame";
      auto pipeline = launch ("wsserversrc name=src port=0 "
          "max-message-size=16384 ! appsink name=sink sync=false");
      ByteCollector collector (by_name (pipeline.get (), "sink"));
      play (pipeline.get ());
      RawWs client (current_port (by_name (pipeline.get (), "src")));
      CPPUNIT_ASSERT (client.handshake ("/"));
      std::string frames = RawWs::frame (0x2, first) +
          RawWs::frame (0x0, "stray");
      if (fragmented) {
        std::string head = RawWs::frame (0x2, too_big.substr (0, 10000));
        head[0] &= 0x7f;
        frames += head + RawWs::frame (0x0, too_big.substr (10000));
      } else {
        frames += RawWs::frame (0x2, too_big);
      }
      CPPUNIT_ASSERT_MESSAGE (what, client.write (frames));
      CPPUNIT_ASSERT_EQUAL_MESSAGE (what, 1002, client.read_close (10));
      client.write (RawWs::close_frame (1002));

      g_autoptr (GstMessage) msg = wait_end (pipeline.get ());
      CPPUNIT_ASSERT_MESSAGE (what, msg);
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        g_autoptr (GError) error = nullptr;
        gst_message_parse_error (msg, &error, nullptr);
        CPPUNIT_FAIL (what + ": an error though 1002 was sent: " +
            error->message);
      }
      CPPUNIT_ASSERT_MESSAGE (what, collector.bytes () == first);
    }
  }

  /* A client that never closes its side keeps the server reading only
   * for the lingering time (wsclose.h: LINGER_TIMEOUT_S, 5 s); then the
   * server closes and what the client sends is refused. */
  void test_lingering_close_is_bounded ()
  {
    auto pipeline = launch ("wsserversrc name=src port=0 "
        "max-message-size=1024 ! fakesink sync=false");
    play (pipeline.get ());
    RawWs client (current_port (by_name (pipeline.get (), "src")));
    CPPUNIT_ASSERT (client.handshake ("/"));
    CPPUNIT_ASSERT (client.send_frame_of_size (64 * 1024));
    CPPUNIT_ASSERT_EQUAL (1009, client.read_close (10));
    CPPUNIT_ASSERT (client.wait_eof (10));
    gint64 start = g_get_monotonic_time ();
    const std::string more = RawWs::frame (0x2, std::string (1024, 'x'));
    while (client.write (more) &&
        g_get_monotonic_time () - start < 20 * G_USEC_PER_SEC)
      std::this_thread::sleep_for (std::chrono::milliseconds (100));
    double read_s = (g_get_monotonic_time () - start) / 1e6;
    std::string what = "the server read on for " + std::to_string (read_s) +
        " s";
    CPPUNIT_ASSERT_MESSAGE (what, read_s > 3 && read_s < 12);
  }

  /* The close codes the element and wsrtmpd send, through their one
   * implementation (plugin/wsclose.h), as a client reads them: never 1005,
   * 1006 or 1015, and 1012-1014 as asked where the connection is fresh. */
  void test_close_codes_on_the_wire ()
  {
    for (int code = 0; code < 6000; code++) {
      if (wsrtmp::websocket_close_code_sendable_by_soup (code))
        CPPUNIT_ASSERT_MESSAGE (std::to_string (code),
            wsrtmp::websocket_close_code_valid (code));
    }
    for (int code : { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000 })
      CPPUNIT_ASSERT_MESSAGE (std::to_string (code),
          !wsrtmp::websocket_close_code_valid (code));

    /* A SoupServer on its own thread: /refuse/CODE and /close/CODE. */
    struct App {
      GMainContext *context = g_main_context_new ();
      GMainLoop *loop = g_main_loop_new (context, FALSE);
      std::atomic<int> port { 0 };
    } app;
    std::thread app_thread ([&app] {
      g_main_context_push_thread_default (app.context);
      SoupServer *server = soup_server_new (nullptr, nullptr);
      soup_server_add_websocket_handler (server, nullptr, nullptr, nullptr,
          [] (SoupServer *, SoupServerMessage *, const char *path,
              SoupWebsocketConnection *conn, gpointer) {
            g_auto (GStrv) parts = g_strsplit (path, "/", -1);
            auto code = static_cast<gushort> (atoi (parts[2]));
            if (g_str_equal (parts[1], "refuse"))
              wsrtmp::websocket_refuse (conn, code, "refused", "{}");
            else
              wsrtmp::websocket_close (conn, code, "closed");
          }, nullptr, nullptr);
      soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY,
          nullptr);
      GSList *uris = soup_server_get_uris (server);
      app.port = g_uri_get_port (static_cast<GUri *> (uris->data));
      g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
      g_main_loop_run (app.loop);
      g_object_unref (server);
      while (g_main_context_iteration (app.context, FALSE)) {
      }
      g_main_context_pop_thread_default (app.context);
    });
    struct AppStopper {
      App &app;
      std::thread &thread;
      ~AppStopper ()
      {
        g_main_context_invoke (app.context, [] (gpointer loop) {
          g_main_loop_quit (static_cast<GMainLoop *> (loop));
          return G_SOURCE_REMOVE;
        }, app.loop);
        thread.join ();
        g_main_loop_unref (app.loop);
        g_main_context_unref (app.context);
      }
    } stopper { app, app_thread };
    while (app.port == 0)
      std::this_thread::sleep_for (std::chrono::milliseconds (5));

    struct Case {
      const char *how;
      int asked, sent;
    };
    for (const Case &c : std::initializer_list<Case> {
             { "refuse", 1013, 1013 }, { "refuse", 1012, 1012 },
             { "refuse", 1014, 1014 }, { "refuse", 1008, 1008 },
             { "refuse", 4000, 4000 }, { "refuse", 1006, 1011 },
             { "refuse", 1005, 1011 }, { "refuse", 1015, 1011 },
             { "refuse", 5000, 1011 }, { "refuse", 999, 1011 },
             { "close", 1000, 1000 }, { "close", 1001, 1001 },
             { "close", 1003, 1003 }, { "close", 1009, 1009 },
             { "close", 1011, 1011 }, { "close", 3000, 3000 },
             { "close", 1004, 1011 }, { "close", 1006, 1011 },
             { "close", 1013, 1011 } }) {
      std::string what = std::string (c.how) + " " + std::to_string (c.asked);
      RawWs client (app.port);
      CPPUNIT_ASSERT_MESSAGE (what, client.handshake (
              std::string ("/") + c.how + "/" + std::to_string (c.asked)));
      std::vector<std::string> texts;
      CPPUNIT_ASSERT_EQUAL_MESSAGE (what, c.sent, client.read_close (5,
              &texts));
      CPPUNIT_ASSERT_EQUAL_MESSAGE (what, std::string (c.how) + "d",
          client.close_reason ());
      if (g_str_equal (c.how, "refuse"))
        CPPUNIT_ASSERT_MESSAGE (what, texts.size () == 1 && texts[0] == "{}");
      /* Our close frame answered, the server closes the connection. */
      client.write (RawWs::close_frame (c.sent));
      CPPUNIT_ASSERT_MESSAGE (what, client.wait_eof (10));
    }
  }

  void test_slow_downstream_gets_1011_and_error ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    /* The appsink holds one buffer and is never drained: downstream stalls. */
    auto pipeline = launch ("wsserversrc name=src port=0 "
        "max-queued-bytes=100000 ! appsink name=sink sync=false max-buffers=1");
    play (pipeline.get ());
    auto client = connect_or_fail (ws_url (by_name (pipeline.get (), "src")));
    client->replay (fixture, false);
    CPPUNIT_ASSERT (client->wait_closed (5000));
    CPPUNIT_ASSERT_EQUAL (1011, client->close_code ());
    CPPUNIT_ASSERT_EQUAL (std::string ("downstream too slow"),
        client->close_reason ());

    /* Unblock the sink: the element then reports the error. */
    GstElement *sink = by_name (pipeline.get (), "sink");
    g_autoptr (GstMessage) msg = nullptr;
    for (int i = 0; i < 200 && !msg; i++) {
      g_autoptr (GstSample) sample = gst_app_sink_try_pull_sample (
          GST_APP_SINK (sink), 10 * GST_MSECOND);
      g_autoptr (GstBus) bus = gst_element_get_bus (pipeline.get ());
      msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    }
    CPPUNIT_ASSERT (msg);
    const GstStructure *details = nullptr;
    gst_message_parse_error_details (msg, &details);
    int code = 0;
    CPPUNIT_ASSERT (details && gst_structure_get_int (details, "close-code",
            &code));
    CPPUNIT_ASSERT_EQUAL (1011, code);
  }

  void test_text_message_posted_on_bus ()
  {
    auto pipeline = launch ("wsserversrc name=src port=0 ! fakesink");
    play (pipeline.get ());
    auto client = connect_or_fail (ws_url (by_name (pipeline.get (), "src")));
    client->send_text ("{\"type\":\"hello\"}");
    g_autoptr (GstBus) bus = gst_element_get_bus (pipeline.get ());
    g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus,
        5 * GST_SECOND, GST_MESSAGE_ELEMENT);
    CPPUNIT_ASSERT (msg);
    const GstStructure *s = gst_message_get_structure (msg);
    CPPUNIT_ASSERT (gst_structure_has_name (s, "websocket-text"));
    CPPUNIT_ASSERT_EQUAL (std::string ("{\"type\":\"hello\"}"),
        std::string (gst_structure_get_string (s, "text")));
  }

  void test_abrupt_disconnect_is_eos_with_warning ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    auto pipeline = launch ("wsserversrc name=src port=0 ! "
        "appsink name=sink sync=false");
    ByteCollector collector (by_name (pipeline.get (), "sink"));
    play (pipeline.get ());
    auto client = connect_or_fail (ws_url (by_name (pipeline.get (), "src")));
    for (int i = 0; i < 5; i++)
      client->send_binary (fixture.chunks ()[i].bytes);
    /* Let the data reach the server before the TCP connection drops. */
    std::this_thread::sleep_for (std::chrono::milliseconds (300));
    client->abort ();

    g_autoptr (GstBus) bus = gst_element_get_bus (pipeline.get ());
    g_autoptr (GstMessage) warning = gst_bus_timed_pop_filtered (bus,
        BUS_TIMEOUT, GST_MESSAGE_WARNING);
    CPPUNIT_ASSERT_MESSAGE ("no warning for the abrupt disconnect", warning);
    assert_eos (pipeline.get ());
    std::string expected;
    for (int i = 0; i < 5; i++)
      expected += as_string (fixture.chunks ()[i].bytes);
    CPPUNIT_ASSERT (collector.bytes () == expected);
  }

  /* The rule wsrtmpd's --allowed-origins follows (wsorigin.h): an
   * origin's scheme and host without case, a pasted trailing '/' ignored. */
  void test_origin_allowlist ()
  {
    auto pipeline = launch ("wsserversrc name=src port=0 "
        "allowed-origins=\"https://Good.example/,http://localhost:8000\" ! "
        "fakesink");
    play (pipeline.get ());
    std::string url = ws_url (by_name (pipeline.get (), "src"));

    WsClient::Options bad;
    bad.origin = "https://evil.example";
    auto refused = connect_or_fail (url, bad);
    CPPUNIT_ASSERT (refused->wait_closed (5000));
    CPPUNIT_ASSERT_EQUAL (1008, refused->close_code ());

    /* (One client at a time: the one allowed is the last.) */
    WsClient::Options good;
    good.origin = "https://good.EXAMPLE";
    auto accepted = connect_or_fail (url, good);
    CPPUNIT_ASSERT (!accepted->wait_closed (500));
  }

  void test_wrong_path_is_refused ()
  {
    auto pipeline = launch ("wsserversrc name=src port=0 path=/ingest ! "
        "fakesink");
    play (pipeline.get ());
    GstElement *src = by_name (pipeline.get (), "src");
    std::string error;
    CPPUNIT_ASSERT (!WsClient::connect (ws_url (src, "/other"), &error));
    auto client = connect_or_fail (ws_url (src, "/ingest"));
    CPPUNIT_ASSERT (!client->wait_closed (300));
  }

  /* An application that runs its own SoupServer hands the accepted
   * connection to the element. */
  void test_adopted_connection ()
  {
    Fixture fixture ("chrome-h264-opus-250ms");
    auto pipeline = launch ("wsserversrc name=src ! appsink name=sink "
        "sync=false");
    ByteCollector collector (by_name (pipeline.get (), "sink"));
    GstElement *pipeline_raw = pipeline.get ();

    /* The application's server runs on its own thread and main context. */
    struct App {
      GMainContext *context = g_main_context_new ();
      GMainLoop *loop = g_main_loop_new (context, FALSE);
      SoupServer *server = nullptr;
      std::atomic<int> port { 0 };
      GstElement *pipeline = nullptr;
      std::thread::id thread_id;
      /* The adopted connection, and the threads that changed its
       * max-incoming-payload-size, in order. */
      std::mutex lock;
      SoupWebsocketConnection *conn = nullptr;
      std::vector<std::thread::id> size_set_on;
    } app;
    app.pipeline = pipeline_raw;
    std::thread app_thread ([&app] {
      app.thread_id = std::this_thread::get_id ();
      g_main_context_push_thread_default (app.context);
      app.server = soup_server_new (nullptr, nullptr);
      soup_server_add_websocket_handler (app.server, "/app", nullptr, nullptr,
          [] (SoupServer *, SoupServerMessage *, const char *,
              SoupWebsocketConnection *conn, gpointer data) {
            auto *a = static_cast<App *> (data);
            g_signal_connect (conn, "notify::max-incoming-payload-size",
                G_CALLBACK (+[] (GObject *, GParamSpec *, App *a) {
                  std::lock_guard<std::mutex> l (a->lock);
                  a->size_set_on.push_back (std::this_thread::get_id ());
                }), a);
            {
              std::lock_guard<std::mutex> l (a->lock);
              a->conn = SOUP_WEBSOCKET_CONNECTION (g_object_ref (conn));
            }
            GstElement *src = gst_bin_get_by_name (GST_BIN (a->pipeline), "src");
            g_object_set (src, "connection", conn, nullptr);
            gst_object_unref (src);
            gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
          }, &app, nullptr);
      soup_server_listen_local (app.server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY,
          nullptr);
      GSList *uris = soup_server_get_uris (app.server);
      app.port = g_uri_get_port (static_cast<GUri *> (uris->data));
      g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
      g_main_loop_run (app.loop);
      g_clear_object (&app.conn);
      g_clear_object (&app.server);
      while (g_main_context_iteration (app.context, FALSE)) {
      }
      g_main_context_pop_thread_default (app.context);
    });
    while (app.port == 0)
      std::this_thread::sleep_for (std::chrono::milliseconds (5));

    /* Stops the application's server thread even when an assertion throws. */
    struct AppStopper {
      App &app;
      std::thread &thread;
      ~AppStopper ()
      {
        g_main_context_invoke (app.context, [] (gpointer loop) {
          g_main_loop_quit (static_cast<GMainLoop *> (loop));
          return G_SOURCE_REMOVE;
        }, app.loop);
        thread.join ();
        g_main_loop_unref (app.loop);
        g_main_context_unref (app.context);
      }
    } stopper { app, app_thread };

    auto client = connect_or_fail ("ws://127.0.0.1:" +
        std::to_string (app.port.load ()) + "/app");
    auto adopted_size_set = [&app] {
      std::lock_guard<std::mutex> l (app.lock);
      return app.size_set_on.size ();
    };
    for (int i = 0; i < 500 && adopted_size_set () == 0; i++)
      std::this_thread::sleep_for (std::chrono::milliseconds (10));
    CPPUNIT_ASSERT_EQUAL ((size_t) 1, adopted_size_set ());

    /* The element hands out the connection it reads from, and passes a new
     * size limit to it on the connection's own thread (libsoup objects are
     * not thread-safe), not on the thread that set the property. */
    GstElement *src = by_name (pipeline_raw, "src");
    SoupWebsocketConnection *adopted = nullptr;
    g_object_get (src, GST_WS_SERVER_SRC_PROP_CONNECTION, &adopted, nullptr);
    {
      std::lock_guard<std::mutex> l (app.lock);
      CPPUNIT_ASSERT (adopted && adopted == app.conn);
    }
    g_object_unref (adopted);
    g_object_set (src, GST_WS_SERVER_SRC_PROP_MAX_MESSAGE_SIZE,
        (guint64) 4 * 1024 * 1024, nullptr);
    for (int i = 0; i < 500 && adopted_size_set () < 2; i++)
      std::this_thread::sleep_for (std::chrono::milliseconds (10));
    {
      std::lock_guard<std::mutex> l (app.lock);
      CPPUNIT_ASSERT_EQUAL ((size_t) 2, app.size_set_on.size ());
      CPPUNIT_ASSERT (app.size_set_on[1] == app.thread_id);
      guint64 limit = 0;
      g_object_get (app.conn, "max-incoming-payload-size", &limit, nullptr);
      CPPUNIT_ASSERT_EQUAL ((guint64) 4 * 1024 * 1024, limit);
    }

    client->replay (fixture, false);
    client->close (1000);
    assert_eos (pipeline_raw);
    CPPUNIT_ASSERT (collector.bytes () == as_string (fixture.joined ()));
    int listening = -1;
    g_object_get (by_name (pipeline_raw, "src"), "current-port", &listening,
        nullptr);
    CPPUNIT_ASSERT_EQUAL (0, listening);
    pipeline.reset ();
  }

  void test_wss_with_generated_certificate ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    g_autofree char *dir = g_dir_make_tmp ("wsrtmp-tls-XXXXXX", nullptr);
    generate_certificate (dir);
    std::string cert_path = std::string (dir) + "/cert.pem";
    std::string key_path = std::string (dir) + "/key.pem";
    g_autoptr (GError) error = nullptr;
    g_autoptr (GTlsCertificate) certificate =
        g_tls_certificate_new_from_files (cert_path.c_str (),
        key_path.c_str (), &error);
    CPPUNIT_ASSERT_MESSAGE (error ? error->message : "", certificate);

    auto pipeline = launch ("wsserversrc name=src port=0 ! "
        "appsink name=sink sync=false");
    ByteCollector collector (by_name (pipeline.get (), "sink"));
    GstElement *src = by_name (pipeline.get (), "src");
    g_object_set (src, "tls-certificate", certificate, nullptr);
    play (pipeline.get ());

    /* A plain ws:// client cannot talk to it. */
    std::string plain_error;
    CPPUNIT_ASSERT (!WsClient::connect (ws_url (src), &plain_error));

    WsClient::Options options;
    options.trusted_ca = certificate;
    auto client = connect_or_fail (ws_url (src, "/", "wss"), options);
    client->replay (fixture, false);
    client->close (1000);
    assert_eos (pipeline.get ());
    CPPUNIT_ASSERT (collector.bytes () == as_string (fixture.joined ()));

    g_unlink (cert_path.c_str ());
    g_unlink (key_path.c_str ());
    g_rmdir (dir);
  }

  void test_port_in_use_is_an_error ()
  {
    auto first = launch ("wsserversrc name=src port=0 host=127.0.0.1 ! fakesink");
    play (first.get ());
    int port = current_port (by_name (first.get (), "src"));
    CPPUNIT_ASSERT (port > 0);

    auto second = launch ("wsserversrc name=src host=127.0.0.1 port=" +
        std::to_string (port) + " ! fakesink");
    CPPUNIT_ASSERT_EQUAL (GST_STATE_CHANGE_FAILURE,
        gst_element_set_state (second.get (), GST_STATE_PLAYING));
    g_autoptr (GstBus) bus = gst_element_get_bus (second.get ());
    g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, GST_SECOND,
        GST_MESSAGE_ERROR);
    CPPUNIT_ASSERT (msg);
    g_autoptr (GError) error = nullptr;
    gst_message_parse_error (msg, &error, nullptr);
    CPPUNIT_ASSERT (std::string (error->message).find (std::to_string (port)) !=
        std::string::npos);
  }

  /* NULL -> PLAYING -> NULL, with and without a client, must not leave
   * threads, sockets or refs behind. */
  void test_start_stop_cycles_leak_nothing ()
  {
    Fixture fixture ("chrome-vp8-opus-250ms");
    auto cycle = [&fixture] (int i) {
      auto pipeline = launch ("wsserversrc name=src port=0 ! "
          "matroskademux ! fakesink");
      play (pipeline.get ());
      if (i % 2 == 0) {
        auto client = connect_or_fail (ws_url (by_name (pipeline.get (),
                    "src")));
        client->send_binary (fixture.chunks ()[0].bytes);
        client->send_binary (fixture.chunks ()[1].bytes);
        if (i % 4 == 0)
          client->close (1000);
        /* Stop while the client is connected or closing. */
        std::this_thread::sleep_for (std::chrono::milliseconds (20));
        GstElement *src = by_name (pipeline.get (), "src");
        gst_object_ref (src);
        pipeline.reset ();
        /* A callback already running on the connection's context may hold
         * a ref a moment longer (seen under ASan on a loaded machine):
         * what must not happen is a ref that stays. */
        for (int wait = 0; wait < 100 &&
            GST_OBJECT_REFCOUNT_VALUE (src) > 1; wait++)
          std::this_thread::sleep_for (std::chrono::milliseconds (20));
        CPPUNIT_ASSERT_EQUAL (1, (int) GST_OBJECT_REFCOUNT_VALUE (src));
        gst_object_unref (src);
        CPPUNIT_ASSERT (client->wait_closed (5000));
      }
    };
    /* Warm up lazily created GLib/GStreamer threads. */
    for (int i = 0; i < 4; i++)
      cycle (i);
    std::this_thread::sleep_for (std::chrono::milliseconds (200));
    int threads = count_entries ("/proc/self/task");
    int fds = count_entries ("/proc/self/fd");
    for (int i = 0; i < 50; i++)
      cycle (i);
    std::this_thread::sleep_for (std::chrono::milliseconds (200));
    CPPUNIT_ASSERT_EQUAL (threads, count_entries ("/proc/self/task"));
    CPPUNIT_ASSERT_EQUAL (fds, count_entries ("/proc/self/fd"));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (WsServerSrcTest);
