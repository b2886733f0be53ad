/* Three wsrtmpd daemons behind deploy/nginx/nginx.conf (its ports, paths
 * and test certificate substituted by render-nginx-conf.py), one nginx-rtmp
 * as the RTMP destination, browser recordings replayed at their own pace
 * over wss:// through nginx, ffprobe on what nginx-rtmp recorded. Which
 * daemon served a key is read from the daemons' logs ("session N [abc***]
 * from …: connected", keys masked to their first three characters, so
 * every key here has its own three).
 *
 * One test on purpose: the phases share one cluster (starting it costs
 * more than a phase) and each builds on what the one before saw.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "rawws.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <glib/gstdio.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

using namespace wsrtmp::test;

namespace {

constexpr int DAEMONS = 3;
constexpr int STREAMS = 24;
/* Recorded and sent durations agree this well in the service tests;
 * a little more here, for nginx and two dozen streams on two cores. */
constexpr double DURATION_TOLERANCE_S = 0.25;
/* H.264 with a keyframe every 2 s: passed through, so two dozen streams
 * cost little (the other H.264 recording's 4 s GOP would be transcoded).
 * Its first 8 s make a whole stream here. */
const char *const FIXTURE = "chrome-h264-opus-kf2s-30s-250ms";
constexpr double WHOLE_MS = 8000;

using Clock = std::chrono::steady_clock;

void
sleep_ms (int ms)
{
  std::this_thread::sleep_for (std::chrono::milliseconds (ms));
}

/* Our own nginx running deploy/nginx/nginx.conf in front of the daemons. */
class Balancer {
 public:
  Balancer (const std::string &dir, const std::vector<int> &daemon_ports)
      : dir_ (dir)
  {
    generate_certificate (dir_);
    g_autoptr (GError) error = nullptr;
    certificate_ = g_tls_certificate_new_from_file ((dir_ + "/cert.pem").c_str (),
        &error);
    if (!certificate_)
      throw std::runtime_error ("test certificate: " +
          std::string (error->message));
    std::string out, err;
    for (int attempt = 0; attempt < 5; attempt++) {
      https_port_ = free_port ();
      std::vector<std::string> argv = {
        source_root () + "/tests/cluster/render-nginx-conf.py", dir_,
        std::to_string (free_port ()), std::to_string (https_port_),
        dir_ + "/cert.pem", dir_ + "/key.pem", source_root () + "/web" };
      for (int port : daemon_ports)
        argv.push_back (std::to_string (port));
      if (run_command (argv, &out, &err) != 0)
        throw std::runtime_error ("render-nginx-conf.py: " + err);
      if (run_command ({ "nginx", "-c", conf (), "-e", dir_ + "/error.log" },
              &out, &err) == 0 && wait_running (true))
        return;
      if (err.find ("Address already in use") == std::string::npos)
        break;
    }
    throw std::runtime_error ("nginx (deploy/nginx/nginx.conf) did not start: "
        + err);
  }

  ~Balancer ()
  {
    run_command ({ "nginx", "-c", conf (), "-e", dir_ + "/error.log", "-s",
        "quit" }, nullptr, nullptr);
    if (!wait_running (false) && pid () > 0)
      kill (pid (), SIGKILL);
    g_clear_object (&certificate_);
  }

  std::string ingest_url (const std::string &key, const std::string &token)
      const
  {
    return "wss://127.0.0.1:" + std::to_string (https_port_) + "/ingest/" +
        key + "?token=" + token;
  }
  std::string page_url () const
  {
    return "https://127.0.0.1:" + std::to_string (https_port_) + "/";
  }
  GTlsCertificate *certificate () const { return certificate_; }
  std::string error_log () const
  {
    g_autofree char *text = nullptr;
    g_file_get_contents ((dir_ + "/error.log").c_str (), &text, nullptr,
        nullptr);
    return text ? text : "";
  }

