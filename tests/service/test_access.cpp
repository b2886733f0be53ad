/* Who may stream through wsrtmpd: --keys-file, --max-sessions, tokens,
 * allowed origins and streams per address, and the client address behind
 * --trusted-proxies (our own nginx as the reverse proxy). Keys and secrets
 * never reach the log or /metrics.
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

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <thread>

using namespace wsrtmp::test;

namespace {

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

class WsrtmpdAccessTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdAccessTest);
  CPPUNIT_TEST (testKeyRefused);
  CPPUNIT_TEST (testMaxSessions);
  CPPUNIT_TEST (testSecurity);
  CPPUNIT_TEST (testTrustedProxies);
  CPPUNIT_TEST_SUITE_END ();

 public:
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
};

CPPUNIT_TEST_SUITE_REGISTRATION (WsrtmpdAccessTest);
