/* What wsrtmpd tells a client about keyframes, for a page that encodes by
 * itself (WebCodecs): the welcome frame's keyframe_interval_s, and
 * {"type":"keyframe","reason":…} when the output waits for a keyframe: a
 * destination that lost its connection (a real nginx-rtmp killed and
 * started again), a newer connection taking over the broadcast, or one
 * resuming it from the slate.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "service_checks.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>
#include <json-glib/json-glib.h>

#include <chrono>
#include <cstdio>
#include <thread>

using namespace wsrtmp::test;

namespace {

constexpr const char *DESTINATION_FRAME =
    "{\"type\":\"keyframe\",\"reason\":\"destination\"}";
constexpr const char *TAKEOVER_FRAME =
    "{\"type\":\"keyframe\",\"reason\":\"takeover\"}";

/* Chromium's H.264 with 2 s keyframes: passed through, so the page's
 * keyframes are the output's. */
constexpr const char *H264_FIXTURE = "chrome-h264-opus-kf2s-30s-250ms";

/* How many of the client's text messages contain needle. */
size_t
count_text (const WsClient &client, const std::string &needle)
{
  size_t count = 0;
  for (const auto &text : client.text_messages ())
    count += text.find (needle) != std::string::npos;
  return count;
}

}  // namespace

class KeyframeRequestTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (KeyframeRequestTest);
  CPPUNIT_TEST (testWelcomeCarriesKeyframeInterval);
  CPPUNIT_TEST (testDestinationReconnectAsksForKeyframe);
  CPPUNIT_TEST (testTakeoverAsksForKeyframe);
  CPPUNIT_TEST (testResumeFromSlateAsksForKeyframe);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* The welcome frame says how far apart the output's keyframes are (the
   * daemon's pipeline: flvencodebin's default, 2 s). */
  void testWelcomeCarriesKeyframeInterval ()
  {
    TempDir dir;
    Daemon daemon ({ "--record-dir", dir.path () });
    auto client = WsClient::connect (daemon.ingest_url ("welcome"));
    CPPUNIT_ASSERT (client);
    ASSERT_LOGGED (daemon, "no welcome",
        client->wait_text ("\"type\":\"welcome\"", 5000));
    std::string welcome = client->text_messages ().front ();
    g_autoptr (JsonParser) parser = json_parser_new ();
    CPPUNIT_ASSERT_MESSAGE (welcome, json_parser_load_from_data (parser,
            welcome.c_str (), -1, nullptr));
    JsonObject *object = json_node_get_object (json_parser_get_root (parser));
    CPPUNIT_ASSERT_EQUAL (std::string ("welcome"),
        std::string (json_object_get_string_member (object, "type")));
    CPPUNIT_ASSERT_MESSAGE (welcome, json_object_has_member (object,
            "keyframe_interval_s"));
    CPPUNIT_ASSERT_DOUBLES_EQUAL_MESSAGE (welcome, 2.0,
        json_object_get_double_member (object, "keyframe_interval_s"), 1e-9);
    client->close (1000, "done");
    CPPUNIT_ASSERT (client->wait_closed (10000));
    CPPUNIT_ASSERT (daemon.wait_idle (10000));
  }

  /* nginx is killed mid-stream and started again. From the loss on the
   * destination's gate drops tags until a keyframe (what it keeps for the
   * reconnection, and sends first, starts at one): the client is asked for
   * one right then, once, and not before the loss (a first connection
   * needs none). Once the gate has its keyframe, the reconnection sends
   * the kept data from it: no second request. */
  void testDestinationReconnectAsksForKeyframe ()
  {
    TempDir dir;
    std::string nginx_dir = dir.file ("nginx");
    Nginx nginx (nginx_dir);
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--rtmp-retry-time", "20" });
    Fixture fixture (H264_FIXTURE);
    auto client = WsClient::connect (daemon.ingest_url ("dest"));
    CPPUNIT_ASSERT (client);
    std::thread sender ([&] {
      send_paced (*client, fixture, 0, chunks_before (fixture, 16000));
    });
    Joiner join_sender (sender);
    ASSERT_LOGGED (daemon, "not live",
        client->wait_text ("\"state\":\"live\"", 10000));
    std::this_thread::sleep_for (std::chrono::seconds (3));
    ASSERT_LOGGED (daemon, "asked before the loss",
        count_text (*client, "\"type\":\"keyframe\"") == 0);

    auto killed_at = std::chrono::steady_clock::now ();
    kill_nginx (nginx_dir);
    ASSERT_LOGGED (daemon, "no keyframe request within 5 s of the loss",
        client->wait_text (DESTINATION_FRAME, 5000));
    double asked_s = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - killed_at).count ();
    printf ("  asked for a keyframe %.2f s after nginx was killed\n",
        asked_s);
    ASSERT_LOGGED (daemon, "not reconnecting",
        client->wait_text ("\"state\":\"reconnecting\"", 10000));
    std::this_thread::sleep_for (std::chrono::seconds (2));
    std::string err;
    bool restarted = restart_nginx (nginx_dir, nginx.url (), &err);
    CPPUNIT_ASSERT_MESSAGE (err, restarted);
    ASSERT_LOGGED (daemon, "not reconnected",
        daemon.wait_logged ("RTMP reconnected", 10000));

    sender.join ();
    client->close (1000, "stream ended");
    CPPUNIT_ASSERT (client->wait_closed (20000));
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, client->close_reason ()),
        1000, client->close_code ());
    CPPUNIT_ASSERT (daemon.wait_idle (20000));
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, "keyframe requests"),
        (size_t) 1, count_text (*client, "\"type\":\"keyframe\""));
  }

  /* A second connection with the same key while the first streams: it
   * joins the broadcast and waits for its first keyframe, so it (not the
   * first) is asked for one. */
  void testTakeoverAsksForKeyframe ()
  {
    TempDir dir;
    Daemon daemon ({ "--record-dir", dir.path (), "--continuity-timeout",
        "30" });
    Fixture fixture (H264_FIXTURE);
    size_t chunks = chunks_before (fixture, 8000);
    auto first = WsClient::connect (daemon.ingest_url ("tab"));
    CPPUNIT_ASSERT (first);
    std::thread sender ([&] { send_paced (*first, fixture, 0, chunks); });
    Joiner join_sender (sender);
    ASSERT_LOGGED (daemon, "first never live",
        first->wait_text ("\"state\":\"live\"", 10000));
    std::this_thread::sleep_for (std::chrono::seconds (1));

    auto second = WsClient::connect (daemon.ingest_url ("tab"));
    CPPUNIT_ASSERT (second);
    ASSERT_LOGGED (daemon, "second not resumed",
        second->wait_text ("\"resumed\":true", 5000));
    ASSERT_LOGGED (daemon, "second not asked for a keyframe",
        second->wait_text (TAKEOVER_FRAME, 5000));
    ASSERT_LOGGED (daemon, "first not closed", first->wait_closed (10000));
    CPPUNIT_ASSERT_EQUAL (1008, first->close_code ());
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, "first asked"),
        (size_t) 0, count_text (*first, "\"type\":\"keyframe\""));

    send_paced (*second, fixture, 0, chunks_before (fixture, 4000));
    ASSERT_LOGGED (daemon, "second never live",
        second->wait_text ("\"state\":\"live\"", 10000));
    second->close (1000, "stop");
    CPPUNIT_ASSERT (second->wait_closed (10000));
    CPPUNIT_ASSERT_EQUAL (1000, second->close_code ());
    sender.join ();
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));
    ASSERT_LOGGED (daemon, "asked more than once",
        count_text (*second, "\"type\":\"keyframe\"") == 1);
  }

  /* The first connection drops (a TCP reset): the broadcast shows the
   * slate, and the connection that comes back is asked for a keyframe (its
   * picture replaces the slate at its first one). */
  void testResumeFromSlateAsksForKeyframe ()
  {
    TempDir dir;
    Daemon daemon ({ "--record-dir", dir.path (), "--continuity-timeout",
        "30" });
    Fixture fixture (H264_FIXTURE);
    auto first = WsClient::connect (daemon.ingest_url ("back"));
    CPPUNIT_ASSERT (first);
    send_paced (*first, fixture, 0, chunks_before (fixture, 3000));
    ASSERT_LOGGED (daemon, "first never live",
        first->wait_text ("\"state\":\"live\"", 10000));
    first->abort ();
    ASSERT_LOGGED (daemon, "no slate",
        daemon.wait_logged ("viewers see the slate", 10000));

    auto second = WsClient::connect (daemon.ingest_url ("back"));
    CPPUNIT_ASSERT (second);
    ASSERT_LOGGED (daemon, "second not asked for a keyframe",
        second->wait_text (TAKEOVER_FRAME, 5000));
    send_paced (*second, fixture, 0, chunks_before (fixture, 4000));
    ASSERT_LOGGED (daemon, "never resumed",
        second->wait_text ("\"state\":\"resumed\"", 10000));
    second->close (1000, "stop");
    CPPUNIT_ASSERT (second->wait_closed (10000));
    CPPUNIT_ASSERT_EQUAL (1000, second->close_code ());
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (KeyframeRequestTest);
