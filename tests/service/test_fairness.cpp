/* The main loop every client of wsrtmpd shares, read fairly: one client
 * that keeps its socket full must not stop the server answering, nor
 * another client's real-time stream. Measures how long the server takes
 * to answer, so it runs alone (tests/service/meson.build).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "rawws.h"
#include "service_checks.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

using namespace wsrtmp::test;

class WsrtmpdFairnessTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdFairnessTest);
  CPPUNIT_TEST (testFloodIsReadFairly);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* A client that keeps its socket full (a whole stream cut into one-byte
   * messages, sent as fast as the server reads) must not hold the main
   * loop every client shares: while it is read, the server answers and
   * another client's real-time stream goes on. Both streams arrive whole. */
  void testFloodIsReadFairly ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--max-connections-per-ip",
        "0" });
    const int port = daemon.port ();
    Fixture fixture ("chrome-vp8-opus-250ms");

    std::string good_error;
    int good_code = 0;
    std::thread good ([&] {
      try {
        good_code = stream_fixture (daemon, fixture, "steady", true)->
            close_code ();
      } catch (const std::exception &e) {
        good_error = e.what ();
      }
    });
    Joiner join_good (good);
    std::this_thread::sleep_for (std::chrono::seconds (1));

    std::atomic<bool> flooding { true };
    int flood_code = -1;
    double flood_s = 0;
    std::thread flooder ([&] {
      auto start = std::chrono::steady_clock::now ();
      try {
        RawWs raw (port);
        if (raw.handshake ("/ingest/flood")) {
          raw.write (one_byte_frames (fixture));
          flood_code = raw.read_close (60 * timing_scale ());
        }
      } catch (const std::exception &) {
      }
      flood_s = std::chrono::duration<double> (
          std::chrono::steady_clock::now () - start).count ();
      flooding = false;
    });
    Joiner join_flooder (flooder);

    /* How long the server takes to answer while the flood is read. */
    double worst_s = 0;
    int probes = 0;
    std::string probe_failures;
    while (flooding) {
      auto start = std::chrono::steady_clock::now ();
      auto [status, response] = raw_http (port, "/healthz");
      double took = std::chrono::duration<double> (
          std::chrono::steady_clock::now () - start).count ();
      if (status != 200)
        probe_failures += "healthz " + std::to_string (status) + " after " +
            std::to_string (took) + " s\n";
      worst_s = std::max (worst_s, took);
      probes++;
      std::this_thread::sleep_for (std::chrono::milliseconds (20));
    }
    flooder.join ();
    good.join ();
    printf ("\n  flood of %zu one-byte messages read in %.1f s; %d healthz "
        "probes meanwhile, slowest %.0f ms\n", g_bytes_get_size (fixture.joined ()),
        flood_s, probes, worst_s * 1000);
    ASSERT_LOGGED (daemon, probe_failures, probe_failures.empty ());
    CPPUNIT_ASSERT_EQUAL (1000, flood_code);
    CPPUNIT_ASSERT_MESSAGE (good_error, good_error.empty ());
    CPPUNIT_ASSERT_EQUAL (1000, good_code);
    /* Without fair reading the server did not answer for seconds. */
    char text[120];
    g_snprintf (text, sizeof text, "the server took %.0f ms to answer while "
        "one client flooded it", worst_s * 1000);
    ASSERT_LOGGED (daemon, text, worst_s < 0.5 * timing_scale ());
    CPPUNIT_ASSERT (daemon.wait_idle (20000));
    check_output (fixture.joined_path (), nginx.recording ("steady"),
        "real-time stream beside the flood");
    check_output (fixture.joined_path (), nginx.recording ("flood"),
        "one-byte flood");
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (WsrtmpdFairnessTest);
