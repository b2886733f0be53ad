/* wsrtmpd over many sessions: sequential connect/stream/disconnect cycles
 * (testEndurance: 60 in the suite, 1,000 from tests/service/soak.sh) and,
 * by hand only, the soak: many concurrent real-time streams for as long as
 * asked (testSoak, tests/service/soak.sh). Nothing may stay behind: memory,
 * fds, threads, failed sessions.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "service_checks.h"
#include "test_main.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace wsrtmp::test;

class WsrtmpdEnduranceTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdEnduranceTest);
  CPPUNIT_TEST (testEndurance);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* Sequential connect/stream/disconnect cycles: no leak of memory, fds or
   * threads, no failed session. WSRTMP_ENDURANCE_CYCLES sets the count
   * (tests/service/soak.sh runs 1,000). */
  void testEndurance ()
  {
    const char *env = g_getenv ("WSRTMP_ENDURANCE_CYCLES");
    int cycles = env ? atoi (env) : 60;
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url () });
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    /* About 3 s of the browser's H.264 (passed through), sent at once. */
    size_t chunks = write_prefix (fixture, 3000, dir.file ("prefix.mkv"));
    const int warmup = std::min (10, cycles / 4);
    ProcStats baseline, peak;
    auto start = std::chrono::steady_clock::now ();
    int failed = 0;
    std::string failures;
    for (int i = 0; i < cycles; i++) {
      if (i == warmup) {
        CPPUNIT_ASSERT (daemon.wait_idle (10000));
        baseline = proc_stats (daemon.pid ());
      }
      int code = raw_stream (daemon.port (), "cycle", fixture, 0, chunks);
      /* The server answers the close at once and finishes the stream
       * after: wait for that before the next cycle (same key). */
      if (!daemon.wait_idle (20000))
        code = -2;
      if (code != 1000) {
        failed++;
        failures += "cycle " + std::to_string (i) + ": " +
            std::to_string (code) + "\n";
      }
      ProcStats now = proc_stats (daemon.pid ());
      peak.rss_kb = std::max (peak.rss_kb, now.rss_kb);
      peak.fds = std::max (peak.fds, now.fds);
      peak.threads = std::max (peak.threads, now.threads);
    }
    CPPUNIT_ASSERT (daemon.wait_idle (10000));
    std::this_thread::sleep_for (std::chrono::seconds (2));
    ProcStats after = proc_stats (daemon.pid ());
    double seconds = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - start).count ();
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    printf ("  endurance: %d cycles in %.0f s, %d failed; after warm-up %s; "
        "end %s; peak %s\n", cycles, seconds, failed,
        stats_text (baseline).c_str (), stats_text (after).c_str (),
        stats_text (peak).c_str ());
    ASSERT_LOGGED (daemon, failures, failed == 0);
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_sessions_total{outcome=\"error\"} 0") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE (stats_text (after), after.fds <= baseline.fds);
    CPPUNIT_ASSERT_MESSAGE (stats_text (after),
        after.threads <= baseline.threads);
    CPPUNIT_ASSERT_MESSAGE (stats_text (after),
        !rss_meaningful () ||
        after.rss_kb - baseline.rss_kb < 10 * 1024);
    check_output (dir.file ("prefix.mkv"), nginx.recording ("cycle"),
        "last cycle");
  }
};

/* Hours long, so run only when asked for (tests/service/soak.sh): main
 * exits 77, which meson reports as a skip, when its variable is unset. */
class WsrtmpdSoakTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdSoakTest);
  CPPUNIT_TEST (testSoak);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* WSRTMP_SOAK_SECONDS of WSRTMP_SOAK_STREAMS (20)
   * concurrent real-time streams, each replaying a 30 s recording over and
   * over, with continuity and a recording beside RTMP. Run by
   * tests/service/soak.sh. */
  void testSoak ()
  {
    if (!g_getenv ("WSRTMP_SOAK_SECONDS"))
      skip_test_binary ("set WSRTMP_SOAK_SECONDS (tests/service/soak.sh "
          "does)");
    const int seconds = atoi (g_getenv ("WSRTMP_SOAK_SECONDS"));
    const char *streams_env = g_getenv ("WSRTMP_SOAK_STREAMS");
    const int streams = streams_env ? atoi (streams_env) : 20;
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    /* As an operator runs it: broadcasts that outlive their connections,
     * and a second destination (the recording) beside RTMP. */
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--record-dir",
        dir.file ("rec"), "--continuity-timeout", "30", "--max-sessions", "0",
        "--max-connections-per-ip", "0" });
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    auto until = std::chrono::steady_clock::now () +
        std::chrono::seconds (seconds);
    std::atomic<int> sessions { 0 }, failed { 0 };
    std::mutex lock;
    std::string failures;
    std::vector<std::thread> threads;
    for (int s = 0; s < streams; s++) {
      threads.emplace_back ([&, s] {
        /* Staggered so the streams do not all start at once. */
        std::this_thread::sleep_for (std::chrono::milliseconds (s * 1500));
        while (std::chrono::steady_clock::now () < until) {
          std::string key = "soak" + std::to_string (s);
          try {
            auto client = WsClient::connect (daemon.ingest_url (key));
            bool ok = client && client->replay (fixture, true);
            if (client) {
              client->close (1000, "stream ended");
              ok = client->wait_closed (20000) && ok &&
                  client->close_code () == 1000;
            }
            sessions++;
            if (!ok) {
              failed++;
              std::lock_guard<std::mutex> guard (lock);
              failures += key + ": " + (client ? client->close_reason () :
                  "no connection") + "\n";
            }
          } catch (const std::exception &e) {
            failed++;
            std::lock_guard<std::mutex> guard (lock);
            failures += key + ": " + e.what () + "\n";
          }
        }
      });
    }
    /* Baseline once every stream runs, then a sample a minute. */
    std::this_thread::sleep_for (std::chrono::seconds (
            std::min (seconds / 4, streams * 3 / 2 + 30)));
    ProcStats baseline = proc_stats (daemon.pid ()), last = baseline;
    ProcStats peak = baseline;
    printf ("  soak: %d streams, baseline %s\n", streams,
        stats_text (baseline).c_str ());
    while (std::chrono::steady_clock::now () < until) {
      std::this_thread::sleep_for (std::chrono::seconds (std::min (60,
                  seconds / 5 + 1)));
      last = proc_stats (daemon.pid ());
      peak.rss_kb = std::max (peak.rss_kb, last.rss_kb);
      peak.fds = std::max (peak.fds, last.fds);
      peak.threads = std::max (peak.threads, last.threads);
      printf ("  soak: %s\n", stats_text (last).c_str ());
      fflush (stdout);
    }
    for (auto &thread : threads)
      thread.join ();
    CPPUNIT_ASSERT (daemon.wait_idle (30000));
    std::this_thread::sleep_for (std::chrono::seconds (2));
    ProcStats idle = proc_stats (daemon.pid ());
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    printf ("  soak: %d s, %d streams, %d sessions, %d failed; baseline %s, "
        "last under load %s, peak %s, idle after %s\n", seconds, streams,
        sessions.load (), failed.load (), stats_text (baseline).c_str (),
        stats_text (last).c_str (), stats_text (peak).c_str (),
        stats_text (idle).c_str ());
    CPPUNIT_ASSERT_MESSAGE (failures, failed == 0);
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_sessions_total{outcome=\"error\"} 0") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE (stats_text (last),
        !rss_meaningful () ||
        last.rss_kb - baseline.rss_kb < 10 * 1024);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (WsrtmpdEnduranceTest);
CPPUNIT_TEST_SUITE_NAMED_REGISTRATION (WsrtmpdSoakTest, BY_HAND_REGISTRY);
