/* An operator's day in a minute: hundreds of short broadcasts through one
 * daemon, every way a broadcast can end, and nothing of them may stay:
 * no GstObject at exit (the daemon's leaks tracer, tests/support/harness),
 * memory flat from the first half to the second, file descriptors and threads
 * back, no broadcast left.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>
#include <glib/gstdio.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace wsrtmp::test;

namespace {

/* Broadcasts each half runs, 8 at a time (the measurement). */
constexpr int HALF = 200;
constexpr int WORKERS = 8;
/* How much memory may grow from the first half's end to the second's. The
 * daemon's anonymous memory (its heap) is what is judged: PSS also holds a
 * share of the shared libraries, which moves by megabytes as other
 * processes on the machine map and unmap them. */
constexpr long MEMORY_SLACK_KB = 2 * 1024;

enum class Ending {
  Close,          /* the streamer's Stop: close 1000 */
  DropResume,     /* TCP reset, the same key again, then Stop */
  Takeover,       /* a second tab with the same key, then Stop */
  RefusedKey,     /* not an allowed key: refused at the door */
  FailingOutput,  /* one of two destinations refuses the publish */
};
constexpr Ending ENDINGS[] = { Ending::Close, Ending::DropResume,
    Ending::Takeover, Ending::RefusedKey, Ending::FailingOutput };

const char *
ending_name (Ending ending)
{
  switch (ending) {
    case Ending::Close: return "close";
    case Ending::DropResume: return "drop+resume";
    case Ending::Takeover: return "takeover";
    case Ending::RefusedKey: return "refused key";
    case Ending::FailingOutput: return "failing destination";
  }
  return "?";
}

class ChurnTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (ChurnTest);
  CPPUNIT_TEST (testNothingOfABroadcastStays);
  CPPUNIT_TEST_SUITE_END ();

 public:
  void setUp () override
  {
    fixture_ = std::make_unique<Fixture> ("chrome-h264-opus-kf2s-30s-250ms");
    /* The recording's first 2 s (a keyframe, then 2 s of Chromium's
     * H.264 + Opus), sent at 4 times the browser's pace. */
    while (piece_ < fixture_->chunks ().size () &&
        fixture_->chunks ()[piece_].t_ms < 2000)
      piece_++;
  }
  void tearDown () override { fixture_.reset (); }

  void testNothingOfABroadcastStays ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    std::string keys = dir.file ("keys");
    std::string streams = dir.file ("streams");
    std::string allowed;
    for (int w = 0; w < WORKERS; w++)
      allowed += "churn" + std::to_string (w) + "\n";
    CPPUNIT_ASSERT (g_file_set_contents (keys.c_str (), allowed.c_str (), -1,
            nullptr));
    /* Each worker's "out" key goes to nginx and to an application nginx
     * does not have: that destination is refused at every publish. */
    std::string groups;
    for (int w = 0; w < WORKERS; w++)
      groups += "[out" + std::to_string (w) + "]\ndestinations = " +
          nginx.url () + "/out" + std::to_string (w) + ";" +
          nginx.url ().substr (0, nginx.url ().rfind ('/')) + "/nowhere/x\n" +
          "names = nginx;nowhere\n";
    CPPUNIT_ASSERT (g_file_set_contents (streams.c_str (), groups.c_str (),
            -1, nullptr));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--keys-file", keys,
        "--streams-file", streams, "--continuity-timeout", "10",
        "--rtmp-retry-time", "1", "--max-sessions", "0",
        "--max-connections-per-ip", "0" });

    ProcStats start = proc_stats (daemon.pid ());
    run_half (daemon, 0);
    ProcStats first = settled (daemon);
    run_half (daemon, HALF);
    ProcStats second = settled (daemon);
    /* By hand, for the README's figures: WSRTMP_CHURN_HALVES=10 runs 2,000
     * broadcasts, the PSS printed after every 200. */
    const char *halves = g_getenv ("WSRTMP_CHURN_HALVES");
    for (int h = 2; halves && h < atoi (halves); h++) {
      ProcStats now = settled (daemon);
      printf ("  churn: after %d broadcasts PSS %ld kB, anonymous %ld kB\n",
          h * HALF, now.pss_kb, now.anonymous_kb);
      fflush (stdout);
      run_half (daemon, h * HALF);
    }
    ProcStats last = halves ? settled (daemon) : second;

    char text[400];
    g_snprintf (text, sizeof text, "PSS (anonymous) at start %ld (%ld) kB, "
        "after %d broadcasts %ld (%ld) kB, after %d %ld (%ld) kB, at the end "
        "%ld (%ld) kB; fds %d / %d / %d, threads %d / %d / %d", start.pss_kb,
        start.anonymous_kb, HALF, first.pss_kb, first.anonymous_kb, 2 * HALF,
        second.pss_kb, second.anonymous_kb, last.pss_kb, last.anonymous_kb,
        start.fds, first.fds, last.fds, start.threads, first.threads,
        last.threads);
    printf ("  churn: %s\n", text);
    {
      std::lock_guard<std::mutex> guard (lock_);
      ASSERT_LOGGED (daemon, failures_, failures_.empty ());
    }
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    ASSERT_LOGGED (daemon, metrics.body,
        metric (metrics.body, "wsrtmp_broadcasts_active") == 0 &&
        metric (metrics.body, "wsrtmp_sessions_active") == 0);
    ASSERT_LOGGED (daemon, text, last.fds <= first.fds &&
        last.threads <= first.threads);
    if (!g_getenv ("WSRTMP_SANITIZED"))
      ASSERT_LOGGED (daemon, text,
          second.anonymous_kb - first.anonymous_kb <= MEMORY_SLACK_KB &&
          last.anonymous_kb - first.anonymous_kb <= MEMORY_SLACK_KB);
    /* Ends GStreamer in the daemon: an element, pad or bus of any of these
     * broadcasts still alive fails this test (with its type and name). */
    CPPUNIT_ASSERT_EQUAL (0, daemon.terminate (30000));
  }

 private:
  /* HALF broadcasts, WORKERS at a time, the endings in turn. */
  void run_half (Daemon &daemon, int first_index)
  {
    std::atomic<int> next { first_index };
    std::vector<std::thread> workers;
    for (int w = 0; w < WORKERS; w++) {
      workers.emplace_back ([&, w] {
        for (int i = next++; i < first_index + HALF; i = next++)
          run_one (daemon, w, ENDINGS[i % G_N_ELEMENTS (ENDINGS)]);
      });
    }
    for (auto &worker : workers)
      worker.join ();
  }

  /* The daemon once every broadcast is gone and what the broadcasts freed
   * went back (its malloc_trim runs MEMORY_TRIM_DELAY_S, 5 s, after the
   * last one ended). */
  ProcStats settled (Daemon &daemon)
  {
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (60000));
    std::this_thread::sleep_for (std::chrono::seconds (7));
    return proc_stats (daemon.pid ());
  }

  void send_piece (WsClient &client, size_t first, size_t last)
  {
    auto start = std::chrono::steady_clock::now ();
    double t0 = fixture_->chunks ()[first].t_ms;
    for (size_t i = first; i < last; i++) {
      std::this_thread::sleep_until (start + std::chrono::microseconds (
              static_cast<gint64> ((fixture_->chunks ()[i].t_ms - t0) *
                  1000 / 4)));
      client.send_binary (fixture_->chunks ()[i].bytes);
    }
  }

  /* Stop: every byte delivered, the server answers 1000. */
  bool stop (WsClient &client, std::string &why)
  {
    client.close (1000, "stop");
    if (!client.wait_closed (30000)) {
      why = "no close within 30 s";
      return false;
    }
    if (client.close_code () != 1000) {
      why = "closed " + std::to_string (client.close_code ()) + " " +
          client.close_reason ();
      return false;
    }
    return true;
  }

  void run_one (Daemon &daemon, int worker, Ending ending)
  {
    std::string why;
    bool ok = false;
    const std::string key = (ending == Ending::FailingOutput ? "out" :
        "churn") + std::to_string (worker);
    try {
      switch (ending) {
        case Ending::Close:
        case Ending::FailingOutput: {
          auto client = WsClient::connect (daemon.ingest_url (key), &why);
          if (!client)
            break;
          send_piece (*client, 0, piece_);
          ok = stop (*client, why);
          break;
        }
        case Ending::DropResume: {
          auto first = WsClient::connect (daemon.ingest_url (key), &why);
          if (!first)
            break;
          send_piece (*first, 0, piece_ / 2);
          /* Generous: the churn judges what stays, not speed (a loaded
           * machine, a daemon under heaptrack). */
          if (!first->wait_text ("\"state\":\"live\"", 30000)) {
            why = "first connection never live";
            break;
          }
          first->abort ();
          auto second = WsClient::connect (daemon.ingest_url (key), &why);
          if (!second)
            break;
          send_piece (*second, 0, piece_);
          ok = stop (*second, why);
          break;
        }
        case Ending::Takeover: {
          auto first = WsClient::connect (daemon.ingest_url (key), &why);
          if (!first)
            break;
          send_piece (*first, 0, piece_ / 2);
          auto second = WsClient::connect (daemon.ingest_url (key), &why);
          if (!second)
            break;
          if (!first->wait_closed (10000) || first->close_code () != 1008) {
            why = "the first tab was not replaced (" +
                std::to_string (first->close_code ()) + ")";
            break;
          }
          send_piece (*second, 0, piece_);
          ok = stop (*second, why);
          break;
        }
        case Ending::RefusedKey: {
          auto client = WsClient::connect (daemon.ingest_url (
                  "stranger" + std::to_string (worker)), &why);
          if (!client)
            break;
          ok = client->wait_closed (10000) && client->close_code () == 1008;
          if (!ok)
            why = "not refused: " + std::to_string (client->close_code ());
          break;
        }
      }
    } catch (const std::exception &e) {
      why = e.what ();
    }
    if (!ok) {
      std::lock_guard<std::mutex> guard (lock_);
      failures_ += std::string (ending_name (ending)) + " (" + key + "): " +
          why + "\n";
    }
  }

  std::unique_ptr<Fixture> fixture_;
  size_t piece_ = 0;
  std::mutex lock_;
  std::string failures_;        /* guarded by lock_ */
};

CPPUNIT_TEST_SUITE_REGISTRATION (ChurnTest);

}  // namespace