 private:
  std::string conf () const { return dir_ + "/nginx.conf"; }
  int pid () const
  {
    g_autofree char *text = nullptr;
    if (!g_file_get_contents ((dir_ + "/nginx.pid").c_str (), &text, nullptr,
            nullptr))
      return 0;
    return atoi (text);
  }
  bool wait_running (bool running) const
  {
    for (int i = 0; i < 100; i++) {
      bool now = pid () > 0 && kill (pid (), 0) == 0;
      if (now == running)
        return true;
      sleep_ms (100);
    }
    return false;
  }

  std::string dir_;
  int https_port_ = 0;
  GTlsCertificate *certificate_ = nullptr;
};

/* One browser: connects through the balancer and sends the fixture's
 * chunks at their recorded pace, on its own thread. */
class Stream {
 public:
  Stream (const Balancer &balancer, const Fixture &fixture, std::string key,
      std::string token)
      : balancer_ (balancer), fixture_ (fixture), key_ (std::move (key)),
        token_ (std::move (token)) {}
  ~Stream () { join (); }

  const std::string &key () const { return key_; }

  /* Connects (here: the handshake is done when it returns), then sends
   * chunks [0, until) on its thread. */
  void start (size_t until)
  {
    WsClient::Options options;
    options.trusted_ca = balancer_.certificate ();
    options.timeout_ms = 15000;
    client_ = WsClient::connect (balancer_.ingest_url (key_, token_), options,
        &connect_error_);
    if (client_)
      thread_ = std::thread ([this, until] { send (0, until); });
  }
  /* Sends chunks [from, until) on a new thread (after start's ended). */
  void resume (size_t from, size_t until, bool close_at_end)
  {
    join ();
    if (!client_)
      return;
    thread_ = std::thread ([this, from, until, close_at_end] {
      send (from, until);
      if (close_at_end && client_ && !client_->is_closed ()) {
        client_->close (1000, "stream ended");
        client_->wait_closed (20000);
      }
    });
  }
  void join ()
  {
    if (thread_.joinable ())
      thread_.join ();
  }

  bool connected () const { return client_ != nullptr; }
  /* Everything asked was sent before the connection closed. */
  bool complete () const { return complete_; }
  bool live (int timeout_ms) const
  {
    return client_ && client_->wait_text ("\"state\":\"live\"", timeout_ms);
  }
  WsClient *client () const { return client_.get (); }
  std::string describe () const
  {
    if (!client_)
      return key_ + ": not connected (" + connect_error_ + ")";
    return key_ + ": close " + std::to_string (client_->close_code ()) +
        " \"" + client_->close_reason () + "\"" + (complete_ ? "" :
            " before everything was sent");
  }

 private:
  void send (size_t from, size_t until)
  {
    const auto &chunks = fixture_.chunks ();
    until = std::min (until, chunks.size ());
    auto start = Clock::now ();
    complete_ = false;
    for (size_t i = from; i < until; i++) {
      std::this_thread::sleep_until (start + std::chrono::milliseconds (
              static_cast<int> (chunks[i].t_ms - chunks[from].t_ms)));
      if (client_->is_closed ())
        return;
      client_->send_binary (chunks[i].bytes);
    }
    complete_ = !client_->is_closed ();
  }

  const Balancer &balancer_;
  const Fixture &fixture_;
  std::string key_, token_;
  std::unique_ptr<WsClient> client_;
  std::string connect_error_;
  std::atomic<bool> complete_ { false };
  std::thread thread_;
};

/* A key whose masked form ("abc***") names it in the logs. */
std::string
key_name (char letter, int i)
{
  char name[32];
  g_snprintf (name, sizeof name, "%c%02d-cluster", letter, i);
  return name;
}

class ClusterTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (ClusterTest);
  CPPUNIT_TEST (testThreeDaemonsBehindNginx);
  CPPUNIT_TEST_SUITE_END ();

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Nginx> rtmp_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<Daemon>> daemons_;
  std::vector<std::string> old_logs_;   /* of daemons stopped and restarted */
  std::unique_ptr<Balancer> balancer_;
  std::unique_ptr<Fixture> fixture_;
  std::string fixture_path_;     /* the first WHOLE_MS of it */
  size_t whole_chunks_ = 0;
  std::vector<StreamInfo> input_;

 public:
  void setUp () override
  {
    dir_ = std::make_unique<TempDir> ();
    rtmp_ = std::make_unique<Nginx> (dir_->file ("rtmp"));
    fixture_ = std::make_unique<Fixture> (FIXTURE);
    fixture_path_ = dir_->file ("sent-whole.mkv");
    whole_chunks_ = write_prefix (*fixture_, WHOLE_MS, fixture_path_);
    input_ = probe_streams (fixture_path_);
    for (int i = 0; i < DAEMONS; i++) {
      ports_.push_back (free_port ());
      old_logs_.emplace_back ();
      start_daemon (i);
    }
    g_mkdir (dir_->file ("balancer").c_str (), 0755);
    balancer_ = std::make_unique<Balancer> (dir_->file ("balancer"), ports_);
  }

  void tearDown () override
  {
    balancer_.reset ();
    daemons_.clear ();
    rtmp_.reset ();
    dir_.reset ();
  }

  void start_daemon (int i)
  {
    std::vector<std::string> args = { "--listen", "127.0.0.1:" +
      std::to_string (ports_[i]), "--rtmp-url", rtmp_->url (),
      "--trusted-proxies", "127.0.0.1", "--idle-timeout", "60",
      /* Every test browser is 127.0.0.1. */
      "--max-connections-per-ip", "0", "--max-sessions", "0" };
    if (daemons_.size () <= static_cast<size_t> (i))
      daemons_.resize (i + 1);
    daemons_[i] = std::make_unique<Daemon> (args);
  }

  std::string logs () const
  {
    std::string all;
    for (int i = 0; i < DAEMONS; i++)
      all += "\n--- daemon " + std::to_string (i) + " (:" +
          std::to_string (ports_[i]) + ") ---\n" + old_logs_[i] +
          (daemons_[i] ? daemons_[i]->log () : "");
    return all + "\n--- nginx ---\n" + balancer_->error_log ();
  }

  /* Sessions of key each daemon started so far (its log lines). */
  std::vector<int> sessions_of (const std::string &key) const
  {
    std::string needle = "[" + key.substr (0, 3) +
        "***] from 127.0.0.1: connected";
    std::vector<int> counts;
    for (int i = 0; i < DAEMONS; i++) {
      std::string log = old_logs_[i] + (daemons_[i] ? daemons_[i]->log () :
          "");
      int n = 0;
      for (size_t at = log.find (needle); at != std::string::npos;
          at = log.find (needle, at + 1))
        n++;
      counts.push_back (n);
    }
    return counts;
  }

  /* The one daemon that ever served key (-1: none or several). */
  int daemon_of (const std::string &key) const
  {
    auto counts = sessions_of (key);
    int found = -1;
    for (int i = 0; i < DAEMONS; i++) {
      if (counts[i] == 0)
        continue;
      if (found >= 0)
        return -1;
      found = i;
    }
    return found;
  }

  /* What nginx-rtmp recorded for key lasts as long as what was sent:
   * every track within the tolerance of the input's (audio: the input's
   * Opus becomes AAC). */
  void check_recording (const std::string &key, const std::string &sent_path)
  {
    std::string path = rtmp_->recording (key);
    CPPUNIT_ASSERT_MESSAGE (key + ": no recording " + path + logs (),
        g_file_test (path.c_str (), G_FILE_TEST_IS_REGULAR));
    auto sent = sent_path == fixture_path_ ? input_ :
        probe_streams (sent_path);
    auto got = probe_streams (path);
    for (const char *kind : { "video", "audio" }) {
      const StreamInfo *in = find_stream (sent, kind);
      const StreamInfo *out = find_stream (got, kind);
      CPPUNIT_ASSERT_MESSAGE (key + ": no " + kind, in && out);
      char text[200];
      g_snprintf (text, sizeof text, "%s: %s sent %.3f s, recorded %.3f s",
          key.c_str (), kind, in->duration (), out->duration ());
      printf ("  %s\n", text);
      CPPUNIT_ASSERT_MESSAGE (text, std::fabs (in->duration () -
              out->duration ()) <= DURATION_TOLERANCE_S);
    }
  }

  void wait_idle (int i)
  {
    CPPUNIT_ASSERT_MESSAGE ("daemon " + std::to_string (i) + " never idle" +
        logs (), daemons_[i]->wait_idle (30000));
  }

  /* Streams of these keys, whole, all at once; every one must end with
   * 1000 after sending everything. */
  void run_whole (const std::vector<std::string> &keys,
      const std::string &token)
  {
    std::vector<std::unique_ptr<Stream>> streams;
    for (const auto &key : keys) {
      streams.push_back (std::make_unique<Stream> (*balancer_, *fixture_, key,
              token));
      streams.back ()->start (whole_chunks_);
      sleep_ms (40);      /* not all handshakes in the same millisecond */
    }
    for (auto &stream : streams) {
      stream->resume (0, 0, true);      /* joins, then closes with 1000 */
      stream->join ();
      CPPUNIT_ASSERT_MESSAGE (stream->describe () + logs (),
          stream->connected () && stream->client ()->close_code () == 1000);
    }
  }

  void testThreeDaemonsBehindNginx ()
  {
    auto t0 = Clock::now ();
    auto phase = [&t0] (const char *what) {
      printf ("\n%5.1f s  %s\n", std::chrono::duration<double> (Clock::now () -
              t0).count (), what);
      fflush (stdout);
    };
    const size_t all_chunks = whole_chunks_;

    /* The page comes through the balancer too. */
    HttpResponse page = http_get (balancer_->page_url ());
    CPPUNIT_ASSERT_EQUAL_MESSAGE (balancer_->error_log (), 200, page.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("text/html"), page.content_type);

    /* 1. Two dozen streams at once: each arrives complete, each key on
     * one daemon, every daemon gets some (consistent hashing over 3
     * nodes: 24 keys all missing one node happens about 2 in 10,000). */
    phase ("24 streams through nginx");
    std::vector<std::string> keys;
    for (int i = 0; i < STREAMS; i++)
      keys.push_back (key_name ('a', i));
    run_whole (keys, "first");
    for (int i = 0; i < DAEMONS; i++)
      wait_idle (i);
    std::map<int, std::vector<std::string>> keys_on;
    for (const auto &key : keys) {
      int daemon = daemon_of (key);
      CPPUNIT_ASSERT_MESSAGE (key + " was served by several daemons or none"
          + logs (), daemon >= 0);
      keys_on[daemon].push_back (key);
      check_recording (key, fixture_path_);
    }
    for (int i = 0; i < DAEMONS; i++) {
      printf ("  daemon %d: %zu keys\n", i, keys_on[i].size ());
      CPPUNIT_ASSERT_MESSAGE ("daemon " + std::to_string (i) + " got no key" +
          logs (), !keys_on[i].empty ());
    }

    /* 2. Reconnects find their daemon: a page that reconnects while its
     * old connection is still open (a new token in the URL), and one that
     * comes back after it ended. The daemon hands the key over (replaced)
     * and the broadcast goes on: one publish at a time. */
    phase ("reconnects with the same keys");
    std::vector<std::string> again = { keys[0], keys[1], keys[2] };
    {
      std::vector<std::unique_ptr<Stream>> old;
      for (const auto &key : again) {
        old.push_back (std::make_unique<Stream> (*balancer_, *fixture_, key,
                "old"));
        old.back ()->start (8);
      }
      for (auto &stream : old) {
        stream->join ();
        CPPUNIT_ASSERT_MESSAGE (stream->describe () + logs (),
            stream->live (10000));
      }
      run_whole (again, "second");
      for (auto &stream : old) {
        CPPUNIT_ASSERT_MESSAGE (stream->describe (),
            stream->client ()->wait_closed (10000));
        CPPUNIT_ASSERT_EQUAL_MESSAGE (stream->describe (), 1008,
            stream->client ()->close_code ());
      }
    }
    for (int i = 0; i < DAEMONS; i++)
      wait_idle (i);
    for (const auto &key : again) {
      int daemon = daemon_of (key);
      CPPUNIT_ASSERT_MESSAGE (key + " moved" + logs (), daemon >= 0);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (key, 3, sessions_of (key)[daemon]);
      check_recording (key, fixture_path_);
    }

    /* 3. SIGTERM to the daemon with the most keys: its streams drain (what
     * was sent is recorded, the browser gets 1001), the others' go on to
     * the end, and new streams for keys it served go to the other two
     * meanwhile: its handshakes answer 503 while /healthz says
     * "draining", nginx tries the next daemon on the ring and marks it
     * failed (max_fails=1). A client that never answers its close keeps
     * it draining for a few seconds, long enough to see that. */
    phase ("SIGTERM to one daemon");
    int victim = 0;
    for (int i = 1; i < DAEMONS; i++)
      if (keys_on[i].size () > keys_on[victim].size ())
        victim = i;
    const auto &victim_keys = keys_on[victim];
    CPPUNIT_ASSERT_MESSAGE ("daemon with the most keys has fewer than 2",
        victim_keys.size () >= 2);
    std::vector<std::string> other_keys;
    for (int i = 0; i < DAEMONS; i++)
      if (i != victim)
        other_keys.insert (other_keys.end (), keys_on[i].begin (),
            keys_on[i].end ());
    /* Half its keys are streaming when the signal comes, the other half
     * come as new streams during the drain; as many of the others' too. */
    size_t half = victim_keys.size () / 2;
    std::vector<std::string> draining (victim_keys.begin (),
        victim_keys.begin () + std::min<size_t> (half, 3));
    std::vector<std::string> redirected (victim_keys.begin () + half,
        victim_keys.begin () + std::min (victim_keys.size (), half + 3));
    std::vector<std::string> staying (other_keys.begin (),
        other_keys.begin () + 2);
    std::vector<std::string> fresh (other_keys.begin () + 2,
        other_keys.begin () + 4);

    std::string sent_path = dir_->file ("sent-3s.mkv");
    size_t sent_chunks = write_prefix (*fixture_, 3000, sent_path);
    std::vector<std::unique_ptr<Stream>> before;
    for (const auto &list : { draining, staying })
      for (const auto &key : list) {
        before.push_back (std::make_unique<Stream> (*balancer_, *fixture_, key,
                "third"));
        before.back ()->start (sent_chunks);
      }
    for (auto &stream : before) {
      stream->join ();
      CPPUNIT_ASSERT_MESSAGE (stream->describe () + logs (),
          stream->complete () && stream->live (10000));
    }
    RawWs holder (ports_[victim]);
    CPPUNIT_ASSERT (holder.handshake ("/ingest/h00-holder"));
    sleep_ms (500);     /* the last chunks are in (loopback: plenty) */

    CPPUNIT_ASSERT_EQUAL (0, kill (daemons_[victim]->pid (), SIGTERM));
    for (auto &stream : before)
      if (std::find (staying.begin (), staying.end (), stream->key ()) !=
          staying.end ())
        stream->resume (sent_chunks, all_chunks, true);
    bool seen_draining = false;
    for (int i = 0; i < 100 && !seen_draining; i++) {
      HttpResponse health = http_get (daemons_[victim]->http_url () +
          "healthz");
      seen_draining = health.status == 503 &&
          health.body.find ("\"status\":\"draining\"") != std::string::npos;
      if (!seen_draining)
        sleep_ms (20);
    }
    CPPUNIT_ASSERT_MESSAGE ("never draining" + logs (), seen_draining);
    std::vector<std::unique_ptr<Stream>> during;
    for (const auto &list : { redirected, fresh })
      for (const auto &key : list) {
        during.push_back (std::make_unique<Stream> (*balancer_, *fixture_, key,
                "fourth"));
        during.back ()->start (all_chunks);
      }
    /* Still draining once every new stream is in: they cannot have got
     * around it by finding it gone. */
    CPPUNIT_ASSERT_EQUAL_MESSAGE ("drain ended before the new streams were "
        "in" + logs (), 503, http_get (daemons_[victim]->http_url () +
            "healthz").status);
    for (auto &stream : during)
      CPPUNIT_ASSERT_MESSAGE (stream->describe () + logs (),
          stream->live (10000));
    for (auto &stream : before) {
      bool draining_key = std::find (draining.begin (), draining.end (),
          stream->key ()) != draining.end ();
      stream->join ();
      CPPUNIT_ASSERT_MESSAGE (stream->describe (),
          stream->client ()->wait_closed (20000));
      CPPUNIT_ASSERT_EQUAL_MESSAGE (stream->describe () + logs (),
          draining_key ? 1001 : 1000, stream->client ()->close_code ());
    }
    for (auto &stream : during) {
      stream->resume (0, 0, true);
      stream->join ();
      CPPUNIT_ASSERT_EQUAL_MESSAGE (stream->describe () + logs (), 1000,
          stream->client ()->close_code ());
    }
    CPPUNIT_ASSERT_EQUAL (1001, holder.read_close (20));
    /* It exits by itself, drained, with status 0. */
    for (int i = 0; i < 300 && http_get (daemons_[victim]->http_url () +
            "livez").status; i++)
      sleep_ms (100);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (logs (), 0,
        daemons_[victim]->terminate (5000));
    std::string victim_log = daemons_[victim]->log ();
    CPPUNIT_ASSERT_MESSAGE (victim_log, victim_log.find (
            "did not finish draining") == std::string::npos);
    for (int i = 0; i < DAEMONS; i++)
      if (i != victim)
        wait_idle (i);
    for (const auto &key : draining) {
      CPPUNIT_ASSERT_EQUAL_MESSAGE (key + logs (), victim, daemon_of (key));
      check_recording (key, sent_path);
    }
    for (const auto &key : staying)
      check_recording (key, fixture_path_);
    for (const auto &key : redirected) {
      auto counts = sessions_of (key);
      char text[100];
      g_snprintf (text, sizeof text, "%s: sessions on the daemons %d %d %d",
          key.c_str (), counts[0], counts[1], counts[2]);
      printf ("  %s (daemon %d drained)\n", text, victim);
      /* The one from step 1 on the victim, the new one elsewhere. */
      CPPUNIT_ASSERT_EQUAL_MESSAGE (text + logs (), 1, counts[victim]);
      int total = counts[0] + counts[1] + counts[2];
      CPPUNIT_ASSERT_EQUAL_MESSAGE (text + logs (), 2, total);
      check_recording (key, fixture_path_);
    }
    for (const auto &key : fresh) {
      CPPUNIT_ASSERT_MESSAGE (key + logs (), daemon_of (key) >= 0 &&
          daemon_of (key) != victim);
      check_recording (key, fixture_path_);
    }

    /* The drained daemon comes back on its port (nginx tries it again
     * after fail_timeout). */
    old_logs_[victim] += victim_log;
    start_daemon (victim);

    /* 4. SIGKILL: the killed daemon's streams are lost (their browsers see
     * the connection drop), the others' go on untouched, and the lost
     * ones reconnect through nginx: the killed daemon refuses the
     * connection, nginx takes the next daemon on the ring, they go live. */
    phase ("SIGKILL to one daemon");
    std::vector<std::unique_ptr<Stream>> running;
    for (int i = 0; i < 9; i++) {
      running.push_back (std::make_unique<Stream> (*balancer_, *fixture_,
              key_name ('d', i), "fifth"));
      running.back ()->start (sent_chunks);
    }
    std::map<int, std::vector<Stream *>> running_on;
    for (auto &stream : running) {
      stream->join ();
      CPPUNIT_ASSERT_MESSAGE (stream->describe () + logs (),
          stream->live (10000));
      int daemon = daemon_of (stream->key ());
      CPPUNIT_ASSERT_MESSAGE (stream->key () + logs (), daemon >= 0);
      running_on[daemon].push_back (stream.get ());
    }
    int killed = -1;
    for (int i = 0; i < DAEMONS; i++)
      if (i != victim && (killed < 0 ||
              running_on[i].size () > running_on[killed].size ()))
        killed = i;
    CPPUNIT_ASSERT_MESSAGE ("no stream on the daemons that never restarted",
        !running_on[killed].empty ());
    printf ("  killing daemon %d with %zu of 9 streams\n", killed,
        running_on[killed].size ());
    CPPUNIT_ASSERT_EQUAL (0, kill (daemons_[killed]->pid (), SIGKILL));
    for (auto &stream : running)
      if (daemon_of (stream->key ()) != killed)
        stream->resume (sent_chunks, all_chunks, true);
    std::vector<std::string> lost;
    for (Stream *stream : running_on[killed]) {
      CPPUNIT_ASSERT_MESSAGE (stream->describe (),
          stream->client ()->wait_closed (10000));
      lost.push_back (stream->key ());
    }
    std::vector<std::unique_ptr<Stream>> reconnected;
    for (const auto &key : lost) {
      reconnected.push_back (std::make_unique<Stream> (*balancer_, *fixture_,
              key, "sixth"));
      reconnected.back ()->start (all_chunks);
    }
    for (auto &stream : reconnected)
      CPPUNIT_ASSERT_MESSAGE (stream->describe () + logs (),
          stream->live (10000));
    auto is_lost = [&lost] (const std::string &key) {
      return std::find (lost.begin (), lost.end (), key) != lost.end ();
    };
    for (auto &stream : running) {
      stream->join ();
      if (!is_lost (stream->key ()))
        CPPUNIT_ASSERT_EQUAL_MESSAGE (stream->describe () + logs (), 1000,
            stream->client ()->close_code ());
    }
    for (auto &stream : reconnected) {
      stream->resume (0, 0, true);
      stream->join ();
      CPPUNIT_ASSERT_EQUAL_MESSAGE (stream->describe () + logs (), 1000,
          stream->client ()->close_code ());
    }
    for (int i = 0; i < DAEMONS; i++)
      if (i != killed)
        wait_idle (i);
    for (auto &stream : running) {
      const std::string &key = stream->key ();
      auto counts = sessions_of (key);
      bool was_lost = is_lost (key);
      char text[100];
      g_snprintf (text, sizeof text, "%s: sessions on the daemons %d %d %d",
          key.c_str (), counts[0], counts[1], counts[2]);
      printf ("  %s%s (daemon %d killed)\n", text, was_lost ?
          ", reconnected" : "", killed);
      if (was_lost) {
        CPPUNIT_ASSERT_EQUAL_MESSAGE (text + logs (), 1, counts[killed]);
        CPPUNIT_ASSERT_EQUAL_MESSAGE (text + logs (), 2,
            counts[0] + counts[1] + counts[2]);
      } else {
        CPPUNIT_ASSERT_EQUAL_MESSAGE (text + logs (), 0, counts[killed]);
      }
      check_recording (key, fixture_path_);
    }

    /* One recording per key, nothing else. */
    std::set<std::string> files;
    g_autoptr (GDir) rec = g_dir_open (dir_->file ("rtmp/rec").c_str (), 0,
        nullptr);
    CPPUNIT_ASSERT (rec);
    while (const char *name = g_dir_read_name (rec))
      files.insert (name);
    std::set<std::string> expected;
    for (const auto &key : keys)
      expected.insert (key + ".flv");
    for (auto &stream : running)
      expected.insert (stream->key () + ".flv");
    /* The holder's session started its pipeline too (nothing in it). */
    expected.insert ("h00-holder.flv");
    std::string unexpected, missing;
    for (const auto &name : files)
      if (!expected.count (name))
        unexpected += " " + name;
    for (const auto &name : expected)
      if (!files.count (name))
        missing += " " + name;
    CPPUNIT_ASSERT_MESSAGE ("recordings not asked for:" + unexpected +
        "; missing:" + missing, files == expected);
    phase ("done");
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (ClusterTest);

}  // namespace
