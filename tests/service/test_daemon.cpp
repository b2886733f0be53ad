/* wsrtmpd as a program: its options and --help, the allocator settings it
 * restarts itself with, its HTTP routes, readiness and liveness, and SIGHUP
 * re-reading its files. The real daemon as a subprocess.
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
#include <csignal>
#include <cstring>

#include <chrono>
#include <map>
#include <optional>
#include <thread>

using namespace wsrtmp::test;

class WsrtmpdDaemonTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdDaemonTest);
  CPPUNIT_TEST (testHelpAndBadOptions);
  CPPUNIT_TEST (testAllocatorSettings);
  CPPUNIT_TEST (testHttpRoutes);
  CPPUNIT_TEST (testReadinessAndLiveness);
  CPPUNIT_TEST (testReloadOnSighup);
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
             "--force-transcode", "--admin-listen", "--admin-token-file",
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

  /* /healthz is readiness ("full" at --max-sessions, "draining" once
   * SIGTERM came: 503 both), /livez is liveness (200 while the loop turns,
   * draining included). A trusted proxy's handshake gets 503 while
   * draining, so a load balancer retries it on another node. */
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

    auto running = admitted ("old_key");
    CPPUNIT_ASSERT (running.first);
    CPPUNIT_ASSERT (!admitted ("new_key").first);

    g_file_set_contents (keys.c_str (), "new_key\n", -1, nullptr);
    reload_daemon (daemon, "reloaded " + keys + " (1 keys)");
    CPPUNIT_ASSERT (admitted ("new_key").first);
    CPPUNIT_ASSERT (!admitted ("old_key").first);
    CPPUNIT_ASSERT_MESSAGE ("the stream admitted before the reload",
        !running.second->is_closed ());

    /* Not a key list: refused, the previous list stays. */
    g_file_set_contents (keys.c_str (), "not a key!\n", -1, nullptr);
    reload_daemon (daemon, "reload refused, keeping the previous files: "
        "--keys-file: " + keys + " line 1");
    CPPUNIT_ASSERT (admitted ("new_key").first);
    CPPUNIT_ASSERT_EQUAL (0, daemon.terminate (10000));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (WsrtmpdDaemonTest);
