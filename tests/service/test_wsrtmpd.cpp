/* wsrtmpd, end to end: the real daemon, a real WebSocket client replaying
 * browser recordings, a real nginx-rtmp, ffprobe on what nginx recorded.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "test_main.h"
#include "rawws.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <glib/gstdio.h>
#include <sys/socket.h>
#include <csignal>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <atomic>
#include <mutex>
#include <thread>

using namespace wsrtmp::test;

namespace {

constexpr double DURATION_TOLERANCE_S = 0.2;
/* x264enc puts keyframes every 60 frames at 30 fps. Passed-through H.264
 * keeps the browser's own keyframes, which flvencodebin accepts up to 10 %
 * beyond the 2 s interval (Chromium asked for 2 s delivers 2.05 s);
 * ffprobe rounds to ms. */
constexpr double MAX_KEYFRAME_GAP_S = 2.0 * 1.1 + 0.01;

/* Under AddressSanitizer freed memory sits in quarantine: RSS says nothing
 * about leaks there (ASan reports those itself). */
bool
rss_meaningful ()
{
  return !g_getenv ("WSRTMP_SANITIZED");
}

/* Under AddressSanitizer the daemon runs two to three times slower. A test
 * whose timeouts are short (an idle timeout of 2 s beside a real-time
 * stream) scales them, and the waits that follow from them, by this, so a
 * loaded CI machine does not turn slowness into a failure; what is checked
 * stays the same. */
int
timing_scale ()
{
  return g_getenv ("WSRTMP_SANITIZED") ? 2 : 1;
}

/* What a recording must be: H.264 + AAC (a track the input lacks is
 * generated), as long as the input, keyframes at most 2 s apart. */
void
check_output (const std::string &input_path, const std::string &output_path,
    const std::string &label)
{
  CPPUNIT_ASSERT_MESSAGE (label + ": no output file " + output_path,
      g_file_test (output_path.c_str (), G_FILE_TEST_IS_REGULAR));
  auto input = probe_streams (input_path);
  auto output = probe_streams (output_path);

  /* A generated track lasts as long as the input's only one. */
  const StreamInfo *only = find_stream (input, "video") ?
      find_stream (input, "video") : find_stream (input, "audio");
  for (const char *kind : { "video", "audio" }) {
    const StreamInfo *out = find_stream (output, kind);
    const StreamInfo *in = find_stream (input, kind);
    if (!in)
      in = only;
    CPPUNIT_ASSERT_MESSAGE (label + ": no " + kind + " in the output", out);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (label + ": " + kind + " codec",
        std::string (g_str_equal (kind, "video") ? "h264" : "aac"),
        out->codec_name);
    char text[200];
    g_snprintf (text, sizeof text, "%s: %s duration in %.3f s, out %.3f s "
        "(%ld packets)", label.c_str (), kind, in->duration (),
        out->duration (), out->packets);
    CPPUNIT_ASSERT_MESSAGE (text,
        std::fabs (in->duration () - out->duration ()) <= DURATION_TOLERANCE_S);

    if (g_str_equal (kind, "video")) {
      const auto &kf = out->keyframe_times;
      CPPUNIT_ASSERT_MESSAGE (label + ": no keyframe", !kf.empty ());
      CPPUNIT_ASSERT_MESSAGE (label + ": first frame is not a keyframe",
          kf.front () - out->first_pts < 0.01);
      double previous = kf.front ();
      for (double t : kf) {
        g_snprintf (text, sizeof text, "%s: keyframes %.3f -> %.3f", label.c_str (),
            previous, t);
        CPPUNIT_ASSERT_MESSAGE (text, t - previous <= MAX_KEYFRAME_GAP_S);
        previous = t;
      }
      g_snprintf (text, sizeof text, "%s: last keyframe %.3f, end %.3f",
          label.c_str (), previous, out->last_pts);
      CPPUNIT_ASSERT_MESSAGE (text,
          out->last_pts - previous <= MAX_KEYFRAME_GAP_S);
    }
  }
}

bool
has_text (const WsClient &client, const std::string &needle)
{
  for (const auto &text : client.text_messages ())
    if (text.find (needle) != std::string::npos)
      return true;
  return false;
}

/* One client replays a fixture to the end and closes normally; returns
 * the client for further checks. */
std::unique_ptr<WsClient>
stream_fixture (const Daemon &daemon, const Fixture &fixture,
    const std::string &key, bool realtime,
    const WsClient::Options &options = WsClient::Options ())
{
  std::string error;
  auto client = WsClient::connect (daemon.ingest_url (key), options, &error);
  CPPUNIT_ASSERT_MESSAGE (context (daemon, "connect: " + error), client);
  /* Replayed first: the message's arguments are evaluated before the
   * condition is, and would show the state from before the replay. */
  bool complete = client->replay (fixture, realtime);
  CPPUNIT_ASSERT_MESSAGE (context (daemon, key + ": connection closed early "
          "(code " + std::to_string (client->close_code ()) + ", reason \"" +
          client->close_reason () + "\", client-side error \"" +
          client->error () + "\")"), complete);
  /* libsoup sends the close frame after every queued message. */
  client->close (1000, "stream ended");
  CPPUNIT_ASSERT_MESSAGE (key + ": close not completed",
      client->wait_closed (10000));
  return client;
}

/* Raw HTTP GET of exactly target (no client-side normalisation): the
 * status code and the whole response. */
std::pair<int, std::string>
raw_http (int port, const std::string &target)
{
  RawWs raw (port);
  raw.write ("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Connection: close\r\n\r\n");
  std::string all = raw.read_all (5);
  int status = all.size () > 12 ? atoi (all.c_str () + 9) : 0;
  return { status, all };
}

std::string
random_bytes (size_t size, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  std::string out (size, '\0');
  for (auto &c : out)
    c = static_cast<char> (g_rand_int (rand) & 0xff);
  return out;
}

/* A whole recording as one-byte binary frames, then a 1000 close. */
std::string
one_byte_frames (const Fixture &fixture)
{
  std::string all = bytes_of (fixture.joined ());
  std::string frames;
  frames.reserve (all.size () * 7 + 16);
  for (char c : all)
    frames += RawWs::frame (0x2, std::string (1, c));
  return frames + RawWs::close_frame (1000);
}

/* Streams a fixture's chunks from first to last (exclusive) as fast as
 * the socket takes them, closes with 1000, returns the server's code. */
int
raw_stream (int port, const std::string &key, const Fixture &fixture,
    size_t first, size_t last, int close_code = 1000)
{
  RawWs raw (port);
  if (!raw.handshake ("/ingest/" + key))
    return -1;
  std::string frames;
  for (size_t i = first; i < last && i < fixture.chunks ().size (); i++)
    frames += RawWs::frame (0x2, bytes_of (fixture.chunks ()[i].bytes));
  if (close_code)
    frames += RawWs::close_frame (close_code);
  raw.write (frames);
  return raw.read_close (20);
}


int
port_of (const std::string &rtmp_url)
{
  auto colon = rtmp_url.rfind (':');
  return atoi (rtmp_url.c_str () + colon + 1);
}

std::string
make_token (const std::string &secret, const std::string &key, gint64 expiry)
{
  std::string message = key + "." + std::to_string (expiry);
  g_autofree char *hmac = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      reinterpret_cast<const guchar *> (secret.data ()), secret.size (),
      message.c_str (), message.size ());
  return std::to_string (expiry) + "." + hmac;
}

std::string
stats_text (const ProcStats &stats)
{
  char text[120];
  g_snprintf (text, sizeof text, "RSS %ld kB, PSS %ld kB, %d fds, %d threads",
      stats.rss_kb, stats.pss_kb, stats.fds, stats.threads);
  return text;
}

/* Our own nginx as a TLS-terminating reverse proxy in front of a daemon
 * (tests/support/nginx-proxy.sh: README's configuration). It connects to
 * the daemon from 127.0.0.2; clients here come from 127.0.0.1. */
