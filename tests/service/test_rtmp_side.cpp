/* wsrtmpd's RTMP side: a server that is not there, one that dies and comes
 * back mid-stream (the session reconnects), one that stays away longer than
 * --rtmp-retry-time (1011). A real nginx-rtmp, killed like a crash.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "service_checks.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

using namespace wsrtmp::test;

class WsrtmpdRtmpSideTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdRtmpSideTest);
  CPPUNIT_TEST (testRtmpServerDown);
  CPPUNIT_TEST (testRtmpRestart);
  CPPUNIT_TEST (testRtmpRetryGivesUp);
  CPPUNIT_TEST_SUITE_END ();

 public:
  void testRtmpServerDown ()
  {
    Daemon daemon ({ "--rtmp-url", "rtmp://127.0.0.1:" +
        std::to_string (free_port ()) + "/live" });
    Fixture fixture ("chrome-vp8-opus-250ms");
    auto client = WsClient::connect (daemon.ingest_url ("nobody_home"));
    CPPUNIT_ASSERT (client);
    auto start = std::chrono::steady_clock::now ();
    client->replay (fixture, true);     /* stops once the server closes */
    CPPUNIT_ASSERT (client->wait_closed (5000));
    double seconds = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - start).count ();
    CPPUNIT_ASSERT_EQUAL (1011, client->close_code ());
    CPPUNIT_ASSERT_MESSAGE (client->close_reason (),
        client->close_reason ().find ("RTMP server") != std::string::npos &&
        client->close_reason ().find ("connect") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE (std::to_string (seconds), seconds < 5.0);
    CPPUNIT_ASSERT (has_text (*client, "\"type\":\"error\""));
    CPPUNIT_ASSERT (has_text (*client, "\"state\":\"error\""));
  }

  /* nginx dies mid-stream and comes back: the session keeps the browser's
   * data, reconnects, and the broadcast goes on. */
  void testRtmpRestart ()
  {
    TempDir dir;
    std::string nginx_dir = dir.file ("nginx");
    Nginx nginx (nginx_dir);
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--rtmp-retry-time", "20" });
    Fixture fixture ("chrome-vp8-opus-30s-250ms");
    auto client = WsClient::connect (daemon.ingest_url ("restart"));
    CPPUNIT_ASSERT (client);
    std::string error;
    bool replayed = false;
    std::thread sender ([&] { replayed = client->replay (fixture, true); });
    Joiner join_sender (sender);
    ASSERT_LOGGED (daemon, "not live",
        client->wait_text ("\"state\":\"live\"", 10000));
    std::this_thread::sleep_for (std::chrono::seconds (6));
    double t0 = fixture.chunks ().front ().t_ms;
    auto killed_at = std::chrono::steady_clock::now ();
    kill_nginx (nginx_dir);
    bool told = client->wait_text ("\"state\":\"reconnecting\"", 10000);
    std::this_thread::sleep_for (std::chrono::seconds (3));
    std::string err;
    bool restarted = restart_nginx (nginx_dir, nginx.url (), &err);
    CPPUNIT_ASSERT_MESSAGE (err, restarted);
    sender.join ();
    double sent_s = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - killed_at).count ();
    ASSERT_LOGGED (daemon, "client not told", told);
    ASSERT_LOGGED (daemon, "replay cut short", replayed);
    client->close (1000, "stream ended");
    CPPUNIT_ASSERT (client->wait_closed (20000));
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, client->close_reason ()),
        1000, client->close_code ());
    /* live, reconnecting, live again. */
    auto texts = client->text_messages ();
    auto at = [&] (const std::string &needle, size_t from) {
      for (size_t i = from; i < texts.size (); i++)
        if (texts[i].find (needle) != std::string::npos)
          return i;
      return texts.size ();
    };
    size_t reconnecting = at ("\"state\":\"reconnecting\"", 0);
    size_t live_again = at ("\"type\":\"state\",\"state\":\"live\"",
        reconnecting);
    ASSERT_LOGGED (daemon, "not live again",
        live_again < texts.size ());
    CPPUNIT_ASSERT (daemon.wait_idle (20000));

    /* nginx restarted its recording on the new publish: from the first
     * keyframe after the loss to the end. */
    auto output = probe_streams (nginx.recording ("restart"));
    const StreamInfo *video = find_stream (output, "video");
    const StreamInfo *audio = find_stream (output, "audio");
    CPPUNIT_ASSERT (video && audio);
    CPPUNIT_ASSERT_EQUAL (std::string ("h264"), video->codec_name);
    CPPUNIT_ASSERT_EQUAL (std::string ("aac"), audio->codec_name);
    double total = (fixture.chunks ().back ().t_ms - t0) / 1000.0;
    char text[200];
    g_snprintf (text, sizeof text, "after restart: video %.2f s, audio %.2f s;"
        " %.2f s of input sent after the kill", video->duration (),
        audio->duration (), sent_s);
    printf ("  %s (input %.1f s)\n", text, total);
    ASSERT_LOGGED (daemon, text,
        video->duration () >= sent_s - 2.5 && video->duration () <= sent_s + 1.0);
    CPPUNIT_ASSERT_MESSAGE (text, std::fabs (audio->duration () -
            video->duration ()) < 0.5);
    CPPUNIT_ASSERT (daemon.log ().find ("RTMP reconnected") !=
        std::string::npos);
  }

  /* The server stays away longer than --rtmp-retry-time: 1011. */
  void testRtmpRetryGivesUp ()
  {
    TempDir dir;
    std::string nginx_dir = dir.file ("nginx");
    Nginx nginx (nginx_dir);
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--rtmp-retry-time", "3" });
    Fixture fixture ("chrome-vp8-opus-30s-250ms");
    auto client = WsClient::connect (daemon.ingest_url ("gone"));
    CPPUNIT_ASSERT (client);
    std::thread sender ([&] { client->replay (fixture, true); });
    Joiner join_sender (sender);
    CPPUNIT_ASSERT (client->wait_text ("\"state\":\"live\"", 10000));
    std::this_thread::sleep_for (std::chrono::seconds (2));
    kill_nginx (nginx_dir);
    auto start = std::chrono::steady_clock::now ();
    ASSERT_LOGGED (daemon, "not reconnecting",
        client->wait_text ("\"state\":\"reconnecting\"", 5000));
    ASSERT_LOGGED (daemon, "not closed", client->wait_closed (15000));
    double seconds = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - start).count ();
    sender.join ();
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, "code"), 1011,
        client->close_code ());
    CPPUNIT_ASSERT_EQUAL (std::string ("lost the connection to the RTMP "
            "server"), client->close_reason ());
    CPPUNIT_ASSERT_MESSAGE (std::to_string (seconds), seconds < 10.0);
    CPPUNIT_ASSERT (daemon.wait_idle (5000));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (WsrtmpdRtmpSideTest);
