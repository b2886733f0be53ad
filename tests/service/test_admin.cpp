/* The admin API (issue 30), end to end with real parts: wsrtmpd with
 * --admin-listen, our own nginx-rtmp, real WebSocket clients streaming
 * browser recordings in real time. What an operator sees of a live
 * broadcast, the token, a kick with a ban (the streamer sees 1008 and the
 * kind "kicked", the key is refused "banned" during the ban and accepted
 * after, a neighbour broadcast sees nothing), and one destination stopped
 * and started while the other goes on.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "service_checks.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>

#include <json-glib/json-glib.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

using namespace wsrtmp::test;

namespace {

const std::string TOKEN = "test-admin-token-0123456789abcdef";

/* A parsed JSON body (nullptr root when it is not JSON). */
struct Json {
  explicit Json (const std::string &text) : parser (json_parser_new ())
  {
    if (!json_parser_load_from_data (parser, text.c_str (), text.size (),
            nullptr))
      return;
    JsonNode *root = json_parser_get_root (parser);
    if (root && JSON_NODE_HOLDS_OBJECT (root))
      object = json_node_get_object (root);
  }
  ~Json () { g_object_unref (parser); }
  std::string string (const char *name) const
  {
    return object && json_object_has_member (object, name) &&
        JSON_NODE_HOLDS_VALUE (json_object_get_member (object, name)) ?
        json_object_get_string_member (object, name) : "";
  }
  JsonParser *parser;
  JsonObject *object = nullptr;
};

/* The broadcast with key in a list body, nullptr if absent. */
JsonObject *
find_in_list (const Json &list, const std::string &key)
{
  if (!list.object || !json_object_has_member (list.object, "broadcasts"))
    return nullptr;
  JsonArray *all = json_object_get_array_member (list.object, "broadcasts");
  for (guint i = 0; i < json_array_get_length (all); i++) {
    JsonObject *b = json_array_get_object_element (all, i);
    if (key == json_object_get_string_member (b, "key"))
      return b;
  }
  return nullptr;
}

JsonObject *
find_destination (JsonObject *broadcast, const std::string &name)
{
  JsonArray *all = json_object_get_array_member (broadcast, "destinations");
  for (guint i = 0; i < json_array_get_length (all); i++) {
    JsonObject *d = json_array_get_object_element (all, i);
    if (name == json_object_get_string_member (d, "name"))
      return d;
  }
  return nullptr;
}

/* Polls until check holds (true) or timeout_ms passed (false). */
bool
wait_for (const std::function<bool ()> &check, int timeout_ms)
{
  auto until = std::chrono::steady_clock::now () +
      std::chrono::milliseconds (timeout_ms);
  while (std::chrono::steady_clock::now () < until) {
    if (check ())
      return true;
    std::this_thread::sleep_for (std::chrono::milliseconds (200));
  }
  return check ();
}

/* A client streaming a recording in real time on its own thread. */
class Streamer {
 public:
  Streamer (const Daemon &daemon, const Fixture &fixture,
      const std::string &key)
  {
    std::string error;
    client_ = WsClient::connect (daemon.ingest_url (key), &error);
    if (!client_)
      throw std::runtime_error ("cannot connect " + key + ": " + error);
    thread_ = std::thread ([this, &fixture] {
      if (client_->replay (fixture, true))
        client_->close (1000);
    });
  }
  ~Streamer () { join (); }
  void join ()
  {
    if (thread_.joinable ())
      thread_.join ();
  }
  WsClient &client () { return *client_; }

 private:
  std::unique_ptr<WsClient> client_;
  std::thread thread_;
};

/* The last {"type":"destinations"} frame's state of name ("" if none). */
std::string
last_row_state (const WsClient &client, const std::string &name)
{
  std::string state;
  for (const auto &text : client.text_messages ()) {
    if (text.find ("\"type\":\"destinations\"") == std::string::npos)
      continue;
    Json frame (text);
    if (!frame.object)
      continue;
    JsonObject *row = find_destination (frame.object, name);
    if (row)
      state = json_object_get_string_member (row, "state");
  }
  return state;
}

}  // namespace

class WsrtmpdAdminTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdAdminTest);
  CPPUNIT_TEST (testRefusedWithoutToken);
  CPPUNIT_TEST (testListAndErrors);
  CPPUNIT_TEST (testKickAndBan);
  CPPUNIT_TEST (testDestinationStopStart);
  CPPUNIT_TEST_SUITE_END ();

  std::string token_file (const TempDir &dir)
  {
    std::string path = dir.file ("admin-token");
    std::ofstream (path) << TOKEN << "\n";
    return path;
  }

  std::string admin (const Daemon &daemon, const std::string &path)
  {
    return daemon.admin_url () + "api/v1/broadcasts" + path;
  }

  /* Every answer of the admin API a test got, for check_openapi (). */
  std::vector<OpenApiExchange> exchanges_;

  HttpResponse api (const std::string &method, const std::string &url,
      const std::string &body = "", const std::string &bearer = "")
  {
    HttpResponse response = http_request (method, url, body, bearer);
    g_autoptr (GUri) uri = g_uri_parse (url.c_str (), G_URI_FLAGS_ENCODED,
        nullptr);
    exchanges_.push_back ({ method, uri ? g_uri_get_path (uri) : url,
        response });
    return response;
  }

  /* The answers so far against doc/openapi.yaml
   * (tests/service/check_openapi.py). */
  void check_openapi ()
  {
    check_against_openapi (exchanges_);
  }

 public:
  void setUp () override { exchanges_.clear (); }

  /* An admin API others can reach needs a token: exit 2 with a reason. */
  void testRefusedWithoutToken ()
  {
    std::string out, err;
    int status = run_command ({ g_getenv ("WSRTMPD"), "--listen",
        "127.0.0.1:0", "--admin-listen", "0.0.0.0:0" }, &out, &err);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (err, 2, status);
    CPPUNIT_ASSERT_MESSAGE (err,
        err.find ("--admin-token-file") != std::string::npos);
    /* A token of a few characters is refused too. */
    TempDir dir;
    std::string path = dir.file ("short");
    std::ofstream (path) << "short\n";
    status = run_command ({ g_getenv ("WSRTMPD"), "--listen", "127.0.0.1:0",
        "--admin-listen", "127.0.0.1:0", "--admin-token-file", path }, &out,
        &err);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (err, 2, status);
  }

  /* One live broadcast, as the operator sees it; every answer without the
   * right token is 401 and says nothing about broadcasts; JSON errors. */
  void testListAndErrors ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--admin-listen",
        "127.0.0.1:0", "--admin-token-file", token_file (dir) });
    CPPUNIT_ASSERT (!daemon.admin_url ().empty ());
    Fixture fixture ("chrome-h264-opus-250ms");

    HttpResponse empty = api ("GET", admin (daemon, ""), "", TOKEN);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (empty.body, 200, empty.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("application/json"),
        empty.content_type);
    CPPUNIT_ASSERT_EQUAL (std::string ("{\"broadcasts\":[]}\n"), empty.body);

    Streamer streamer (daemon, fixture, "adminlist");
    JsonObject *b = nullptr;
    std::unique_ptr<Json> list;
    ASSERT_LOGGED (daemon, "the broadcast is listed live, passthrough",
        wait_for ([&] {
          list = std::make_unique<Json> (api ("GET",
                  admin (daemon, ""), "", TOKEN).body);
          b = find_in_list (*list, "adminlist");
          return b && std::string ("live") ==
              json_object_get_string_member (b, "state") &&
              std::string ("passthrough") ==
              json_object_get_string_member (b, "output") &&
              json_object_get_int_member (b, "bitrate_in_kbps") > 0 &&
              json_object_get_int_member (b, "bitrate_out_kbps") > 0;
        }, 8000));
    std::string started = json_object_get_string_member (b, "started");
    CPPUNIT_ASSERT_MESSAGE (started, g_regex_match_simple (
            "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$", started.c_str (),
            G_REGEX_DEFAULT, G_REGEX_MATCH_DEFAULT));
    CPPUNIT_ASSERT (json_object_get_double_member (b, "duration_s") > 0);
    CPPUNIT_ASSERT (!json_object_get_boolean_member (b, "on_slate"));
    JsonObject *codecs = json_object_get_object_member (b, "codecs");
    CPPUNIT_ASSERT_EQUAL (std::string ("h264"),
        std::string (json_object_get_string_member (codecs, "video")));
    JsonArray *inputs = json_object_get_array_member (b, "inputs");
    CPPUNIT_ASSERT_EQUAL (1u, json_array_get_length (inputs));
    JsonObject *input = json_array_get_object_element (inputs, 0);
    CPPUNIT_ASSERT_EQUAL (std::string ("websocket"),
        std::string (json_object_get_string_member (input, "transport")));
    CPPUNIT_ASSERT_EQUAL (std::string ("127.0.0.1"),
        std::string (json_object_get_string_member (input, "client")));
    CPPUNIT_ASSERT (json_object_has_member (input, "connected_since"));
    JsonArray *dests = json_object_get_array_member (b, "destinations");
    CPPUNIT_ASSERT_EQUAL (1u, json_array_get_length (dests));
    JsonObject *dest = json_array_get_object_element (dests, 0);
    std::string url = json_object_get_string_member (dest, "url");
    /* Masked: the key never shows whole. */
    CPPUNIT_ASSERT_MESSAGE (url, url.find ("adminlist") == std::string::npos &&
        url.find ("rtmp://127.0.0.1:") == 0);
    CPPUNIT_ASSERT_EQUAL (std::string ("live"),
        std::string (json_object_get_string_member (dest, "state")));
    CPPUNIT_ASSERT (json_object_has_member (dest, "kbps") &&
        json_object_has_member (dest, "reconnects"));

    HttpResponse one = api ("GET", admin (daemon, "/adminlist"), "",
        TOKEN);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (one.body, 200, one.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("adminlist"), Json (one.body).string (
            "key"));

    /* Without the token, with a wrong one, on every route: 401 and nothing
     * about the broadcast. */
    for (const std::string &bearer : { std::string (), std::string ("wrong"),
             TOKEN + "x", TOKEN.substr (0, TOKEN.size () - 1) }) {
      for (const auto &[method, path] : std::vector<std::pair<std::string,
               std::string>> { { "GET", "" }, { "GET", "/adminlist" },
               { "POST", "/adminlist/kick" }, { "GET", "/nothing/here" },
               { "POST", "/adminlist/destinations/127.0.0.1/stop" } }) {
        HttpResponse r = api (method, admin (daemon, path),
            method == "POST" ? "{\"ban_s\":60}" : "", bearer);
        CPPUNIT_ASSERT_EQUAL_MESSAGE (method + " " + path + " " + r.body, 401,
            r.status);
        CPPUNIT_ASSERT_EQUAL (std::string ("unauthorized"),
            Json (r.body).string ("kind"));
        CPPUNIT_ASSERT_MESSAGE (r.body,
            r.body.find ("adminlist") == std::string::npos &&
            r.body.find ("broadcast") == std::string::npos);
      }
    }
    /* Errors: JSON with a kind. */
    HttpResponse none = api ("GET", admin (daemon, "/nobody"), "",
        TOKEN);
    CPPUNIT_ASSERT_EQUAL (404, none.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("not_found"),
        Json (none.body).string ("kind"));
    HttpResponse kick_none = api ("POST",
        admin (daemon, "/nobody/kick"), "{}", TOKEN);
    CPPUNIT_ASSERT_EQUAL (404, kick_none.status);
    HttpResponse no_dest = api ("POST",
        admin (daemon, "/adminlist/destinations/nowhere/stop"), "", TOKEN);
    CPPUNIT_ASSERT_EQUAL (404, no_dest.status);
    HttpResponse bad = api ("POST", admin (daemon, "/adminlist/kick"),
        "{ban_s: 3", TOKEN);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (bad.body, 400, bad.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("bad_request"),
        Json (bad.body).string ("kind"));
    HttpResponse bad_ban = api ("POST",
        admin (daemon, "/adminlist/kick"), "{\"ban_s\":\"soon\"}", TOKEN);
    CPPUNIT_ASSERT_EQUAL (400, bad_ban.status);
    HttpResponse method = api ("DELETE", admin (daemon, ""), "",
        TOKEN);
    CPPUNIT_ASSERT_EQUAL (405, method.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("method_not_allowed"),
        Json (method.body).string ("kind"));
    HttpResponse get_kick = api ("GET",
        admin (daemon, "/adminlist/kick"), "", TOKEN);
    CPPUNIT_ASSERT_EQUAL (405, get_kick.status);
    HttpResponse elsewhere = api ("GET", daemon.admin_url () +
        "healthz", "", TOKEN);
    CPPUNIT_ASSERT_EQUAL (404, elsewhere.status);

    /* SIGHUP re-reads the token file: the old token is refused, the new
     * one let in. */
    const std::string fresh = "a-new-admin-token-fedcba9876543210";
    std::ofstream (dir.file ("admin-token")) << fresh << "\n";
    reload_daemon (daemon, "reloaded");
    CPPUNIT_ASSERT_EQUAL (401, api ("GET", admin (daemon, ""), "",
            TOKEN).status);
    CPPUNIT_ASSERT_EQUAL (200, api ("GET", admin (daemon, ""), "",
            fresh).status);

    /* Nothing above touched the stream. */
    streamer.join ();
    CPPUNIT_ASSERT (streamer.client ().wait_closed (15000));
    CPPUNIT_ASSERT_EQUAL (1000, streamer.client ().close_code ());
    ASSERT_LOGGED (daemon, "idle", daemon.wait_idle (15000));
    check_output (fixture.joined_path (), nginx.recording ("adminlist"),
        "adminlist");
    check_openapi ();
  }

  /* Kick with a 3 s ban: the client sees the kicked frame and 1008, the
   * broadcast ends cleanly (no slate, though continuity is on), the key is
   * refused "banned" during the ban and accepted after it; the neighbour
   * broadcast streams to the end. */
  void testKickAndBan ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--admin-listen",
        "127.0.0.1:0", "--admin-token-file", token_file (dir),
        "--continuity-timeout", "30" });
    Fixture neighbour_fixture ("chrome-h264-opus-250ms");
    Fixture long_fixture ("chrome-h264-opus-kf2s-30s-250ms");

    Streamer neighbour (daemon, neighbour_fixture, "neighbour");
    Streamer kicked (daemon, long_fixture, "kickme");
    ASSERT_LOGGED (daemon, "kickme is live", wait_for ([&] {
          return Json (api ("GET", admin (daemon, "/kickme"), "",
                  TOKEN).body).string ("state") == "live";
        }, 8000));
    std::this_thread::sleep_for (std::chrono::seconds (2));

    HttpResponse kick = api ("POST", admin (daemon, "/kickme/kick"),
        "{\"ban_s\":3,\"reason\":\"spam in the chat\"}", TOKEN);
    auto kicked_at = std::chrono::steady_clock::now ();
    CPPUNIT_ASSERT_EQUAL_MESSAGE (kick.body, 200, kick.status);
    CPPUNIT_ASSERT_MESSAGE (kick.body, Json (kick.body).string (
            "banned_until").size () == 20);

    WsClient &client = kicked.client ();
    ASSERT_LOGGED (daemon, "the kicked client is closed",
        client.wait_closed (10000));
    CPPUNIT_ASSERT_EQUAL (1008, client.close_code ());
    bool frame = false;
    for (const auto &text : client.text_messages ()) {
      Json j (text);
      if (j.string ("type") == "error") {
        CPPUNIT_ASSERT_EQUAL (std::string ("kicked"), j.string ("kind"));
        CPPUNIT_ASSERT_EQUAL (std::string ("spam in the chat"),
            j.string ("message"));
        frame = true;
      }
    }
    CPPUNIT_ASSERT_MESSAGE ("an error frame of kind kicked", frame);
    kicked.join ();

    /* During the ban: refused, with the time left. */
    auto again = WsClient::connect (daemon.ingest_url ("kickme"));
    CPPUNIT_ASSERT (again);
    CPPUNIT_ASSERT (again->wait_closed (5000));
    CPPUNIT_ASSERT_EQUAL (1008, again->close_code ());
    CPPUNIT_ASSERT_MESSAGE ("banned frame", has_text (*again,
            "\"kind\":\"banned\""));
    CPPUNIT_ASSERT_MESSAGE ("time left", has_text (*again, " s\""));

    /* Ended cleanly: gone from the list, never on slate, its stream at
     * nginx complete up to the kick. */
    ASSERT_LOGGED (daemon, "the kicked broadcast ended", wait_for ([&] {
          return api ("GET", admin (daemon, "/kickme"), "",
              TOKEN).status == 404;
        }, 10000));
    std::string log = daemon.log ();
    CPPUNIT_ASSERT_MESSAGE (log, log.find ("viewers see the slate") ==
        std::string::npos);
    auto probed = probe_streams (nginx.recording ("kickme"));
    const StreamInfo *video = find_stream (probed, "video");
    CPPUNIT_ASSERT_MESSAGE ("kickme's video at nginx", video &&
        video->duration () > 2.0);

    /* After the ban: accepted. */
    std::this_thread::sleep_until (kicked_at + std::chrono::milliseconds (
            3300));
    auto after = WsClient::connect (daemon.ingest_url ("kickme"));
    CPPUNIT_ASSERT (after);
    ASSERT_LOGGED (daemon, "welcomed after the ban",
        after->wait_text ("\"type\":\"welcome\"", 5000));
    CPPUNIT_ASSERT (!has_text (*after, "\"type\":\"error\""));
    after->close (1000);
    CPPUNIT_ASSERT (after->wait_closed (10000));

    /* The neighbour saw nothing. */
    neighbour.join ();
    CPPUNIT_ASSERT (neighbour.client ().wait_closed (15000));
    CPPUNIT_ASSERT_EQUAL (1000, neighbour.client ().close_code ());
    CPPUNIT_ASSERT (!has_text (neighbour.client (), "\"type\":\"error\""));
    ASSERT_LOGGED (daemon, "idle", daemon.wait_idle (15000));
    check_output (neighbour_fixture.joined_path (),
        nginx.recording ("neighbour"), "neighbour");
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("neighbour"));
    check_openapi ();
  }

  /* Two destinations: one stopped (its publish ends, its row says
   * "stopped"), the other going on; started again, it publishes anew and
   * goes live; the other one's stream is complete. */
  void testDestinationStopStart ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    std::string streams = dir.file ("streams.ini");
    std::ofstream (streams) << "[multi]\ndestinations = " << nginx.url () <<
        "/first-out;" << nginx.url () << "/second-out\nnames = first;second\n";
    Daemon daemon ({ "--streams-file", streams, "--admin-listen",
        "127.0.0.1:0", "--admin-token-file", token_file (dir) });
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    Streamer streamer (daemon, fixture, "multi");

    auto state_of = [&] (const std::string &name) {
      Json one (api ("GET", admin (daemon, "/multi"), "",
              TOKEN).body);
      JsonObject *d = one.object ? find_destination (one.object, name) :
          nullptr;
      return std::string (d ? json_object_get_string_member (d, "state") :
          "");
    };
    ASSERT_LOGGED (daemon, "both live", wait_for ([&] {
          return state_of ("first") == "live" && state_of ("second") ==
              "live";
        }, 10000));
    std::this_thread::sleep_for (std::chrono::seconds (2));

    HttpResponse stop = api ("POST",
        admin (daemon, "/multi/destinations/first/stop"), "", TOKEN);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (stop.body, 200, stop.status);
    CPPUNIT_ASSERT_EQUAL (std::string ("stopped"), state_of ("first"));
    CPPUNIT_ASSERT_EQUAL (std::string ("live"), state_of ("second"));
    WsClient &client = streamer.client ();
    ASSERT_LOGGED (daemon, "the page's row says stopped", wait_for ([&] {
          return last_row_state (client, "first") == "stopped";
        }, 3000));
    std::this_thread::sleep_for (std::chrono::seconds (4));
    /* Still stopped, and the other one still live and sending. */
    CPPUNIT_ASSERT_EQUAL (std::string ("stopped"), state_of ("first"));
    CPPUNIT_ASSERT_EQUAL (std::string ("live"), state_of ("second"));
    CPPUNIT_ASSERT_EQUAL (std::string ("live"),
        last_row_state (client, "second"));
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("first-out"));

    HttpResponse start = api ("POST",
        admin (daemon, "/multi/destinations/first/start"), "", TOKEN);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (start.body, 200, start.status);
    ASSERT_LOGGED (daemon, "first is live again", wait_for ([&] {
          return state_of ("first") == "live" &&
              last_row_state (client, "first") == "live";
        }, 10000));
    ASSERT_LOGGED (daemon, "a new publish", wait_for ([&] {
          return nginx.publishes ("first-out") == 2;
        }, 3000));

    streamer.join ();
    CPPUNIT_ASSERT (client.wait_closed (20000));
    CPPUNIT_ASSERT_EQUAL (1000, client.close_code ());
    ASSERT_LOGGED (daemon, "idle", daemon.wait_idle (15000));
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("second-out"));
    check_output (fixture.joined_path (), nginx.recording ("second-out"),
        "second");
    /* The restarted one got the rest, from a keyframe on. */
    auto probed = probe_streams (nginx.recording ("first-out"));
    const StreamInfo *video = find_stream (probed, "video");
    CPPUNIT_ASSERT_MESSAGE ("first-out's video after the restart", video &&
        video->duration () > 5.0);
    check_openapi ();
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (WsrtmpdAdminTest);
