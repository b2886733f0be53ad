/* WHIP ingest (POST /whip) against a real nginx-rtmp, with a sender that
 * behaves as OBS Studio 30 does (tests/support/whip_send.py: webrtcbin
 * sending a Chromium recording's H.264 and Opus as they are, no
 * candidates in the offer, no trickle, Bearer, Location, DELETE -> 200):
 * one publish with H.264 passed through and AAC, the duration as sent,
 * keyframes at most 2.2 s apart; DELETE ends the broadcast; a sender that
 * dies shows the slate and a new POST resumes with the same publish; the
 * HTTP errors; the session's status (GET Location) behind the bearer; a
 * WHIP input in the admin API's broadcast view and /metrics' sessions.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "service_checks.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>
#include <libsoup/soup.h>

#include <chrono>
#include <cmath>
#include <map>
#include <thread>

using namespace wsrtmp::test;

namespace {

/* Chromium's H.264 (2 s keyframes) and Opus, 100 ms chunks. */
constexpr const char *FIXTURE = "chrome-h264-opus-kf2s-30s-100ms";
constexpr double MAX_KEYFRAME_GAP_S = 2.2 + 0.01;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  double seconds = 0;
};

/* One HTTP request with our own Content-Type and headers. */
Reply
request (const std::string &method, const std::string &url,
    const std::string &content_type, const std::string &body,
    const std::map<std::string, std::string> &headers = {})
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new (method.c_str (),
      url.c_str ());
  SoupMessageHeaders *request_headers = soup_message_get_request_headers (msg);
  for (const auto &[name, value] : headers)
    soup_message_headers_replace (request_headers, name.c_str (),
        value.c_str ());
  if (!content_type.empty ()) {
    g_autoptr (GBytes) bytes = g_bytes_new (body.data (), body.size ());
    soup_message_set_request_body_from_bytes (msg, content_type.c_str (),
        bytes);
  }
  auto start = std::chrono::steady_clock::now ();
  g_autoptr (GBytes) answer = soup_session_send_and_read (session, msg,
      nullptr, nullptr);
  Reply reply;
  reply.seconds = std::chrono::duration<double> (
      std::chrono::steady_clock::now () - start).count ();
  reply.status = soup_message_get_status (msg);
  if (answer)
    reply.body = bytes_of (answer);
  SoupMessageHeadersIter iter;
  soup_message_headers_iter_init (&iter, soup_message_get_response_headers (
          msg));
  const char *name, *value;
  while (soup_message_headers_iter_next (&iter, &name, &value)) {
    g_autofree char *lower = g_ascii_strdown (name, -1);
    reply.headers[lower] = value;
  }
  return reply;
}

std::string
whip_url (const Daemon &daemon)
{
  return daemon.http_url () + "whip";
}

/* Runs the sender to its end; its exit status, output in out. */
int
send_whip (const Daemon &daemon, const std::string &bearer, double seconds,
    bool delete_at_end, std::string &out, double status_at = 0)
{
  Fixture fixture (FIXTURE);
  std::vector<std::string> argv = { "/usr/bin/python3",
    source_root () + "/tests/support/whip_send.py", whip_url (daemon), bearer,
    fixture.dir (), "--seconds", std::to_string (seconds) };
  if (!delete_at_end)
    argv.push_back ("--no-delete");
  if (status_at > 0) {
    argv.push_back ("--status-at");
    argv.push_back (std::to_string (status_at));
  }
  std::string err;
  int status = run_command (argv, &out, &err, "",
      static_cast<int> ((seconds + 20) * 1000));
  out += err;
  return status;
}

/* nginx's recording: H.264 (passed through: the fixture's profile) and
 * AAC, lasting seconds (+-1), keyframes at most 2.2 s apart. */
void
check_recording (const Daemon &daemon, const std::string &path,
    double seconds)
{
  auto streams = probe_streams (path);
  const StreamInfo *video = find_stream (streams, "video");
  const StreamInfo *audio = find_stream (streams, "audio");
  ASSERT_LOGGED (daemon, "no video in " + path, video);
  ASSERT_LOGGED (daemon, "no audio in " + path, audio);
  CPPUNIT_ASSERT_EQUAL (std::string ("h264"), video->codec_name);
  CPPUNIT_ASSERT_EQUAL (std::string ("Constrained Baseline"), video->profile);
  CPPUNIT_ASSERT_EQUAL (std::string ("aac"), audio->codec_name);
  char text[160];
  g_snprintf (text, sizeof text, "video lasts %.2f s, sent %.2f s",
      video->duration (), seconds);
  CPPUNIT_ASSERT_MESSAGE (text, std::fabs (video->duration () - seconds) <=
      1.0);
  double previous = video->keyframe_times.empty () ? 0 :
      video->keyframe_times.front ();
  for (double t : video->keyframe_times) {
    g_snprintf (text, sizeof text, "keyframes %.3f -> %.3f", previous, t);
    CPPUNIT_ASSERT_MESSAGE (text, t - previous <= MAX_KEYFRAME_GAP_S);
    previous = t;
  }
  g_snprintf (text, sizeof text, "last keyframe %.3f, end %.3f", previous,
      video->last_pts);
  CPPUNIT_ASSERT_MESSAGE (text, video->last_pts - previous <=
      MAX_KEYFRAME_GAP_S);
}

const char *const AV1_ONLY_OFFER =
    "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n"
    "a=mid:0\r\na=rtpmap:45 AV1/90000\r\n";

}  // namespace

class WhipTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WhipTest);
  CPPUNIT_TEST (testPublishPassthrough);
  CPPUNIT_TEST (testErrors);
  CPPUNIT_TEST (testBannedKey);
  CPPUNIT_TEST (testDroppedSenderResumes);
  CPPUNIT_TEST (testAdminViewAndMetrics);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* OBS's way (no candidates, no trickle, DELETE at the end): one publish,
   * H.264 passed through with AAC, as long as it was sent; DELETE ends the
   * broadcast (no slate, the daemon idle). */
  void testPublishPassthrough ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "30" });
    std::string out;
    int status = send_whip (daemon, "obs", 10, true, out, 4);
    ASSERT_LOGGED (daemon, "sender: " + out, status == 0);
    ASSERT_LOGGED (daemon, "sender: " + out,
        out.find ("whip: deleted 200") != std::string::npos);
    /* The session's status, as the page polls it: the WebSocket's stats
     * fields; only with the POST's bearer. */
    for (const char *field : { "\"state\":\"live\"", "\"duration_s\":",
            "\"bitrate_kbps\":", "\"bytes_in\":", "\"bytes_out\":",
            "\"output\":\"passthrough\"", "\"continuity_timeout_s\":30",
            "\"destinations\":" }) {
      ASSERT_LOGGED (daemon, std::string ("status without ") + field + ": " +
          out, out.find (std::string ("whip: status 200 {")) !=
          std::string::npos && out.find (field) != std::string::npos);
    }
    ASSERT_LOGGED (daemon, "status without the bearer: " + out, out.find (
            "whip: status no bearer 401") != std::string::npos);
    ASSERT_LOGGED (daemon, "not passed through",
        daemon.log ().find ("video output: passthrough") !=
        std::string::npos);
    /* DELETE is the Stop: the broadcast ends at once, no slate. */
    ASSERT_LOGGED (daemon, "still busy after DELETE", daemon.wait_idle (5000));
    ASSERT_LOGGED (daemon, "slate after DELETE",
        daemon.log ().find ("slate") == std::string::npos);
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("obs"));
    check_recording (daemon, nginx.recording ("obs"), 10);
  }

  void testErrors ()
  {
    TempDir dir;
    std::string keys = dir.file ("keys");
    g_file_set_contents (keys.c_str (), "good\n", -1, nullptr);
    Daemon daemon ({ "--record-dir", dir.path (), "--keys-file", keys });
    std::string url = whip_url (daemon);
    const std::string sdp = "application/sdp";

    Reply options = request ("OPTIONS", url, "", "");
    CPPUNIT_ASSERT_EQUAL (204, options.status);
    CPPUNIT_ASSERT (options.headers["access-control-expose-headers"].find (
            "Location") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL (std::string ("*"),
        options.headers["access-control-allow-origin"]);

    Reply no_bearer = request ("POST", url, sdp, AV1_ONLY_OFFER);
    CPPUNIT_ASSERT_EQUAL (401, no_bearer.status);
    CPPUNIT_ASSERT (no_bearer.body.find ("\"kind\":\"key\"") !=
        std::string::npos);

    Reply wrong_key = request ("POST", url, sdp, AV1_ONLY_OFFER,
        { { "Authorization", "Bearer wrong" } });
    CPPUNIT_ASSERT_EQUAL (403, wrong_key.status);
    CPPUNIT_ASSERT_MESSAGE (std::to_string (wrong_key.seconds),
        wrong_key.seconds >= 0.4);
    CPPUNIT_ASSERT (wrong_key.headers.count ("access-control-allow-origin"));

    Reply not_sdp = request ("POST", url, "text/plain", "hello",
        { { "Authorization", "Bearer good" } });
    CPPUNIT_ASSERT_EQUAL (415, not_sdp.status);

    Reply av1 = request ("POST", url, sdp, AV1_ONLY_OFFER,
        { { "Authorization", "Bearer good" } });
    CPPUNIT_ASSERT_EQUAL (400, av1.status);
    CPPUNIT_ASSERT_MESSAGE (av1.body, av1.body.find ("m-line 0 (video): no "
            "codec we take") != std::string::npos);

    Reply garbage = request ("POST", url, sdp, "not sdp at all",
        { { "Authorization", "Bearer good" } });
    CPPUNIT_ASSERT_EQUAL (400, garbage.status);

    Reply big = request ("POST", url, sdp, std::string (70 * 1024, 'a'),
        { { "Authorization", "Bearer good" } });
    CPPUNIT_ASSERT_EQUAL (413, big.status);

    CPPUNIT_ASSERT_EQUAL (404, request ("DELETE", url + "/nothing", "",
            "").status);
    CPPUNIT_ASSERT_EQUAL (404, request ("GET", url + "/nothing", "", "",
        { { "Authorization", "Bearer good" } }).status);
    CPPUNIT_ASSERT_EQUAL (404, request ("PATCH", url + "/nothing",
            "application/trickle-ice-sdpfrag", "a=mid:0\r\n").status);
    /* None of it started anything. */
    ASSERT_LOGGED (daemon, "a broadcast started",
        daemon.log ().find ("broadcast 1") == std::string::npos);
  }

  /* A key the operator kicked with a ban is refused over WHIP too: 403,
   * kind "banned". */
  void testBannedKey ()
  {
    TempDir dir;
    Daemon daemon ({ "--record-dir", dir.path (), "--admin-listen",
        "127.0.0.1:0" });
    auto client = WsClient::connect (daemon.ingest_url ("banme"));
    CPPUNIT_ASSERT (client);
    ASSERT_LOGGED (daemon, "no welcome",
        client->wait_text ("\"type\":\"welcome\"", 5000));
    HttpResponse kick = http_request ("POST", daemon.admin_url () +
        "api/v1/broadcasts/banme/kick", "{\"ban_s\":60}");
    ASSERT_LOGGED (daemon, "kick: " + kick.body, kick.status == 200);
    Reply banned = request ("POST", whip_url (daemon), "application/sdp",
        AV1_ONLY_OFFER, { { "Authorization", "Bearer banme" } });
    CPPUNIT_ASSERT_EQUAL (403, banned.status);
    CPPUNIT_ASSERT_MESSAGE (banned.body, banned.body.find (
            "\"kind\":\"banned\"") != std::string::npos);
  }

  /* A sender that dies (no DELETE) is a drop: after --idle-timeout
   * without media the slate shows; a new POST with the same key resumes
   * the same publish. */
  void testDroppedSenderResumes ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "30", "--idle-timeout", "2" });
    std::string out;
    int status = send_whip (daemon, "drop", 5, false, out);
    ASSERT_LOGGED (daemon, "first sender: " + out, status == 0);
    ASSERT_LOGGED (daemon, "no drop", daemon.wait_logged (
            "no media for 2 s; the broadcast goes on (slate)", 6000));
    ASSERT_LOGGED (daemon, "no slate", daemon.wait_logged ("slate", 6000));
    status = send_whip (daemon, "drop", 5, true, out);
    ASSERT_LOGGED (daemon, "second sender: " + out, status == 0);
    ASSERT_LOGGED (daemon, "not resumed", daemon.wait_logged (
            "resumed the broadcast", 1000));
    ASSERT_LOGGED (daemon, "still busy", daemon.wait_idle (5000));
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("drop"));
  }

  /* While a WHIP sender streams, the admin API lists it among the
   * broadcast's inputs (transport whip, its address, since when) and
   * /metrics counts it as an active session; after DELETE, one ended
   * session. A refused POST counts as a refused session. */
  void testAdminViewAndMetrics ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    std::string keys = dir.file ("keys");
    g_file_set_contents (keys.c_str (), "viewed\n", -1, nullptr);
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--admin-listen",
        "127.0.0.1:0", "--keys-file", keys });
    std::string out;
    int status = -1;
    std::thread sender ([&] { status = send_whip (daemon, "viewed", 4, true,
        out); });
    bool live = daemon.wait_logged ("whip 1 [vie***] from 127.0.0.1: live",
        10000);
    HttpResponse view = http_get (daemon.admin_url () +
        "api/v1/broadcasts/viewed");
    std::string metrics = http_get (daemon.http_url () + "metrics").body;
    sender.join ();
    ASSERT_LOGGED (daemon, "not live: " + out, live);
    ASSERT_LOGGED (daemon, "sender: " + out, status == 0);
    ASSERT_LOGGED (daemon, view.body, view.status == 200 &&
        view.body.find ("\"inputs\":[{\"transport\":\"whip\","
            "\"client\":\"127.0.0.1\",\"connected_since\":\"") !=
        std::string::npos &&
        view.body.find ("\"state\":\"live\"}]") != std::string::npos);
    ASSERT_LOGGED (daemon, metrics,
        metric (metrics, "wsrtmp_sessions_active") == 1);
    ASSERT_LOGGED (daemon, "still busy", daemon.wait_idle (5000));
    Reply refused = request ("POST", whip_url (daemon), "application/sdp",
        AV1_ONLY_OFFER, { { "Authorization", "Bearer unknown" } });
    CPPUNIT_ASSERT_EQUAL (403, refused.status);
    metrics = http_get (daemon.http_url () + "metrics").body;
    ASSERT_LOGGED (daemon, metrics,
        metric (metrics, "wsrtmp_sessions_active") == 0 &&
        metric (metrics, "wsrtmp_sessions_total{outcome=\"ended\"}") == 1 &&
        metric (metrics, "wsrtmp_sessions_total{outcome=\"refused\"}") ==
        1);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (WhipTest);