class NginxProxy {
 public:
  NginxProxy (const std::string &dir, int upstream_port) : dir_ (dir)
  {
    g_mkdir_with_parents (dir.c_str (), 0755);
    generate_certificate (dir);
    std::string script = source_root () + "/tests/support/nginx-proxy.sh";
    std::string out, err;
    for (int attempt = 0; attempt < 5; attempt++) {
      port_ = free_port ();
      tls_port_ = free_port ();
      if (run_command ({ script, "start", dir_, std::to_string (port_),
              std::to_string (upstream_port), std::to_string (tls_port_),
              dir + "/cert.pem", dir + "/key.pem" }, &out, &err) == 0)
        return;
      if (err.find ("Address already in use") == std::string::npos)
        break;
    }
    throw std::runtime_error ("nginx-proxy.sh start failed: " + err);
  }
  ~NginxProxy ()
  {
    run_command ({ source_root () + "/tests/support/nginx-proxy.sh", "stop",
        dir_ }, nullptr, nullptr);
  }
  int port () const { return port_; }
  std::string wss_url (const std::string &key) const
  {
    return "wss://127.0.0.1:" + std::to_string (tls_port_) + "/ingest/" + key;
  }
  std::string certificate () const { return dir_ + "/cert.pem"; }

 private:
  std::string dir_;
  int port_ = 0, tls_port_ = 0;
};

/* The number in "name":N of a JSON body, -1 if absent. */
long
json_number (const std::string &body, const std::string &name)
{
  auto at = body.find ("\"" + name + "\":");
  return at == std::string::npos ? -1 :
      atol (body.c_str () + at + name.size () + 3);
}

}  // namespace

class WsrtmpdTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdTest);
  CPPUNIT_TEST (testHelpAndBadOptions);
  CPPUNIT_TEST (testAllocatorSettings);
  CPPUNIT_TEST (testHttpRoutes);
  CPPUNIT_TEST (testRealtimeChromeVp8ToRtmp);
  CPPUNIT_TEST (testFourConcurrentClients);
  CPPUNIT_TEST (testKeyRefused);
  CPPUNIT_TEST (testSameKeyTakesOver);
  CPPUNIT_TEST (testRtmpServerDown);
  CPPUNIT_TEST (testMaxSessions);
  CPPUNIT_TEST (testNotMedia);
  CPPUNIT_TEST (testAbruptDisconnect);
  CPPUNIT_TEST (testMessageTooBig);
  CPPUNIT_TEST (testRecordingOnlyDefault);
  CPPUNIT_TEST (testGracefulShutdown);
  CPPUNIT_TEST (testBadInput);
  CPPUNIT_TEST (testFloodIsReadFairly);
  CPPUNIT_TEST (testSecurity);
  CPPUNIT_TEST (testTlsStream);
  CPPUNIT_TEST (testRtmpRestart);
  CPPUNIT_TEST (testRtmpRetryGivesUp);
  CPPUNIT_TEST (testEndurance);
  CPPUNIT_TEST (testFarOversizeMessageWhileSending);
  CPPUNIT_TEST (testTrustedProxies);
  CPPUNIT_TEST (testErrorKinds);
  CPPUNIT_TEST (testManyStreamsEndAtOnce);
  CPPUNIT_TEST (testReadinessAndLiveness);
  CPPUNIT_TEST (testReloadOnSighup);
  CPPUNIT_TEST (testFragmentedMessageOverLimit);
  CPPUNIT_TEST_SUITE_END ();

 public:
  void testHelpAndBadOptions ()
  {
    std::string out, err;
    std::string exe = build_root () + "/service/wsrtmpd";
    CPPUNIT_ASSERT_EQUAL (0, run_command ({ exe, "--help" }, &out, &err));
    for (const char *option : { "--listen", "--web-root", "--rtmp-url",
             "--record-dir", "--keys-file", "--max-sessions",
             "--video-bitrate", "--x264-preset", "--framerate", "--codec-threads",
             "--tls-cert", "--tls-key",
             "--config", "--max-message-size", "--idle-timeout",
             "--handshake-timeout", "--allowed-origins",
             "--max-connections-per-ip", "--token-secret",
             "--token-secret-file", "--rtmp-retry-time", "--trusted-proxies",
             "--audio-bitrate", "--audio-channels", "--drain-timeout",
             "--force-transcode",
             "--version" })
      CPPUNIT_ASSERT_MESSAGE (std::string ("--help lacks ") + option,
          out.find (option) != std::string::npos);

    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--max-sessions", "many" },
            &out, &err));
    CPPUNIT_ASSERT_MESSAGE (err, err.find ("--max-sessions") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--x264-preset", "warp" },
            &out, &err));
    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--framerate", "0" },
            &out, &err));
    CPPUNIT_ASSERT_MESSAGE (err, err.find ("--framerate") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--codec-threads", "65" },
            &out, &err));
    CPPUNIT_ASSERT_MESSAGE (err, err.find ("--codec-threads") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--rtmp-url", "http://x/" },
            &out, &err));
    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--listen", "nocolon" },
            &out, &err));
    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--token-secret", "short" },
            &out, &err));
    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--allowed-origins",
            "studio.example.com" }, &out, &err));
    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--idle-timeout", "0" },
            &out, &err));

    /* The config file uses the same names; the command line wins. */
    TempDir dir;
    std::string ini = dir.file ("wsrtmpd.ini");
    g_file_set_contents (ini.c_str (),
        "[wsrtmpd]\nmax-sessions = 1\nvideo-bitrate = 1500\n", -1, nullptr);
    {
      Daemon daemon ({ "--config", ini, "--record-dir", dir.file ("rec") });
      HttpResponse health = http_get (daemon.http_url () + "healthz");
      CPPUNIT_ASSERT_MESSAGE (health.body,
          health.body.find ("\"max_sessions\":1") != std::string::npos);
    }
    g_file_set_contents (ini.c_str (), "[wsrtmpd]\nbogus = 1\n", -1, nullptr);
    CPPUNIT_ASSERT_EQUAL (2, run_command ({ exe, "--config", ini }, &out, &err));
  }

  /* The environment wsrtmpd runs with, after it restarted itself. */
  static std::map<std::string, std::string>
  daemon_environment (const Daemon &daemon)
  {
    std::string path = "/proc/" + std::to_string (daemon.pid ()) + "/environ";
    g_autofree char *contents = nullptr;
    gsize length = 0;
    CPPUNIT_ASSERT (g_file_get_contents (path.c_str (), &contents, &length,
            nullptr));
    std::map<std::string, std::string> environment;
    for (gsize at = 0; at < length; at += strlen (contents + at) + 1) {
      std::string entry = contents + at;
      size_t equals = entry.find ('=');
      if (equals != std::string::npos)
        environment[entry.substr (0, equals)] = entry.substr (equals + 1);
    }
    return environment;
  }

  /* RSS crept up by 12 MB in 10 minutes of 20 streams coming and going with
   * GLib's slice allocator and glibc's per-thread cache on, 2.6 MB without
   * them (tests/service/soak.sh); wsrtmpd restarts itself once to turn them
   * off, keeps what the operator set, and WSRTMPD_ALLOCATOR=default opts
   * out. */
  void testAllocatorSettings ()
  {
    TempDir dir;
    const std::vector<std::string> args = { "--record-dir", dir.file ("rec") };
    struct SavedVariable {
      std::string name;
      std::optional<std::string> value;
      explicit SavedVariable (const char *variable) : name (variable) {
        if (const char *current = g_getenv (variable))
          value = current;
        g_unsetenv (variable);
      }
      ~SavedVariable () {
        if (value)
          g_setenv (name.c_str (), value->c_str (), TRUE);
        else
          g_unsetenv (name.c_str ());
      }
    } slice ("G_SLICE"), tunables ("GLIBC_TUNABLES"),
        choice ("WSRTMPD_ALLOCATOR");
    {
      Daemon daemon (args);
      auto environment = daemon_environment (daemon);
      CPPUNIT_ASSERT_EQUAL (std::string ("always-malloc"),
          environment["G_SLICE"]);
      CPPUNIT_ASSERT_EQUAL (std::string ("glibc.malloc.tcache_count=0"),
          environment["GLIBC_TUNABLES"]);
      /* Named after itself, not "exe", for ps and pkill. */
      g_autofree char *comm = nullptr;
      g_file_get_contents (("/proc/" + std::to_string (daemon.pid ()) +
              "/comm").c_str (), &comm, nullptr, nullptr);
      CPPUNIT_ASSERT_EQUAL (std::string ("wsrtmpd\n"),
          std::string (comm ? comm : ""));
    }
    {
      /* Added in front of the operator's tunables: glibc cuts the string
       * at the first ':' as it reads it, so only the first one shows. */
      g_setenv ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072",
          TRUE);
      Daemon daemon (args);
      auto environment = daemon_environment (daemon);
      CPPUNIT_ASSERT_EQUAL (std::string ("glibc.malloc.tcache_count=0"),
          environment["GLIBC_TUNABLES"]);
      g_setenv ("GLIBC_TUNABLES", "glibc.malloc.tcache_count=3", TRUE);
      g_setenv ("G_SLICE", "", TRUE);  /* set, but nothing turned off */
      Daemon mine (args);
      environment = daemon_environment (mine);
      CPPUNIT_ASSERT_EQUAL (std::string ("glibc.malloc.tcache_count=3"),
          environment["GLIBC_TUNABLES"]);
      CPPUNIT_ASSERT (environment.count ("G_SLICE"));
      CPPUNIT_ASSERT_EQUAL (std::string (), environment["G_SLICE"]);
      g_unsetenv ("GLIBC_TUNABLES");
      g_unsetenv ("G_SLICE");
    }
    {
      g_setenv ("WSRTMPD_ALLOCATOR", "default", TRUE);
      Daemon daemon (args);
      auto environment = daemon_environment (daemon);
      CPPUNIT_ASSERT (!environment.count ("G_SLICE"));
      CPPUNIT_ASSERT (!environment.count ("GLIBC_TUNABLES"));
      CPPUNIT_ASSERT_EQUAL (200,
          http_get (daemon.http_url () + "healthz").status);
    }
  }

  void testHttpRoutes ()
  {
    TempDir dir;
    g_file_set_contents (dir.file ("index.html").c_str (), "<h1>hi</h1>", -1,
        nullptr);
    g_file_set_contents (dir.file ("app.mjs").c_str (), "export {}", -1,
        nullptr);
    g_file_set_contents (dir.file ("secret.txt").c_str (), "x", -1, nullptr);
    g_mkdir (dir.file ("web").c_str (), 0755);
    g_file_set_contents (dir.file ("web/index.html").c_str (), "<p>page</p>",
        -1, nullptr);
    Daemon daemon ({ "--web-root", dir.file ("web"), "--record-dir",
        dir.file ("rec") });

    HttpResponse page = http_get (daemon.http_url ());
    CPPUNIT_ASSERT_EQUAL (200, page.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("text/html"), page.content_type);
    CPPUNIT_ASSERT_EQUAL (std::string ("<p>page</p>"), page.body);
    CPPUNIT_ASSERT_EQUAL (404, http_get (daemon.http_url () +
            "../secret.txt").status);
    CPPUNIT_ASSERT_EQUAL (404, http_get (daemon.http_url () +
            "%2e%2e/secret.txt").status);
    CPPUNIT_ASSERT_EQUAL (404, http_get (daemon.http_url () + "nope.js").status);
    /* The ingest route only takes WebSocket upgrades. */
    CPPUNIT_ASSERT_EQUAL (400, http_get (daemon.http_url () +
            "ingest/key").status);

    HttpResponse health = http_get (daemon.http_url () + "healthz");
    CPPUNIT_ASSERT_EQUAL (200, health.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("application/json"), health.content_type);
    CPPUNIT_ASSERT (health.body.find ("\"status\":\"ok\"") != std::string::npos);

    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_EQUAL (200, metrics.status);
    for (const char *name : { "wsrtmp_sessions_active 0",
             "wsrtmp_sessions_total{outcome=\"ended\"}",
             "wsrtmp_bytes_in_total", "wsrtmp_bytes_out_total",
             "# TYPE wsrtmp_errors_total counter" })
      CPPUNIT_ASSERT_MESSAGE (name, metrics.body.find (name) != std::string::npos);

    /* The in-tree page with real types. */
    Daemon defaults ({ "--record-dir", dir.file ("rec") });
    HttpResponse index = http_get (defaults.http_url ());
    CPPUNIT_ASSERT_EQUAL (200, index.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("text/html"), index.content_type);
    HttpResponse script = http_get (defaults.http_url () + "js/app.js");
    CPPUNIT_ASSERT_EQUAL (200, script.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("text/javascript"), script.content_type);
  }

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

  void testKeyRefused ()
  {
    TempDir dir;
    std::string keys = dir.file ("keys");
    g_file_set_contents (keys.c_str (), "# streamers\ngood_key-1\n", -1, nullptr);
    Daemon daemon ({ "--keys-file", keys, "--record-dir", dir.file ("rec") });

    for (const char *key : { "other", "bad%21key", "" }) {
      auto client = WsClient::connect (daemon.ingest_url (key));
      CPPUNIT_ASSERT_MESSAGE (key, client);
      CPPUNIT_ASSERT (client->wait_closed (5000));
      CPPUNIT_ASSERT_EQUAL_MESSAGE (key, 1008, client->close_code ());
      CPPUNIT_ASSERT (has_text (*client, "\"type\":\"error\""));
    }
    auto accepted = WsClient::connect (daemon.ingest_url ("good_key-1"));
    CPPUNIT_ASSERT (accepted);
    CPPUNIT_ASSERT (accepted->wait_text ("\"state\":\"connecting\"", 5000));
    CPPUNIT_ASSERT (!accepted->is_closed ());
    accepted->close ();
    CPPUNIT_ASSERT (accepted->wait_closed (5000));
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_sessions_total{outcome=\"refused\"} 3") != std::string::npos);
    /* Keys never reach the log in full. */
    CPPUNIT_ASSERT_MESSAGE (daemon.log (),
        daemon.log ().find ("good_key-1") == std::string::npos);
  }

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

  void testMaxSessions ()
  {
    TempDir dir;
    Daemon daemon ({ "--max-sessions", "2", "--record-dir", dir.file ("rec") });
    Fixture fixture ("chrome-vp8-opus-250ms");
    std::vector<std::unique_ptr<WsClient>> clients;
    for (const char *key : { "one", "two" }) {
      clients.push_back (WsClient::connect (daemon.ingest_url (key)));
      CPPUNIT_ASSERT (clients.back ());
      CPPUNIT_ASSERT (clients.back ()->wait_text ("connecting", 5000));
      clients.back ()->send_binary (fixture.chunks ()[0].bytes);
    }
    RawClose third = raw_ws_until_close (daemon.ingest_url ("three"), 5000);
    CPPUNIT_ASSERT_EQUAL (1013, third.code);
    CPPUNIT_ASSERT_MESSAGE (third.reason,
        third.reason.find ("capacity") != std::string::npos);
    CPPUNIT_ASSERT (!third.texts.empty () &&
        third.texts[0].find ("\"type\":\"error\"") != std::string::npos);
    CPPUNIT_ASSERT (!clients[0]->is_closed () && !clients[1]->is_closed ());

    /* A freed slot is usable again. */
    clients[0]->close ();
    CPPUNIT_ASSERT (clients[0]->wait_closed (5000));
    CPPUNIT_ASSERT (daemon.wait_idle (1) || true);
    bool admitted = false;
    for (int attempt = 0; attempt < 25 && !admitted; attempt++) {
      auto again = WsClient::connect (daemon.ingest_url ("four"));
      CPPUNIT_ASSERT (again);
      admitted = again->wait_text ("connecting", 2000) && !again->is_closed ();
      if (!admitted)
        std::this_thread::sleep_for (std::chrono::milliseconds (200));
    }
    ASSERT_LOGGED (daemon, "slot never freed", admitted);
  }

  /* Garbage ends its own session with 1003; a stream running alongside
   * is untouched. */
  void testNotMedia ()
  {
    TempDir dir;
    Daemon daemon ({ "--record-dir", dir.file ("rec") });
    Fixture fixture ("chrome-audio-opus-250ms");
    auto good = WsClient::connect (daemon.ingest_url ("good"));
    CPPUNIT_ASSERT (good);
    const auto &chunks = fixture.chunks ();
    size_t half = chunks.size () / 2;
    for (size_t i = 0; i < half; i++)
      good->send_binary (chunks[i].bytes);
    CPPUNIT_ASSERT (good->wait_text ("\"state\":\"live\"", 5000));

    auto client = WsClient::connect (daemon.ingest_url ("garbage"));
    CPPUNIT_ASSERT (client);
    std::string noise (64 * 1024, '\0');
    for (size_t i = 0; i < noise.size (); i++)
      noise[i] = static_cast<char> ((i * 7919) >> 3);
    g_autoptr (GBytes) bytes = g_bytes_new (noise.data (), noise.size ());
    for (int i = 0; i < 4 && !client->is_closed (); i++)
      client->send_binary (bytes);
    client->close ();
    CPPUNIT_ASSERT (client->wait_closed (10000));
    CPPUNIT_ASSERT (!good->is_closed ());
    for (size_t i = half; i < chunks.size (); i++)
      good->send_binary (chunks[i].bytes);
    good->close ();
    CPPUNIT_ASSERT (good->wait_closed (5000));
    CPPUNIT_ASSERT_EQUAL (1000, good->close_code ());
    ASSERT_LOGGED (daemon, "never idle",
        daemon.wait_idle (10000));
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_errors_total{kind=\"input\"} 1") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_sessions_total{outcome=\"ended\"} 1") != std::string::npos);
    g_autoptr (GDir) recordings = g_dir_open (dir.file ("rec").c_str (), 0,
        nullptr);
    CPPUNIT_ASSERT (recordings);
    for (const char *name; (name = g_dir_read_name (recordings));) {
      if (g_str_has_prefix (name, "good-"))
        check_output (fixture.joined_path (), dir.file (std::string ("rec/") +
                name), "alongside garbage");
    }
  }

  /* A browser that vanishes without a close frame: what it sent is kept. */
  void testAbruptDisconnect ()
  {
    TempDir dir;
    Daemon daemon ({ "--record-dir", dir.file ("rec") });
    Fixture fixture ("chrome-vp8-opus-250ms");
    std::string sent_path = dir.file ("sent.webm");
    size_t count = write_prefix (fixture, 3000, sent_path);
    auto client = WsClient::connect (daemon.ingest_url ("vanish"));
    CPPUNIT_ASSERT (client);
    for (size_t i = 0; i < count; i++)
      client->send_binary (fixture.chunks ()[i].bytes);
    CPPUNIT_ASSERT (client->wait_text ("\"state\":\"live\"", 5000));
    std::this_thread::sleep_for (std::chrono::milliseconds (500));
    client->abort ();
    ASSERT_LOGGED (daemon, "never idle",
        daemon.wait_idle (20000));
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_sessions_total{outcome=\"ended\"} 1") != std::string::npos);
    g_autoptr (GDir) recordings = g_dir_open (dir.file ("rec").c_str (), 0,
        nullptr);
    const char *name = recordings ? g_dir_read_name (recordings) : nullptr;
    CPPUNIT_ASSERT (name);
    check_output (sent_path, dir.file (std::string ("rec/") + name), "abrupt");
  }

  void testMessageTooBig ()
  {
    TempDir dir;
    Daemon daemon ({ "--max-message-size", "4096", "--record-dir",
        dir.file ("rec") });
    auto client = WsClient::connect (daemon.ingest_url ("big"));
    CPPUNIT_ASSERT (client);
    CPPUNIT_ASSERT (client->wait_text ("connecting", 5000));
    /* One message only: data still unread when the server closes would
     * make the kernel reset the connection and lose the close frame. */
    std::string big (8192, 'x');
    g_autoptr (GBytes) bytes = g_bytes_new (big.data (), big.size ());
    client->send_binary (bytes);
    CPPUNIT_ASSERT (client->wait_closed (5000));
    CPPUNIT_ASSERT_EQUAL (1009, client->close_code ());
    CPPUNIT_ASSERT (daemon.wait_idle (5000));
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_errors_total{kind=\"too_big\"} 1") != std::string::npos);
  }

  /* Nothing configured: each stream lands in ./recordings. */
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
        g_str_has_suffix (name, "Z.flv"));
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

  /* Everything an internet-facing gateway gets, one case after the other,
   * while a good stream runs alongside in real time: each case gets its
   * own close code, the server stays up, the good stream arrives complete
   * and the process returns to its baseline. */
  void testBadInput ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    /* 2 s, or 4 s under ASan (timing_scale). */
    const int scale = timing_scale ();
    const int idle_s = 2 * scale, handshake_s = 2 * scale;
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--idle-timeout",
        std::to_string (idle_s), "--handshake-timeout",
        std::to_string (handshake_s), "--max-connections-per-ip", "0" });
    const int port = daemon.port ();
    Fixture good_fixture ("chrome-vp8-opus-30s-250ms");
    Fixture short_fixture ("chrome-vp8-opus-250ms");
    Fixture audio_fixture ("chrome-audio-opus-250ms");
    /* Warm up (plugin loading, first pipeline) before the baseline. */
    CPPUNIT_ASSERT_EQUAL (1000, raw_stream (port, "warmup", short_fixture, 0,
            6));
    CPPUNIT_ASSERT (daemon.wait_idle (20000));
    ProcStats baseline = proc_stats (daemon.pid ());

    std::string good_error;
    int good_code = 0;
    std::thread good ([&] {
      try {
        auto client = stream_fixture (daemon, good_fixture, "good_stream",
            true);
        good_code = client->close_code ();
      } catch (const std::exception &e) {
        good_error = e.what ();
      }
    });
    Joiner join_good (good);
    std::this_thread::sleep_for (std::chrono::seconds (2));

    struct Case {
      std::string name;
      int expected;
      std::function<int ()> run;
    };
    const size_t short_chunks = short_fixture.chunks ().size ();
    std::string truncated_path = dir.file ("truncated.webm");
    size_t truncated_chunks = write_prefix (short_fixture, 4000,
        truncated_path);
    std::vector<Case> cases = {
      { "random bytes", 1003, [&] {
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_random"))
            return -1;
          std::string frames;
          for (int i = 0; i < 16; i++)
            frames += RawWs::frame (0x2, random_bytes (16384, 1000 + i));
          raw.write (frames);
          return raw.read_close (10 * scale);
        } },
      { "valid header then garbage", 1003, [&] {
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_garbage"))
            return -1;
          std::string frames;
          for (size_t i = 0; i < 3; i++)
            frames += RawWs::frame (0x2, bytes_of (short_fixture.chunks ()[i].bytes));
          for (int i = 0; i < 16; i++)
            frames += RawWs::frame (0x2, random_bytes (16384, 2000 + i));
          raw.write (frames);
          return raw.read_close (10 * scale);
        } },
      { "truncated stream, then close 1000", 1000, [&] {
          return raw_stream (port, "bad_truncated", short_fixture, 0,
              truncated_chunks);
        } },
      { "starts mid-way (no header), sent in real time", 1003, [&] {
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_midway"))
            return -1;
          std::thread sender ([&] {
            for (size_t i = 10; i < short_chunks; i++) {
              if (!raw.write (RawWs::frame (0x2,
                          bytes_of (short_fixture.chunks ()[i].bytes))))
                return;
              std::this_thread::sleep_for (std::chrono::milliseconds (250));
            }
          });
          int code = raw.read_close (15 * scale);
          raw.reset ();
          sender.join ();
          return code;
        } },
      { "text frame", 1003, [&] {
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_text"))
            return -1;
          raw.write (RawWs::frame (0x2, bytes_of (short_fixture.chunks ()[0].bytes)) +
              RawWs::frame (0x1, "{\"type\":\"hello\"}"));
          return raw.read_close (10 * scale);
        } },
      { "one 100 MB message", 1009, [&] {
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_huge"))
            return -1;
          const guint64 total = 100ULL * 1024 * 1024;
          std::thread writer ([&] {
            std::string block (1024 * 1024, 'x');
            if (!raw.write (RawWs::frame (0x2, "", total)))
              return;
            for (guint64 sent = 0; sent < total; sent += block.size ())
              if (!raw.write (block))
                return;
          });
          int code = raw.read_close (10 * scale);
          raw.reset ();
          writer.join ();
          return code;
        } },
      { "whole stream in one-byte messages", 1000, [&] {
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_onebyte"))
            return -1;
          raw.write (one_byte_frames (audio_fixture));
          return raw.read_close (30 * scale);
        } },
      { "unsupported codec (HAP in Matroska)", 1003, [&] {
          g_autofree char *contents = nullptr;
          gsize size = 0;
          std::string path = data_dir () + "/bad/hap-video.mkv";
          if (!g_file_get_contents (path.c_str (), &contents, &size, nullptr))
            return -2;
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_codec"))
            return -1;
          raw.write (RawWs::frame (0x2, std::string (contents, size)));
          return raw.read_close (10 * scale);
        } },
      { "TCP reset mid-stream", 0, [&] {
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_reset"))
            return -1;
          std::string frames;
          for (size_t i = 0; i < 8; i++)
            frames += RawWs::frame (0x2, bytes_of (short_fixture.chunks ()[i].bytes));
          raw.write (frames);
          std::this_thread::sleep_for (std::chrono::milliseconds (800));
          raw.reset ();
          return 0;
        } },
      { "never sends (closed after the idle timeout)", 1008, [&] {
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_idle"))
            return -1;
          auto start = std::chrono::steady_clock::now ();
          int code = raw.read_close (10 * scale);
          double s = std::chrono::duration<double> (
              std::chrono::steady_clock::now () - start).count ();
          return s >= idle_s - 0.5 && s <= idle_s + 2.5 * scale ? code : -3;
        } },
      { "stalls mid-stream (idle timeout)", 1008, [&] {
          RawWs raw (port);
          if (!raw.handshake ("/ingest/bad_stall"))
            return -1;
          std::string frames;
          for (size_t i = 0; i < 4; i++)
            frames += RawWs::frame (0x2, bytes_of (short_fixture.chunks ()[i].bytes));
          raw.write (frames);
          return raw.read_close (10 * scale);
        } },
      { "slow HTTP handshake (closed after its timeout)", 0, [&] {
          RawWs raw (port);
          raw.write ("GET /ingest/bad_slow HTTP/1.1\r\nHost: 127.0.0.1\r\n");
          auto start = std::chrono::steady_clock::now ();
          bool closed = raw.wait_eof (10 * scale);
          double s = std::chrono::duration<double> (
              std::chrono::steady_clock::now () - start).count ();
          return closed && s <= handshake_s + 2.5 * scale ? 0 : -3;
        } },
    };
    for (const std::string &key : { std::string ("bad%21key"),
             std::string (129, 'k'), std::string ("..%2F..%2Fetc"),
             std::string ("%2e%2e"), std::string ("key%00x") }) {
      cases.push_back ({ "invalid key " + key.substr (0, 20), 1008, [&, key] {
          RawWs raw (port);
          /* No WebSocket at all is as good as our 1008: libsoup's URI
           * parser refuses some (400) and resolves "/ingest/%2e%2e" to "/"
           * (the page, 200). */
          if (!raw.handshake ("/ingest/" + key)) {
            printf ("  (HTTP %d)", raw.status_);
            return raw.status_ == 400 || raw.status_ == 404 ||
                raw.status_ == 200 ? 1008 : -1;
          }
          return raw.read_close (10 * scale);
        } });
    }
    for (const char *target : { "/../../etc/passwd",
             "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
             "/js/..%2f..%2f..%2f..%2fetc%2fpasswd", "//etc/passwd",
             "/%2fetc%2fpasswd", "/.%2e/.%2e/etc/passwd" }) {
      cases.push_back ({ std::string ("static ") + target, 404, [&, target] {
          auto [status, response] = raw_http (port, target);
          if (response.find ("root:") != std::string::npos)
            return -4;
          /* 400 from libsoup's own URI check is as good. */
          return status == 400 ? 404 : status;
        } });
    }

    auto run_cases = [&] {
      std::string failures;
      for (const auto &c : cases) {
        int code = -1;
        auto start = std::chrono::steady_clock::now ();
        try {
          code = c.run ();
        } catch (const std::exception &e) {
          failures += c.name + ": " + e.what () + "\n";
          continue;
        }
        double took = std::chrono::duration<double> (
            std::chrono::steady_clock::now () - start).count ();
        HttpResponse health = http_get (daemon.http_url () + "healthz");
        printf ("  bad input: %-45s close %d (expected %d) in %.1f s, "
            "healthz %d; %s\n", c.name.c_str (), code, c.expected, took,
            health.status, stats_text (proc_stats (daemon.pid ())).c_str ());
        if (code != c.expected)
          failures += c.name + ": got " + std::to_string (code) +
              ", expected " + std::to_string (c.expected) + "\n";
        if (health.status != 200)
          failures += c.name + ": healthz " + std::to_string (health.status) +
              "\n";
      }
      return failures;
    };
    std::string failures = run_cases ();
    good.join ();
    ASSERT_LOGGED (daemon, failures, failures.empty ());
    CPPUNIT_ASSERT_MESSAGE (good_error, good_error.empty ());
    CPPUNIT_ASSERT_EQUAL (1000, good_code);
    ASSERT_LOGGED (daemon, "never idle",
        daemon.wait_idle (30000));
    check_output (good_fixture.joined_path (), nginx.recording ("good_stream"),
        "good stream alongside bad input");
    check_output (truncated_path, nginx.recording ("bad_truncated"),
        "truncated");
    check_output (audio_fixture.joined_path (),
        nginx.recording ("bad_onebyte"), "one-byte messages");

    std::string log = daemon.log ();
    for (const char *line : { "client disconnected without closing",
             "no media received", "unsupported message", "unsupported codec",
             "not a media stream we can read", "message too big" })
      CPPUNIT_ASSERT_MESSAGE (context (daemon, std::string ("log lacks ") +
              line), log.find (line) != std::string::npos);

    /* Back to baseline: every socket, pipeline and thread released (idle
     * keep-alive HTTP connections go after --handshake-timeout). The
     * first round leaves one-time growth (the allocator's arenas after the
     * good stream's encoder and the 100 MB message, thread pools that
     * stay), so a second round is run: it must add nothing. */
    std::this_thread::sleep_for (std::chrono::seconds (handshake_s + 3));
    ProcStats settled = proc_stats (daemon.pid ());
    /* WSRTMP_BAD_INPUT_ROUNDS: more rounds, to watch for a trend. */
    const char *rounds_env = g_getenv ("WSRTMP_BAD_INPUT_ROUNDS");
    int rounds = rounds_env ? std::max (1, atoi (rounds_env)) : 1;
    ProcStats after;
    for (int round = 2; round <= rounds + 1; round++) {
      std::string again = run_cases ();
      ASSERT_LOGGED (daemon, "round " + std::to_string (round) + ":\n" +
          again, again.empty ());
      ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));
      std::this_thread::sleep_for (std::chrono::seconds (handshake_s + 3));
      after = proc_stats (daemon.pid ());
      printf ("  after round %d: %s\n", round, stats_text (after).c_str ());
    }
    {
      std::string fd_list;
      std::string fd_dir = "/proc/" + std::to_string (daemon.pid ()) + "/fd";
      g_autoptr (GDir) fds = g_dir_open (fd_dir.c_str (), 0, nullptr);
      for (const char *name; fds && (name = g_dir_read_name (fds));) {
        g_autofree char *target = g_file_read_link ((fd_dir + "/" + name).c_str (),
            nullptr);
        fd_list += std::string (" ") + (target ? target : "?");
      }
      printf ("  fds:%s\n", fd_list.c_str ());
    }
    printf ("  baseline %s; after %zu bad inputs (and the good stream) %s; "
        "after the last round %s\n", stats_text (baseline).c_str (),
        cases.size (), stats_text (settled).c_str (),
        stats_text (after).c_str ());
    /* Sockets come back exactly; threads too, but for the idle workers
     * GLib's thread pools keep for a while. The heap does not shrink to
     * a byte: glibc keeps partly used pages in its per-thread arenas, so
     * RSS moves within a band (65-85 MB here, round after round, with no
     * trend); a leak per case would leave it far above. */
    CPPUNIT_ASSERT_MESSAGE (stats_text (settled) + " -> " + stats_text (after),
        after.fds <= settled.fds);
    CPPUNIT_ASSERT_MESSAGE (stats_text (settled) + " -> " + stats_text (after),
        after.threads <= settled.threads + 2);
    CPPUNIT_ASSERT_MESSAGE (stats_text (settled) + " -> " + stats_text (after),
        !rss_meaningful () ||
        after.rss_kb - settled.rss_kb < 40 * 1024);
    /* The first round's one-time growth stays bounded too. */
    CPPUNIT_ASSERT_MESSAGE (stats_text (settled),
        settled.fds <= baseline.fds + 10);
    CPPUNIT_ASSERT_MESSAGE (stats_text (settled),
        settled.threads <= baseline.threads + 2);
    CPPUNIT_ASSERT_MESSAGE (stats_text (settled),
        !rss_meaningful () ||
        settled.rss_kb - baseline.rss_kb < 100 * 1024);
  }

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

  void testSecurity ()
  {
    TempDir dir;
    const std::string secret = "0123456789abcdef-test-secret";
    std::string secret_file = dir.file ("secret");
    g_file_set_contents (secret_file.c_str (), (secret + "\n").c_str (), -1,
        nullptr);
    Daemon daemon ({ "--token-secret-file", secret_file, "--allowed-origins",
        "https://studio.example.com, http://localhost:8080",
        "--max-connections-per-ip", "2", "--record-dir", dir.file ("rec") });
    const std::string key = "SecretStreamKey42";
    gint64 now = g_get_real_time () / G_USEC_PER_SEC;
    std::string good_token = make_token (secret, key, now + 60);
    WsClient::Options studio;
    studio.origin = "https://studio.example.com";

    auto expect_refused = [&] (const std::string &query,
        const std::string &origin, int code, const std::string &reason) {
      RawWs raw (daemon.port ());
      CPPUNIT_ASSERT (raw.handshake ("/ingest/" + key + query,
              origin.empty () ? "" : "Origin: " + origin + "\r\n"));
      std::vector<std::string> texts;
      CPPUNIT_ASSERT_EQUAL_MESSAGE (query + " " + origin, code,
          raw.read_close (5, &texts));
      CPPUNIT_ASSERT_MESSAGE (query + " " + origin, !texts.empty () &&
          texts[0].find (reason) != std::string::npos);
    };
    expect_refused ("", studio.origin, 1008, "invalid or expired token");
    expect_refused ("?token=" + make_token (secret, key, now - 1),
        studio.origin, 1008, "invalid or expired token");
    expect_refused ("?token=" + make_token ("another-secret-of-16", key,
            now + 60), studio.origin, 1008, "invalid or expired token");
    expect_refused ("?token=" + make_token (secret, "otherkey", now + 60),
        studio.origin, 1008, "invalid or expired token");
    expect_refused ("?token=" + good_token, "https://evil.example.com", 1008,
        "origin not allowed");
    expect_refused ("?token=" + good_token, "", 1008, "origin not allowed");

    /* A valid token from an allowed origin streams; two per address (two
     * keys: a second connection with one key would take over). */
    std::vector<std::unique_ptr<WsClient>> clients;
    const std::string second_key = "SecretStreamKey43";
    for (const auto &[stream_key, token] : {
             std::make_pair (key, good_token), std::make_pair (second_key,
                 make_token (secret, second_key, now + 60)) }) {
      std::string error;
      clients.push_back (WsClient::connect (daemon.ingest_url (stream_key) +
              "?token=" + token, studio, &error));
      CPPUNIT_ASSERT_MESSAGE (error, clients.back ());
      CPPUNIT_ASSERT (clients.back ()->wait_text ("\"state\":\"connecting\"",
              5000));
    }
    expect_refused ("?token=" + good_token, studio.origin, 1013,
        "too many streams from your address");
    CPPUNIT_ASSERT (!clients[0]->is_closed () && !clients[1]->is_closed ());

    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_errors_total{kind=\"token\"} 4") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_errors_total{kind=\"origin\"} 2") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_errors_total{kind=\"per_ip\"} 1") != std::string::npos);
    for (auto &client : clients) {
      client->close ();
      CPPUNIT_ASSERT (client->wait_closed (5000));
    }
    CPPUNIT_ASSERT (daemon.wait_idle (10000));
    /* The key (a credential) and the secret never show, in full, anywhere. */
    metrics = http_get (daemon.http_url () + "metrics");
    std::string log = daemon.log ();
    for (const std::string &needle : { key, secret, good_token }) {
      CPPUNIT_ASSERT_MESSAGE (needle, metrics.body.find (needle) ==
          std::string::npos);
      CPPUNIT_ASSERT_MESSAGE (log, log.find (needle) == std::string::npos);
    }
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
    std::string out, err;
    std::string script = source_root () + "/tests/support/nginx-rtmp.sh";
    int status = -1;
    /* The killed processes may hold the port a moment longer. */
    for (int attempt = 0; attempt < 20 && status != 0; attempt++) {
      if (attempt)
        std::this_thread::sleep_for (std::chrono::milliseconds (250));
      status = run_command ({ script, "start", nginx_dir,
          std::to_string (port_of (nginx.url ())),
          std::to_string (free_port ()) }, &out, &err);
    }
    CPPUNIT_ASSERT_EQUAL_MESSAGE (err, 0, status);
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
    g_autofree char *nginx_log = nullptr;
    CPPUNIT_ASSERT (g_file_get_contents ((nginx_dir + "/error.log").c_str (),
            &nginx_log, nullptr, nullptr));
    for (int i = 0; i < streams; i++) {
      std::string key = "atonce" + std::to_string (i);
      int publishes = 0;
      std::string needle = "publish: name='" + key + "'";
      for (const char *at = strstr (nginx_log, needle.c_str ()); at;
           at = strstr (at + 1, needle.c_str ()))
        publishes++;
      CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, key + " publishes"), 1,
          publishes);
      check_output (dir.file ("prefix.mkv"), nginx.recording (key), key);
    }
    CPPUNIT_ASSERT_EQUAL (0, daemon.terminate (10000));
  }

  /* Far over --max-message-size (30 and 100 MiB against the default
   * 16 MiB) from a client still sending: the daemon reads on until the
   * client is done (RFC 6455 §7.1.1) instead of resetting the connection,
   * which would lose the close frame (browsers and Node report 1006). */
  void testFarOversizeMessageWhileSending ()
  {
    TempDir dir;
    Daemon daemon ({}, dir.path ());
    for (guint64 mib : { 30, 100 }) {
      std::string what = std::to_string (mib) + " MiB";
      RawWs client (daemon.port ());
      CPPUNIT_ASSERT (client.handshake ("/ingest/huge" + std::to_string (mib)));
      ASSERT_LOGGED (daemon, what + ": reset while sending",
          client.send_frame_of_size (mib * 1024 * 1024));
      std::vector<std::string> texts;
      ASSERT_LOGGED (daemon, what + ": no 1009",
          client.read_close (10, &texts) == 1009);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (what, std::string ("message too big"),
          client.close_reason ());
      CPPUNIT_ASSERT_MESSAGE (what, client.wait_eof (10));
    }
    CPPUNIT_ASSERT (daemon.wait_idle (10000));
  }

  /* --trusted-proxies: through a trusted reverse proxy (a real nginx with
   * README's configuration) the client X-Forwarded-For names counts for
   * --max-connections-per-ip, not the proxy; from anyone else the header
   * is ignored, however it is spelled. */
  void testTrustedProxies ()
  {
    TempDir dir;
    /* Admitted: the 101 and then the session's first state. Each stream is
     * kept open (never sends media) by its RawWs. */
    auto open_stream = [] (int port, const std::string &key,
        const std::string &forwarded_for) {
      auto raw = std::make_unique<RawWs> (port);
      CPPUNIT_ASSERT_MESSAGE (key, raw->handshake ("/ingest/" + key,
              forwarded_for.empty () ? "" : "X-Forwarded-For: " +
              forwarded_for + "\r\n"));
      return raw;
    };
    auto expect_per_ip_refusal = [] (RawWs &raw, const std::string &what) {
      std::vector<std::string> texts;
      CPPUNIT_ASSERT_EQUAL_MESSAGE (what, 1013, raw.read_close (10, &texts));
      CPPUNIT_ASSERT_MESSAGE (what, !texts.empty () && texts[0].find (
              "too many streams from your address") != std::string::npos);
    };
    auto health_of = [] (const Daemon &daemon, const char *name) {
      return json_number (http_get (daemon.http_url () + "healthz").body,
          name);
    };
    auto wait_sessions = [&] (const Daemon &daemon, long sessions) {
      for (int i = 0; i < 300; i++) {
        if (health_of (daemon, "sessions_active") == sessions)
          return true;
        std::this_thread::sleep_for (std::chrono::milliseconds (50));
      }
      return false;
    };
    const std::vector<std::string> common = { "--record-dir",
      dir.file ("rec"), "--idle-timeout", "300" };

    /* Straight from an untrusted peer: the header changes nothing. */
    {
      auto args = common;
      args.insert (args.end (), { "--trusted-proxies",
          "10.0.0.0/8, 127.0.0.2" });
      Daemon daemon (args);
      std::vector<std::unique_ptr<RawWs>> streams;
      for (int i = 1; i <= 4; i++)
        streams.push_back (open_stream (daemon.port (), "spoof" +
                std::to_string (i), "203.0.113." + std::to_string (i)));
      ASSERT_LOGGED (daemon, "four streams", wait_sessions (daemon, 4));
      auto fifth = open_stream (daemon.port (), "spoof5", "203.0.113.5");
      expect_per_ip_refusal (*fifth, "spoofed X-Forwarded-For, 5th stream");
      CPPUNIT_ASSERT_EQUAL (1L, health_of (daemon, "clients_active"));
      ASSERT_LOGGED (daemon, "the header was believed",
          daemon.log ().find ("203.0.113.") == std::string::npos);
    }

    /* Through nginx, trusted: it appends the address it received from
     * (127.0.0.1, not trusted here) to what the client wrote, so a
     * client cannot name itself through the proxy either. */
    {
      auto args = common;
      args.insert (args.end (), { "--trusted-proxies", "127.0.0.2" });
      Daemon daemon (args);
      NginxProxy proxy (dir.file ("proxy1"), daemon.port ());
      std::vector<std::unique_ptr<RawWs>> streams;
      for (int i = 1; i <= 4; i++)
        streams.push_back (open_stream (proxy.port (), "via" +
                std::to_string (i), "203.0.113." + std::to_string (i)));
      ASSERT_LOGGED (daemon, "four streams", wait_sessions (daemon, 4));
      auto fifth = open_stream (proxy.port (), "via5", "203.0.113.5");
      expect_per_ip_refusal (*fifth, "through the proxy, 5th stream");
      CPPUNIT_ASSERT_EQUAL (1L, health_of (daemon, "clients_active"));
      ASSERT_LOGGED (daemon, "no proxied client in the log",
          daemon.log ().find ("client 127.0.0.1 connects through proxy "
              "127.0.0.2") != std::string::npos);
    }

    /* Through nginx, with every local address trusted (as if each client
     * here were a proxy naming its own clients): the named clients count,
     * each on its own, and wss:// through the proxy streams to the end. */
    {
      auto args = common;
      args.insert (args.end (), { "--trusted-proxies", "127.0.0.0/8" });
      Daemon daemon (args);
      NginxProxy proxy (dir.file ("proxy2"), daemon.port ());
      std::vector<std::unique_ptr<RawWs>> streams;
      for (int i = 1; i <= 6; i++)
        streams.push_back (open_stream (proxy.port (), "client" +
                std::to_string (i), "203.0.113." + std::to_string (i)));
      for (int i = 2; i <= 4; i++)
        streams.push_back (open_stream (proxy.port (), "again" +
                std::to_string (i), "203.0.113.1"));
      ASSERT_LOGGED (daemon, "nine streams", wait_sessions (daemon, 9));
      CPPUNIT_ASSERT_EQUAL (6L, health_of (daemon, "clients_active"));
      HttpResponse metrics = http_get (daemon.http_url () + "metrics");
      CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
              "wsrtmp_clients_active 6\n") != std::string::npos);
      auto fifth = open_stream (proxy.port (), "again5", "203.0.113.1");
      expect_per_ip_refusal (*fifth, "5th stream of one proxied client");
      streams.clear ();
      ASSERT_LOGGED (daemon, "streams never ended", daemon.wait_idle (20000));

      g_autoptr (GError) error = nullptr;
      g_autoptr (GTlsCertificate) certificate = g_tls_certificate_new_from_file (
          proxy.certificate ().c_str (), &error);
      CPPUNIT_ASSERT_MESSAGE (error ? error->message : "", certificate);
      WsClient::Options options;
      options.trusted_ca = certificate;
      Fixture fixture ("chrome-vp8-opus-250ms");
      std::string connect_error;
      auto client = WsClient::connect (proxy.wss_url ("through_tls"), options,
          &connect_error);
      CPPUNIT_ASSERT_MESSAGE (context (daemon, connect_error), client);
      CPPUNIT_ASSERT (client->replay (fixture, false));
      client->close (1000, "stream ended");
      CPPUNIT_ASSERT (client->wait_closed (20000));
      CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, client->close_reason ()),
          1000, client->close_code ());
    }
  }

  /* Every {"type":"error"} frame names its kind, the word /metrics counts,
   * so the page never reads the server's English: a refused key ("key")
   * and a browser that sends nothing ("idle") share close code 1008 but
   * not their kind. */
  void testErrorKinds ()
  {
    TempDir dir;
    std::string keys = dir.file ("keys");
    g_file_set_contents (keys.c_str (), "listed\nlisted2\nlisted3\n", -1,
        nullptr);
    const int idle_s = 2 * timing_scale ();
    Daemon daemon ({ "--keys-file", keys, "--record-dir", dir.file ("rec"),
        "--idle-timeout", std::to_string (idle_s) });
    auto error_frame = [] (const WsClient &client) {
      for (const auto &text : client.text_messages ())
        if (text.find ("\"type\":\"error\"") != std::string::npos)
          return text;
      return std::string ();
    };

    auto refused = WsClient::connect (daemon.ingest_url ("unlisted"));
    CPPUNIT_ASSERT (refused && refused->wait_closed (5000));
    CPPUNIT_ASSERT_EQUAL (1008, refused->close_code ());
    CPPUNIT_ASSERT_MESSAGE (error_frame (*refused), error_frame (
            *refused).find ("\"kind\":\"key\"") != std::string::npos);

    /* Connected, never sends: closed after the idle timeout, kind idle. */
    auto start = std::chrono::steady_clock::now ();
    auto silent = WsClient::connect (daemon.ingest_url ("listed"));
    CPPUNIT_ASSERT (silent);
    CPPUNIT_ASSERT (silent->wait_closed ((idle_s + 10) * 1000));
    double took = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - start).count ();
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, silent->close_reason ()),
        1008, silent->close_code ());
    CPPUNIT_ASSERT_MESSAGE (std::to_string (took), took >= idle_s - 0.5);
    CPPUNIT_ASSERT_MESSAGE (error_frame (*silent), error_frame (
            *silent).find ("\"kind\":\"idle\"") != std::string::npos);
    CPPUNIT_ASSERT (error_frame (*silent).find ("\"kind\":\"key\"") ==
        std::string::npos);
    /* No output mode is claimed before flvencodebin decided one. */
    CPPUNIT_ASSERT (has_text (*silent, "\"type\":\"stats\""));
    CPPUNIT_ASSERT_MESSAGE (context (daemon, "output mode before any media"),
        has_text (*silent, "\"output\":\"\"") &&
        !has_text (*silent, "\"output\":\"transcode\"") &&
        !has_text (*silent, "\"output\":\"passthrough\""));

    /* A newer connection with the key takes over: kind replaced. */
    Fixture fixture ("chrome-vp8-opus-250ms");
    auto older = WsClient::connect (daemon.ingest_url ("listed2"));
    CPPUNIT_ASSERT (older);
    for (size_t i = 0; i < 8; i++)
      older->send_binary (fixture.chunks ()[i].bytes);
    CPPUNIT_ASSERT (older->wait_text ("\"state\":\"live\"", 10000));
    auto newer = WsClient::connect (daemon.ingest_url ("listed2"));
    CPPUNIT_ASSERT (newer);
    CPPUNIT_ASSERT (older->wait_closed (15000));
    CPPUNIT_ASSERT_EQUAL (1008, older->close_code ());
    CPPUNIT_ASSERT_MESSAGE (error_frame (*older), error_frame (
            *older).find ("\"kind\":\"replaced\"") != std::string::npos);

    newer->close ();
    CPPUNIT_ASSERT (daemon.wait_idle (20000));
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    /* The same words in /metrics (the newer session may have idled out
     * too, before it was closed). */
    for (const char *counted : { "{kind=\"key\"} 1", "{kind=\"idle\"} " })
      CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
              std::string ("wsrtmp_errors_total") + counted) !=
          std::string::npos);

    /* Refused before a session exists, with a code libsoup will not send:
     * the frame still has its kind. */
    Daemon small ({ "--record-dir", dir.file ("rec"), "--max-sessions",
        "1" });
    auto first = WsClient::connect (small.ingest_url ("first"));
    CPPUNIT_ASSERT (first && first->wait_text ("connecting", 5000));
    RawClose full = raw_ws_until_close (small.ingest_url ("second"), 5000);
    CPPUNIT_ASSERT_EQUAL (1013, full.code);
    CPPUNIT_ASSERT (!full.texts.empty () && full.texts[0].find (
            "\"kind\":\"capacity\"") != std::string::npos);
  }

  /* /healthz is readiness ("full" at --max-sessions, "draining" once
   * SIGTERM came: 503 both), /livez is liveness (200 while the loop turns,
   * draining included). A trusted proxy's handshake gets 503 while
   * draining, so a load balancer retries it on another node. */
  /* A message sent in fragments that never ends: libsoup 3.2 would keep
   * every fragment (each under the limit) without bound. The daemon closes
   * with 1009 once the unfinished message passes --max-message-size, and
   * the other stream goes on. */
  void testFragmentedMessageOverLimit ()
  {
    TempDir dir;
    Daemon daemon ({ "--max-message-size", "1048576", "--record-dir",
        dir.file ("rec"), "--idle-timeout", "60" });
    auto other = WsClient::connect (daemon.ingest_url ("other"));
    CPPUNIT_ASSERT (other && other->wait_text ("connecting", 5000));

    RawWs client (daemon.port ());
    CPPUNIT_ASSERT (client.handshake ("/ingest/endless"));
    const std::string fragment (256 * 1024, 'x');
    bool refused = false;
    /* 64 MiB at most; the first fragment a binary frame, then
     * continuations, none final (FIN clear). */
    for (int i = 0; i < 256 && !refused; i++) {
      std::string frame = RawWs::frame (i == 0 ? 0x2 : 0x0, fragment);
      frame[0] = static_cast<char> (frame[0] & 0x7f);
      refused = !client.write (frame);
      if (i % 8 == 7)
        std::this_thread::sleep_for (std::chrono::milliseconds (100));
    }
    std::vector<std::string> texts;
    ASSERT_LOGGED (daemon, "no 1009", client.read_close (10, &texts) == 1009);
    /* The log line may still be on its way. */
    bool logged = false;
    for (int i = 0; i < 50 && !logged; i++) {
      logged = daemon.log ().find ("still unfinished (sent in fragments)") !=
          std::string::npos;
      if (!logged)
        std::this_thread::sleep_for (std::chrono::milliseconds (100));
    }
    CPPUNIT_ASSERT_MESSAGE (daemon.log (), logged);
    CPPUNIT_ASSERT (!other->is_closed ());
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_MESSAGE (metrics.body, metrics.body.find (
            "wsrtmp_errors_total{kind=\"too_big\"} 1") != std::string::npos);
    other->close ();
    CPPUNIT_ASSERT (daemon.wait_idle (10000));
  }

  /* SIGHUP (systemctl reload) re-reads --keys-file and --token-secret-file
   * for new streams; a file that does not parse changes nothing; a stream
   * admitted before keeps going. */
  void testReloadOnSighup ()
  {
    TempDir dir;
    std::string keys = dir.file ("keys");
    g_file_set_contents (keys.c_str (), "old_key\n", -1, nullptr);
    Daemon daemon ({ "--keys-file", keys, "--record-dir", dir.file ("rec"),
        "--idle-timeout", "60" });
    auto admitted = [&] (const std::string &key) {
      auto client = WsClient::connect (daemon.ingest_url (key));
      CPPUNIT_ASSERT_MESSAGE (key, client);
      /* The state frame (admitted) or the error (refused) comes first, or
       * right after the welcome. */
      for (int i = 0; i < 100 && !has_text (*client, "\"type\":\"state\"") &&
          !has_text (*client, "\"type\":\"error\""); i++)
        std::this_thread::sleep_for (std::chrono::milliseconds (50));
      bool live = has_text (*client, "\"state\":\"connecting\"");
      if (!live)
        CPPUNIT_ASSERT_MESSAGE (key, client->wait_closed (5000) &&
            client->close_code () == 1008 &&
            has_text (*client, "\"kind\":\"key\""));
      return std::make_pair (live, std::move (client));
    };
    auto reload = [&] (const std::string &expect) {
      size_t before = daemon.log ().size ();
      CPPUNIT_ASSERT_EQUAL (0, kill (daemon.pid (), SIGHUP));
      for (int i = 0; i < 100; i++) {
        if (daemon.log ().find (expect, before) != std::string::npos)
          return;
        std::this_thread::sleep_for (std::chrono::milliseconds (50));
      }
      CPPUNIT_FAIL ("no \"" + expect + "\" after SIGHUP:\n" + daemon.log ());
    };

    auto running = admitted ("old_key");
    CPPUNIT_ASSERT (running.first);
    CPPUNIT_ASSERT (!admitted ("new_key").first);

    g_file_set_contents (keys.c_str (), "new_key\n", -1, nullptr);
    reload ("reloaded " + keys + " (1 keys)");
    CPPUNIT_ASSERT (admitted ("new_key").first);
    CPPUNIT_ASSERT (!admitted ("old_key").first);
    CPPUNIT_ASSERT_MESSAGE ("the stream admitted before the reload",
        !running.second->is_closed ());

    /* Not a key list: refused, the previous list stays. */
    g_file_set_contents (keys.c_str (), "not a key!\n", -1, nullptr);
    reload ("reload refused, keeping the previous files: --keys-file: " +
        keys + " line 1");
    CPPUNIT_ASSERT (admitted ("new_key").first);
    CPPUNIT_ASSERT_EQUAL (0, daemon.terminate (10000));
  }

  void testReadinessAndLiveness ()
  {
    TempDir dir;
    Daemon daemon ({ "--record-dir", dir.file ("rec"), "--max-sessions",
        "1", "--idle-timeout", "300", "--trusted-proxies", "127.0.0.1" });
    auto status_of = [] (const HttpResponse &health) {
      size_t at = health.body.find ("\"status\":\"");
      return at == std::string::npos ? std::string () : health.body.substr (
          at + 10, health.body.find ('"', at + 10) - at - 10);
    };
    auto wait_status = [&] (const std::string &wanted) {
      HttpResponse health;
      for (int i = 0; i < 200; i++) {
        health = http_get (daemon.http_url () + "healthz");
        if (status_of (health) == wanted)
          break;
        std::this_thread::sleep_for (std::chrono::milliseconds (25));
      }
      return health;
    };
    HttpResponse health = http_get (daemon.http_url () + "healthz");
    CPPUNIT_ASSERT_EQUAL (200, health.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("ok"), status_of (health));
    HttpResponse live = http_get (daemon.http_url () + "livez");
    CPPUNIT_ASSERT_EQUAL (200, live.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("application/json"), live.content_type);

    /* Full: not ready, still alive; every field as before. */
    RawWs first (daemon.port ());
    CPPUNIT_ASSERT (first.handshake ("/ingest/first"));
    health = wait_status ("full");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (health.body, 503, health.status);
    for (const char *field : { "\"version\":", "\"sessions_active\":1",
             "\"clients_active\":1", "\"max_sessions\":1" })
      CPPUNIT_ASSERT_MESSAGE (health.body,
          health.body.find (field) != std::string::npos);
    CPPUNIT_ASSERT_EQUAL (200, http_get (daemon.http_url () + "livez").status);
    {
      /* Full keeps its keys, even behind a balancer: 1013 as before. */
      RawWs proxied (daemon.port ());
      CPPUNIT_ASSERT (proxied.handshake ("/ingest/second",
              "X-Forwarded-For: 203.0.113.7\r\n"));
      CPPUNIT_ASSERT_EQUAL (1013, proxied.read_close (10));
    }

    /* Draining: the idle stream is asked to close (1001) and, as it never
     * answers, keeps the daemon draining for a while. */
    CPPUNIT_ASSERT_EQUAL (0, kill (daemon.pid (), SIGTERM));
    health = wait_status ("draining");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, health.body), 503,
        health.status);
    CPPUNIT_ASSERT_EQUAL (200, http_get (daemon.http_url () + "livez").status);
    {
      RawWs proxied (daemon.port ());
      CPPUNIT_ASSERT (!proxied.handshake ("/ingest/third"));
      CPPUNIT_ASSERT_EQUAL (503, proxied.status_);
    }
    CPPUNIT_ASSERT_EQUAL (1001, first.read_close (20));
    /* It exits by itself once drained (terminate would signal again). */
    for (int i = 0; i < 200 && http_get (daemon.http_url () + "livez").status;
        i++)
      std::this_thread::sleep_for (std::chrono::milliseconds (100));
    CPPUNIT_ASSERT_EQUAL (0, http_get (daemon.http_url () + "livez").status);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, "exit status"), 0,
        daemon.terminate (20000));

    /* Straight from a browser (no trusted proxy) a draining node still
     * upgrades and says why it closes: the page shows the kind. */
    Daemon direct ({ "--record-dir", dir.file ("rec"), "--idle-timeout",
        "300" });
    RawWs holder (direct.port ());
    CPPUNIT_ASSERT (holder.handshake ("/ingest/first"));
    std::this_thread::sleep_for (std::chrono::milliseconds (300));
    CPPUNIT_ASSERT_EQUAL (0, kill (direct.pid (), SIGTERM));
    for (int i = 0; i < 200 && http_get (direct.http_url () +
            "healthz").status != 503; i++)
      std::this_thread::sleep_for (std::chrono::milliseconds (25));
    RawWs refused (direct.port ());
    CPPUNIT_ASSERT (refused.handshake ("/ingest/second"));
    std::vector<std::string> texts;
    CPPUNIT_ASSERT_EQUAL (1001, refused.read_close (10, &texts));
    CPPUNIT_ASSERT (!texts.empty () && texts[0].find (
            "\"kind\":\"shutdown\"") != std::string::npos);
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

CPPUNIT_TEST_SUITE_REGISTRATION (WsrtmpdTest);
CPPUNIT_TEST_SUITE_NAMED_REGISTRATION (WsrtmpdSoakTest, BY_HAND_REGISTRY);
