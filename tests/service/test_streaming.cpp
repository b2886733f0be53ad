/* wsrtmpd streaming end to end: the real daemon, a real WebSocket client
 * replaying browser recordings, a real nginx-rtmp, ffprobe on what nginx
 * recorded. One stream in real time, several at once, a key taken over,
 * recording only, SIGTERM mid-stream, many streams ending together, wss://.
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
#include <stdexcept>
#include <thread>

using namespace wsrtmp::test;

class WsrtmpdStreamingTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdStreamingTest);
  CPPUNIT_TEST (testRealtimeChromeVp8ToRtmp);
  CPPUNIT_TEST (testFourConcurrentClients);
  CPPUNIT_TEST (testSameKeyTakesOver);
  CPPUNIT_TEST (testRecordingOnlyDefault);
  CPPUNIT_TEST (testGracefulShutdown);
  CPPUNIT_TEST (testTlsStream);
  CPPUNIT_TEST (testManyStreamsEndAtOnce);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* The main job, at the browser's pace: nginx gets all of it, in time. */
  void testRealtimeChromeVp8ToRtmp ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--framerate", "24",
        "--audio-channels", "1" });
    Fixture fixture ("chrome-vp8-opus-250ms");

    auto client = stream_fixture (daemon, fixture, "chromevp8", true);
    /* Media does not compress: the browser's permessage-deflate offer is
     * declined. */
    CPPUNIT_ASSERT_EQUAL ((size_t) 0, client->extensions ().size ());
    ASSERT_LOGGED (daemon, "no live state",
        has_text (*client, "\"state\":\"live\""));
    CPPUNIT_ASSERT_MESSAGE ("no stats", has_text (*client, "\"type\":\"stats\""));
    CPPUNIT_ASSERT (has_text (*client, "\"output\":\"transcode\""));
    CPPUNIT_ASSERT_EQUAL (1000, client->close_code ());
    ASSERT_LOGGED (daemon, "never idle",
        daemon.wait_idle (20000));
    check_output (fixture.joined_path (), nginx.recording ("chromevp8"),
        "chrome vp8");
    /* --framerate: a constant 24 fps whatever the camera gave. */
    auto output = probe_streams (nginx.recording ("chromevp8"));
    const StreamInfo *video = find_stream (output, "video");
    double fps = (video->packets - 1) / video->duration ();
    CPPUNIT_ASSERT_MESSAGE (std::to_string (fps), std::fabs (fps - 24) < 0.5);
    /* --audio-channels 1: the microphone's mono stays mono. */
    const StreamInfo *audio = find_stream (output, "audio");
    CPPUNIT_ASSERT_EQUAL (1, audio->channels);

    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_sessions_total{outcome=\"ended\"} 1") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_bytes_in_total " + std::to_string (g_bytes_get_size (
                    fixture.joined ()))) != std::string::npos);
    CPPUNIT_ASSERT_EQUAL (0, daemon.terminate (10000));
  }

  /* Different browsers and codecs at once, each at its own pace. */
  void testFourConcurrentClients ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url () });
    const std::vector<std::pair<std::string, std::string>> streams = {
      { "chrome-vp8-opus-250ms", "c1" }, { "firefox-vp8-opus-250ms", "c2" },
      { "chrome-h264-opus-kf2s-30s-250ms", "c3" }, { "chrome-vp8-videoonly-250ms", "c4" },
    };
    std::vector<std::unique_ptr<Fixture>> fixtures;
    for (const auto &[name, key] : streams)
      fixtures.push_back (std::make_unique<Fixture> (name));

    std::vector<std::string> failures (streams.size ());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < streams.size (); i++) {
      threads.emplace_back ([&, i] {
        try {
          auto client = stream_fixture (daemon, *fixtures[i],
              streams[i].second, true);
          if (client->close_code () != 1000)
            failures[i] = "close code " + std::to_string (client->close_code ());
        } catch (const std::exception &e) {
          failures[i] = e.what ();
        }
      });
    }
    for (auto &thread : threads)
      thread.join ();
    for (size_t i = 0; i < streams.size (); i++)
      CPPUNIT_ASSERT_MESSAGE (streams[i].first + ": " + failures[i],
          failures[i].empty ());
    ASSERT_LOGGED (daemon, "never idle",
        daemon.wait_idle (30000));
    for (size_t i = 0; i < streams.size (); i++)
      check_output (fixtures[i]->joined_path (),
          nginx.recording (streams[i].second), streams[i].first);
  }

  /* One stream per key: a newer connection (a page reconnecting after a
   * network drop, a second tab) takes over from the live one, which is
   * told why; the newer one starts once the older has left the RTMP
   * server, which would refuse a second publish under the same name. */
  void testSameKeyTakesOver ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url () });
    Fixture fixture ("chrome-vp8-opus-250ms");

    auto first = WsClient::connect (daemon.ingest_url ("samekey"));
    CPPUNIT_ASSERT (first);
    bool first_completed = true;
    std::thread first_sender ([&] {
      first_completed = first->replay (fixture, true);
    });
    /* Joined however the assertions below end. */
    Joiner joiner (first_sender);
    CPPUNIT_ASSERT (first->wait_text ("\"state\":\"live\"", 10000));
    auto second = stream_fixture (daemon, fixture, "samekey", true);
    first_sender.join ();
    CPPUNIT_ASSERT_MESSAGE ("the older connection was never closed",
        first->wait_closed (5000) && !first_completed);
    CPPUNIT_ASSERT_EQUAL (1008, first->close_code ());
    CPPUNIT_ASSERT_MESSAGE (first->close_reason (),
        first->close_reason ().find ("replaced") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, second->close_reason ()),
        1000, second->close_code ());
    ASSERT_LOGGED (daemon, "the newer session did not wait",
        daemon.log ().find ("waiting for the previous broadcast") !=
        std::string::npos);
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));
    check_output (fixture.joined_path (), nginx.recording ("samekey"),
        "newer connection");

    /* Straight back after a normal end: no refusal by the RTMP server. */
    for (int round = 0; round < 3; round++) {
      auto again = stream_fixture (daemon, fixture, "samekey", false);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, again->close_reason ()),
          1000, again->close_code ());
    }
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));
    check_output (fixture.joined_path (), nginx.recording ("samekey"),
        "reconnected at once");
  }

  /* Nothing configured: each stream lands in ./recordings, as MP4 in one
   * segment of up to an hour (KEY-START-1.mp4). */
  void testRecordingOnlyDefault ()
  {
    TempDir dir;
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    {
      Daemon daemon ({}, dir.path ());
      auto client = stream_fixture (daemon, fixture, "local_only", false);
      ASSERT_LOGGED (daemon, "never idle",
          daemon.wait_idle (30000));
    }
    g_autoptr (GDir) recordings = g_dir_open (dir.file ("recordings").c_str (),
        0, nullptr);
    CPPUNIT_ASSERT_MESSAGE ("no ./recordings", recordings);
    const char *name = g_dir_read_name (recordings);
    CPPUNIT_ASSERT (name);
    std::string file = name;
    CPPUNIT_ASSERT_MESSAGE (file, g_str_has_prefix (name, "local_only-") &&
        g_str_has_suffix (name, "Z-1.mp4"));
    check_output (fixture.joined_path (), dir.file ("recordings/" + file),
        "recording");
  }

  /* SIGTERM mid-stream: what was sent is delivered, files are complete. */
  void testGracefulShutdown ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--record-dir",
        dir.file ("rec") });
    Fixture fixture ("chrome-vp8-opus-250ms");
    /* Chunks emitted in the first 4 s, as the browser would send them. */
    std::string sent_path = dir.file ("sent.webm");
    size_t count = write_prefix (fixture, 4000, sent_path);
    auto client = WsClient::connect (daemon.ingest_url ("graceful"));
    CPPUNIT_ASSERT (client);
    auto start = std::chrono::steady_clock::now ();
    double t0 = fixture.chunks ().front ().t_ms;
    for (size_t i = 0; i < count; i++) {
      std::this_thread::sleep_until (start + std::chrono::milliseconds (
              static_cast<int> (fixture.chunks ()[i].t_ms - t0)));
      client->send_binary (fixture.chunks ()[i].bytes);
    }
    CPPUNIT_ASSERT (client->wait_text ("\"state\":\"live\"", 5000));
    /* Let the last message arrive before the signal (loopback: plenty). */
    std::this_thread::sleep_for (std::chrono::milliseconds (500));

    int status = daemon.terminate (15000);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, "exit status"), 0, status);
    CPPUNIT_ASSERT (client->wait_closed (5000));
    CPPUNIT_ASSERT_EQUAL (1001, client->close_code ());

    check_output (sent_path, nginx.recording ("graceful"), "shutdown rtmp");
    g_autoptr (GDir) recordings = g_dir_open (dir.file ("rec").c_str (), 0,
        nullptr);
    CPPUNIT_ASSERT (recordings);
    const char *name = g_dir_read_name (recordings);
    CPPUNIT_ASSERT (name);
    check_output (sent_path, dir.file (std::string ("rec/") + name),
        "shutdown recording");
  }

  /* wss:// with --tls-cert/--tls-key: a stream sent as fast as the socket
   * takes it (so reads stop at the per-turn budget) arrives whole and ends
   * with 1000; plain ws:// gets no WebSocket. */
  void testTlsStream ()
  {
    TempDir dir;
    generate_certificate (dir.path ());
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--tls-cert",
        dir.file ("cert.pem"), "--tls-key", dir.file ("key.pem") });
    CPPUNIT_ASSERT_MESSAGE (daemon.http_url (),
        g_str_has_prefix (daemon.http_url ().c_str (), "https://"));
    Fixture fixture ("chrome-vp8-opus-250ms");

    std::string plain = daemon.ingest_url ("tls");
    plain.replace (0, 3, "ws");
    CPPUNIT_ASSERT (!WsClient::connect (plain));

    g_autoptr (GError) error = nullptr;
    g_autoptr (GTlsCertificate) certificate = g_tls_certificate_new_from_file (
        dir.file ("cert.pem").c_str (), &error);
    CPPUNIT_ASSERT_MESSAGE (error ? error->message : "", certificate);
    WsClient::Options options;
    options.trusted_ca = certificate;
    auto client = stream_fixture (daemon, fixture, "tls", false, options);
    CPPUNIT_ASSERT_EQUAL (1000, client->close_code ());
    CPPUNIT_ASSERT (daemon.wait_idle (20000));
    check_output (fixture.joined_path (), nginx.recording ("tls"), "wss");
  }

  /* Many streams ending at the same moment: their pipelines stop side by
   * side (off the main loop), and every one arrives whole in nginx,
   * published once (a teardown mistaken for a lost connection would
   * publish again; a session finished before its pipeline was down would
   * cut the end). */
  void testManyStreamsEndAtOnce ()
  {
    const int streams = g_getenv ("WSRTMP_SANITIZED") ? 8 : 16;
    TempDir dir;
    std::string nginx_dir = dir.file ("nginx");
    Nginx nginx (nginx_dir);
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--max-sessions", "0",
        "--max-connections-per-ip", "0" });
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    /* About 4 s of the browser's H.264 (passed through) each. */
    size_t chunks = write_prefix (fixture, 4000, dir.file ("prefix.mkv"));
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < streams; i++) {
      std::string error;
      auto client = WsClient::connect (daemon.ingest_url (
              "atonce" + std::to_string (i)), &error);
      CPPUNIT_ASSERT_MESSAGE (context (daemon, "connect: " + error), client);
      for (size_t c = 0; c < chunks; c++)
        client->send_binary (fixture.chunks ()[c].bytes);
      clients.push_back (std::move (client));
    }
    for (int i = 0; i < streams; i++)
      ASSERT_LOGGED (daemon, "stream " + std::to_string (i) + " not live",
          clients[i]->wait_text ("\"state\":\"live\"", 30000 *
              timing_scale ()));
    /* All at once; libsoup sends each close after the queued data. */
    for (auto &client : clients)
      client->close (1000, "stream ended");
    for (int i = 0; i < streams; i++) {
      ASSERT_LOGGED (daemon, "stream " + std::to_string (i) + " not closed",
          clients[i]->wait_closed (60000 * timing_scale ()));
      CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, "stream " +
              std::to_string (i) + ": " + clients[i]->close_reason ()), 1000,
          clients[i]->close_code ());
    }
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (60000));
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_sessions_total{outcome=\"ended\"} " +
            std::to_string (streams)) != std::string::npos);
    for (int i = 0; i < streams; i++) {
      std::string key = "atonce" + std::to_string (i);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, key + " publishes"), 1,
          nginx.publishes (key));
      check_output (dir.file ("prefix.mkv"), nginx.recording (key), key);
    }
    CPPUNIT_ASSERT_EQUAL (0, daemon.terminate (10000));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (WsrtmpdStreamingTest);
