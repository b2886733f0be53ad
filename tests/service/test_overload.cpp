/* The overload guard (issue 30), with real parts: wsrtmpd, our own
 * nginx-rtmp, a WebSocket client streaming the page's WebCodecs recording.
 * The daemon is made to run behind real time deterministically: the
 * client sends at half speed for a while, so the broadcast's output falls
 * behind the clock as it would on an overloaded machine, then catches up.
 * While behind, a new key is refused with the retryable kind "capacity"
 * and /healthz says "full"; the live broadcast goes on (one publish,
 * nginx keeps receiving); once it caught up, a new key is admitted.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "rawws.h"
#include "service_checks.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>

#include <glib/gstdio.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

using namespace wsrtmp::test;

namespace {

using Clock = std::chrono::steady_clock;

/* Sends a recording's chunks: in real time for the first second of media,
 * then at half speed (the output falls behind by half a second every
 * second) until catch_up is set, then every chunk that is due at once and
 * the rest in real time again, until stop is set or the chunks run out. */
class SlowThenCatchUp {
 public:
  SlowThenCatchUp (WsClient &client, const Fixture &fixture)
      : thread_ ([this, &client, &fixture] { run (client, fixture); }) {}
  ~SlowThenCatchUp () { stop_ = true; thread_.join (); }
  void catch_up () { catch_up_ = true; }
  void stop () { stop_ = true; }
  bool slowed () const { return slowed_; }

 private:
  void run (WsClient &client, const Fixture &fixture)
  {
    const auto &chunks = fixture.chunks ();
    const double t0 = chunks[0].t_ms;
    const auto start = Clock::now ();
    double due_ms = 0;
    for (size_t i = 0; i < chunks.size () && !stop_; i++) {
      const double media_ms = chunks[i].t_ms - t0;
      const double step = i ? chunks[i].t_ms - chunks[i - 1].t_ms : 0;
      if (catch_up_)
        due_ms = media_ms;
      else if (media_ms >= 1000) {
        due_ms += 2 * step;
        slowed_ = true;
      } else {
        due_ms += step;
      }
      std::this_thread::sleep_until (start + std::chrono::microseconds (
              gint64 (due_ms * 1000)));
      client.send_binary (chunks[i].bytes);
    }
  }

  std::atomic<bool> catch_up_ { false };
  std::atomic<bool> stop_ { false };
  std::atomic<bool> slowed_ { false };
  std::thread thread_;
};

/* Polls /healthz until its status is status, up to timeout_ms. */
bool
wait_healthz (const Daemon &daemon, const std::string &status,
    int timeout_ms)
{
  const std::string needle = "\"status\":\"" + status + "\"";
  auto until = Clock::now () + std::chrono::milliseconds (timeout_ms);
  while (Clock::now () < until) {
    if (http_get (daemon.http_url () + "healthz").body.find (needle) !=
        std::string::npos)
      return true;
    std::this_thread::sleep_for (std::chrono::milliseconds (200));
  }
  return false;
}

gint64
file_size (const std::string &path)
{
  GStatBuf info;
  return g_stat (path.c_str (), &info) == 0 ? gint64 (info.st_size) : -1;
}

}  // namespace

class OverloadTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (OverloadTest);
  CPPUNIT_TEST (testRefusesWhileBehind);
  CPPUNIT_TEST_SUITE_END ();

 public:
  void testRefusesWhileBehind ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    /* The CPU is not watched: this machine is shared with other tests. */
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--overload-delay-ms",
        "300", "--overload-cpu-percent", "0", "--overload-machine-percent",
        "0" });
    CPPUNIT_ASSERT (wait_healthz (daemon, "ok", 2000));
    Fixture fixture ("chrome-webcodecs-h264-opus-20s");

    auto live = WsClient::connect (daemon.ingest_url ("live"));
    CPPUNIT_ASSERT (live);
    auto sender = std::make_unique<SlowThenCatchUp> (*live, fixture);

    /* One broadcast behind alone is its streamer's uplink, not the
     * machine: still "ok" 2.5 s into the slow part (1.25 s behind). */
    auto until = Clock::now () + std::chrono::seconds (5);
    while (!sender->slowed () && Clock::now () < until)
      std::this_thread::sleep_for (std::chrono::milliseconds (50));
    CPPUNIT_ASSERT (sender->slowed ());
    std::this_thread::sleep_for (std::chrono::milliseconds (2500));
    ASSERT_LOGGED (daemon, "full with one broadcast behind",
        wait_healthz (daemon, "ok", 500));

    /* A second one behind: the machine's. Behind by 300 ms about 0.6 s
     * into its slow part, seen within the next one-second sample. */
    auto live2 = WsClient::connect (daemon.ingest_url ("live2"));
    CPPUNIT_ASSERT (live2);
    auto sender2 = std::make_unique<SlowThenCatchUp> (*live2, fixture);
    ASSERT_LOGGED (daemon, "never full while behind",
        wait_healthz (daemon, "full", 8000 * timing_scale ()));
    CPPUNIT_ASSERT (sender2->slowed ());
    ASSERT_LOGGED (daemon, "no log line",
        daemon.log ().find ("overload guard on") != std::string::npos);
    const HttpResponse health = http_get (daemon.http_url () + "healthz");
    CPPUNIT_ASSERT_EQUAL (503, health.status);
    /* The fields it always has are still there. */
    CPPUNIT_ASSERT_MESSAGE (health.body,
        health.body.find ("\"broadcasts_active\":2") != std::string::npos &&
        health.body.find ("\"max_sessions\":0") != std::string::npos);

    RawClose refused = raw_ws_until_close (daemon.ingest_url ("newcomer"),
        5000);
    CPPUNIT_ASSERT_EQUAL (1013, refused.code);
    CPPUNIT_ASSERT_MESSAGE (refused.reason, !refused.texts.empty () &&
        refused.texts[0].find ("\"kind\":\"capacity\"") != std::string::npos);
    const std::string metrics = http_get (daemon.http_url () + "metrics").body;
    CPPUNIT_ASSERT_EQUAL (1.0, metric (metrics, "wsrtmp_overloaded"));
    CPPUNIT_ASSERT_EQUAL (1.0, metric (metrics,
            "wsrtmp_overload_refused_total"));
    CPPUNIT_ASSERT (metric (metrics, "wsrtmp_output_delay_ms") >= 300);

    /* The live broadcast goes on meanwhile. */
    const gint64 before = file_size (nginx.recording ("live"));
    std::this_thread::sleep_for (std::chrono::milliseconds (1500));
    ASSERT_LOGGED (daemon, "nginx received nothing while full",
        file_size (nginx.recording ("live")) > before && before > 0);
    CPPUNIT_ASSERT (!live->is_closed ());

    /* Caught up: room again after three calm samples. */
    sender->catch_up ();
    sender2->catch_up ();
    ASSERT_LOGGED (daemon, "never ok again",
        wait_healthz (daemon, "ok", 10000 * timing_scale ()));
    ASSERT_LOGGED (daemon, "no log line",
        daemon.log ().find ("overload guard off") != std::string::npos);
    auto next = WsClient::connect (daemon.ingest_url ("next"));
    CPPUNIT_ASSERT (next);
    CPPUNIT_ASSERT (next->wait_text ("\"type\":\"welcome\"", 5000));
    next->send_binary (fixture.chunks ()[0].bytes);
    std::this_thread::sleep_for (std::chrono::milliseconds (300));
    CPPUNIT_ASSERT (!next->is_closed ());

    sender.reset ();
    sender2.reset ();
    CPPUNIT_ASSERT (!live->is_closed ());
    live->close ();
    live2->close ();
    next->close ();
    CPPUNIT_ASSERT (live->wait_closed (10000));
    CPPUNIT_ASSERT (daemon.wait_idle (15000));
    /* One publish: never dropped, never reconnected. */
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("live"));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (OverloadTest);
