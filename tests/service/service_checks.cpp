/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "service_checks.h"

#include "rawws.h"

#include <cppunit/extensions/HelperMacros.h>
#include <json-glib/json-glib.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace wsrtmp::test {

namespace {

constexpr double DURATION_TOLERANCE_S = 0.2;
/* x264enc puts keyframes every 60 frames at 30 fps. Passed-through H.264
 * keeps the browser's own keyframes, which flvencodebin accepts up to 10 %
 * beyond the 2 s interval (Chromium asked for 2 s delivers 2.05 s);
 * ffprobe rounds to ms. */
constexpr double MAX_KEYFRAME_GAP_S = 2.0 * 1.1 + 0.01;

}  // namespace

bool
rss_meaningful ()
{
  return !g_getenv ("WSRTMP_SANITIZED");
}

int
timing_scale ()
{
  return g_getenv ("WSRTMP_SANITIZED") ? 2 : 1;
}

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

std::unique_ptr<WsClient>
stream_fixture (const Daemon &daemon, const Fixture &fixture,
    const std::string &key, bool realtime, const WsClient::Options &options)
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
one_byte_frames (const Fixture &fixture)
{
  std::string all = bytes_of (fixture.joined ());
  std::string frames;
  frames.reserve (all.size () * 7 + 16);
  for (char c : all)
    frames += RawWs::frame (0x2, std::string (1, c));
  return frames + RawWs::close_frame (1000);
}

int
raw_stream (int port, const std::string &key, const Fixture &fixture,
    size_t first, size_t last, int close_code)
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

std::string
stats_text (const ProcStats &stats)
{
  char text[120];
  g_snprintf (text, sizeof text, "RSS %ld kB, PSS %ld kB, %d fds, %d threads",
      stats.rss_kb, stats.pss_kb, stats.fds, stats.threads);
  return text;
}

void
send_paced (WsClient &client, const Fixture &fixture, size_t first,
    size_t last)
{
  auto start = std::chrono::steady_clock::now ();
  double t0 = fixture.chunks ()[first].t_ms;
  for (size_t i = first; i < last && i < fixture.chunks ().size (); i++) {
    auto due = start + std::chrono::microseconds (static_cast<gint64> (
            (fixture.chunks ()[i].t_ms - t0) * 1000));
    std::this_thread::sleep_until (due);
    client.send_binary (fixture.chunks ()[i].bytes);
  }
}

size_t
chunks_before (const Fixture &fixture, double until_ms)
{
  size_t count = 0;
  while (count < fixture.chunks ().size () &&
      fixture.chunks ()[count].t_ms < until_ms)
    count++;
  return count;
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

void
check_against_openapi (const std::vector<OpenApiExchange> &exchanges)
{
  TempDir dir;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_array (builder);
  for (const auto &exchange : exchanges) {
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "method");
    json_builder_add_string_value (builder, exchange.method.c_str ());
    json_builder_set_member_name (builder, "path");
    json_builder_add_string_value (builder, exchange.path.c_str ());
    json_builder_set_member_name (builder, "status");
    json_builder_add_int_value (builder, exchange.response.status);
    json_builder_set_member_name (builder, "content_type");
    json_builder_add_string_value (builder,
        exchange.response.content_type.c_str ());
    json_builder_set_member_name (builder, "body");
    /* A file's bytes are not text: only whether there were any. */
    bool json = exchange.response.content_type == "application/json";
    json_builder_add_string_value (builder, json ?
        exchange.response.body.c_str () : exchange.response.body.empty () ?
        "" : "(binary)");
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, TRUE);
  std::string path = dir.file ("exchanges.json");
  std::ofstream (path) << text;
  std::string out, err;
  int status = run_command ({ "python3", source_root () +
      "/tests/service/check_openapi.py", source_root () +
      "/doc/openapi.yaml", path }, &out, &err);
  printf ("  %s", out.c_str ());
  CPPUNIT_ASSERT_EQUAL_MESSAGE (out + err, 0, status);
}

}  // namespace wsrtmp::test
