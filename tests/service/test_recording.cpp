/* The recording destination on its own (no --rtmp-url: the daemon only
 * records): MP4 segments (issue 27) of a real browser recording sent in
 * real time, what a SIGKILLed daemon leaves, and the FLV recording as
 * before with --record-format flv. Checked with ffprobe and ffmpeg.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "http_receiver.h"
#include "service_checks.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

using namespace wsrtmp::test;

namespace {

constexpr const char *FIXTURE = "chrome-h264-opus-kf2s-30s-250ms";

/* The files in dir ending in suffix, sorted (segment numbers are below
 * 10 here, so sorted by name is in order). */
std::vector<std::string>
files_in (const std::string &dir, const char *suffix)
{
  std::vector<std::string> names;
  g_autoptr (GDir) d = g_dir_open (dir.c_str (), 0, nullptr);
  for (const char *name; d && (name = g_dir_read_name (d));)
    if (g_str_has_suffix (name, suffix))
      names.push_back (dir + "/" + name);
  std::sort (names.begin (), names.end ());
  return names;
}

/* The H.264 NAL units of path's video in order, as they are stored (the
 * browser writes Annex B into Matroska, MP4 has length prefixes: both
 * cut into the NAL units themselves). */
std::vector<std::string>
video_nal_units (const std::string &path)
{
  std::string ignored, err, h264 = path + ".h264";
  int status = run_command ({ "ffmpeg", "-v", "error", "-y", "-i", path,
          "-map", "0:v:0", "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f",
          "h264", h264 }, &ignored, &err, "", 60000);
  CPPUNIT_ASSERT_EQUAL_MESSAGE (path + ": " + err, 0, status);
  g_autofree char *contents = nullptr;
  gsize size = 0;
  CPPUNIT_ASSERT (g_file_get_contents (h264.c_str (), &contents, &size,
          nullptr));
  g_unlink (h264.c_str ());
  std::string out (contents, size);
  std::vector<std::string> units;
  size_t at = out.find (std::string ("\0\0\1", 3));
  while (at != std::string::npos) {
    size_t start = at + 3;
    size_t next = out.find (std::string ("\0\0\1", 3), start);
    size_t end = next == std::string::npos ? out.size () : next;
    /* A 4-byte start code's leading zero belongs to no unit. */
    while (end > start && out[end - 1] == '\0')
      end--;
    units.push_back (out.substr (start, end - start));
    at = next;
  }
  return units;
}

/* WSRTMP_KEEP_RECORDINGS=DIR keeps a copy to look at. */
void
keep (const std::string &rec)
{
  const char *to = g_getenv ("WSRTMP_KEEP_RECORDINGS");
  if (to && *to)
    run_command ({ "cp", "-r", rec + "/.", to }, nullptr, nullptr);
}

/* ffmpeg decodes all of path without a word on stderr. */
void
check_decodes (const std::string &path)
{
  std::string out, err;
  int status = run_command ({ "ffmpeg", "-v", "error", "-i", path, "-f",
          "null", "-" }, &out, &err, "", 60000);
  CPPUNIT_ASSERT_EQUAL_MESSAGE (path + ": " + err, 0, status);
  CPPUNIT_ASSERT_MESSAGE (path + " does not decode cleanly: " + err,
      err.empty ());
}

/* The presentation times (s) of path's video frames, in decoding order. */
std::vector<double>
video_times (const std::string &path)
{
  std::string out, err;
  int status = run_command ({ "ffprobe", "-v", "error", "-select_streams",
          "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0",
          path }, &out, &err, "", 60000);
  CPPUNIT_ASSERT_EQUAL_MESSAGE (path + ": " + err, 0, status);
  std::vector<double> times;
  std::istringstream lines (out);
  for (std::string line; std::getline (lines, line);)
    if (!line.empty ())
      times.push_back (g_ascii_strtod (line.c_str (), nullptr));
  return times;
}

/* Waits until the daemon logged text. */
/* The types of path's top-level MP4 boxes, in order. */
std::vector<std::string>
top_level_boxes (const std::string &path)
{
  std::vector<std::string> types;
  std::ifstream in (path, std::ios::binary);
  for (;;) {
    unsigned char header[16];
    if (!in.read (reinterpret_cast<char *> (header), 8))
      break;
    guint64 size = guint64 (header[0]) << 24 | header[1] << 16 |
        header[2] << 8 | header[3];
    types.emplace_back (reinterpret_cast<char *> (header + 4), 4);
    if (size == 1) {
      if (!in.read (reinterpret_cast<char *> (header + 8), 8))
        break;
      size = 0;
      for (int i = 8; i < 16; i++)
        size = size << 8 | header[i];
      in.seekg (size - 16, std::ios::cur);
    } else if (size >= 8) {
      in.seekg (size - 8, std::ios::cur);
    } else {
      break;
    }
  }
  return types;
}

/* The recordings the admin API lists, by name: each one's JSON object. */
std::map<std::string, std::string>
listed (const std::string &url, const std::string &bearer = "",
    std::vector<OpenApiExchange> *exchanges = nullptr)
{
  HttpResponse response = http_request ("GET", url, "", bearer);
  if (exchanges)
    exchanges->push_back ({ "GET", url.substr (url.find ("/api/")),
        response });
  CPPUNIT_ASSERT_EQUAL_MESSAGE (url + ": " + response.body, 200u,
      guint (response.status));
  g_autoptr (JsonParser) parser = json_parser_new ();
  CPPUNIT_ASSERT (json_parser_load_from_data (parser, response.body.c_str (),
          -1, nullptr));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  JsonArray *list = json_object_get_array_member (root, "recordings");
  std::map<std::string, std::string> by_name;
  for (guint i = 0; i < json_array_get_length (list); i++) {
    JsonNode *node = json_array_get_element (list, i);
    g_autofree char *text = json_to_string (node, FALSE);
    by_name[json_object_get_string_member (json_node_get_object (node),
        "name")] = text;
  }
  return by_name;
}

const std::string ADMIN_TOKEN = "recordings-admin-token-0123456789";

std::string
admin_token_file (const TempDir &dir)
{
  std::string path = dir.file ("admin-token");
  g_file_set_contents (path.c_str (), (ADMIN_TOKEN + "\n").c_str (), -1,
      nullptr);
  return path;
}

double
video_seconds (const std::string &path)
{
  auto streams = probe_streams (path);
  const StreamInfo *video = find_stream (streams, "video");
  CPPUNIT_ASSERT_MESSAGE (path + ": no video", video);
  CPPUNIT_ASSERT_EQUAL (std::string ("h264"), video->codec_name);
  const StreamInfo *audio = find_stream (streams, "audio");
  CPPUNIT_ASSERT_MESSAGE (path + ": no audio", audio);
  CPPUNIT_ASSERT_EQUAL (std::string ("aac"), audio->codec_name);
  /* The last frame lasts one frame too (about 1/30 s): left out on both
   * sides of the comparisons. */
  return video->duration ();
}

}  // namespace

class WsrtmpdRecordingTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (WsrtmpdRecordingTest);
  CPPUNIT_TEST (testMp4Segments);
  CPPUNIT_TEST (testMp4AfterSigkill);
  CPPUNIT_TEST (testFlv);
  CPPUNIT_TEST (testKeepDays);
  CPPUNIT_TEST (testMp4ThroughSlate);
  CPPUNIT_TEST (testRecordingsApi);
  CPPUNIT_TEST (testMp4FinalisedAtStop);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* 30 s in 10 s segments: at least 3, together the stream (±1.5 s),
   * each decodes, the H.264 packets the browser's own. */
  void testMp4Segments ()
  {
    TempDir dir;
    std::string rec = dir.file ("rec");
    Receiver receiver ([] (const std::string &) { return Receiver::Answer {
        200, "" }; });
    std::string secret_file = dir.file ("webhook-secret");
    g_file_set_contents (secret_file.c_str (), "webhook-secret-0123456789\n",
        -1, nullptr);
    Daemon daemon ({ "--record-dir", rec, "--record-segment", "10",
        "--admin-listen", "127.0.0.1:0", "--admin-token-file",
        admin_token_file (dir), "--webhook-url", receiver.url ("/events"),
        "--webhook-secret-file", secret_file });
    Fixture fixture (FIXTURE);
    stream_fixture (daemon, fixture, "seg", true);
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (20000));
    /* Each segment finalised (a regular MP4), then announced. */
    const std::string list_url = daemon.admin_url () + "api/v1/recordings";
    auto all_finished = [&] {
      auto now = listed (list_url, ADMIN_TOKEN);
      for (const auto &[name, json] : now)
        if (member (json, "finished") != "true")
          return false;
      return !now.empty ();
    };
    for (int i = 0; i < 100 && !all_finished (); i++)
      std::this_thread::sleep_for (std::chrono::milliseconds (100));
    keep (rec);
    auto segments = files_in (rec, ".mp4");
    CPPUNIT_ASSERT_MESSAGE (daemon.log (), segments.size () >= 3);
    CPPUNIT_ASSERT (files_in (rec, ".flv").empty ());
    auto recordings = listed (list_url, ADMIN_TOKEN);
    CPPUNIT_ASSERT_EQUAL (segments.size (), recordings.size ());
    ASSERT_LOGGED (daemon, "recording.completed per segment",
        receiver.wait_for ([&] (const std::vector<Received> &got) {
          return std::count_if (got.begin (), got.end (),
              [] (const Received &r) {
                return member (r.body, "type") == "recording.completed";
              }) == long (segments.size ());
        }, 10000));
    std::map<std::string, std::string> completed;
    for (const auto &got : receiver.received ())
      if (member (got.body, "type") == "recording.completed")
        completed[member (got.body, "name")] = got.body;

    double total = 0;
    std::vector<std::string> recorded;
    for (size_t i = 0; i < segments.size (); i++) {
      const std::string &path = segments[i];
      /* KEY-YYYYmmddTHHMMSSZ-N.mp4 */
      std::string name = path.substr (path.rfind ('/') + 1);
      std::string tail = "-" + std::to_string (i + 1) + ".mp4";
      CPPUNIT_ASSERT_MESSAGE (name, g_str_has_prefix (name.c_str (), "seg-") &&
          g_str_has_suffix (name.c_str (), tail.c_str ()) &&
          name.size () == 4 + 16 + tail.size () && name[4 + 15] == 'Z');
      check_decodes (path);
      double seconds = video_seconds (path);
      total += seconds + 1.0 / 30;
      /* Finalised: one moov after the media, no fragments. */
      auto boxes = top_level_boxes (path);
      std::string box_list;
      for (const auto &type : boxes)
        box_list += type + " ";
      CPPUNIT_ASSERT_MESSAGE (name + ": " + box_list, std::count (
              boxes.begin (), boxes.end (), "moov") == 1 && std::count (
              boxes.begin (), boxes.end (), "moof") == 0);
      /* Listed and announced with its size and duration. */
      GStatBuf info;
      CPPUNIT_ASSERT (g_stat (path.c_str (), &info) == 0);
      const std::string &entry = recordings[name];
      CPPUNIT_ASSERT_MESSAGE (name + ": " + entry, member (entry, "key") ==
          "seg" && member (entry, "finished") == "true" &&
          member (entry, "size") == std::to_string (info.st_size) &&
          member (entry, "url") == "/api/v1/recordings/" + name &&
          std::fabs (std::stod (member (entry, "duration_s")) - seconds) <=
              0.3);
      const std::string &event = completed[name];
      CPPUNIT_ASSERT_MESSAGE (name + ": " + event, member (event, "key") ==
          "seg" && member (event, "path") == path &&
          member (event, "size") == std::to_string (info.st_size) &&
          member (event, "finalised") == "true" &&
          std::fabs (std::stod (member (event, "duration_s")) - seconds) <=
              0.3);
      auto md5s = video_nal_units (path);
      recorded.insert (recorded.end (), md5s.begin (), md5s.end ());
    }
    double input = video_seconds_of_input (fixture);
    char text[200];
    g_snprintf (text, sizeof text, "segments hold %.3f s, the input %.3f s",
        total, input);
    g_print ("%zu segments; %s\n", segments.size (), text);
    CPPUNIT_ASSERT_MESSAGE (text, std::fabs (total - input) <= 1.5);

    /* Passthrough: every recorded NAL unit is the browser's, byte for
     * byte, in order, and no more than 1.5 s of them (45 frames: one NAL
     * unit each, but the keyframes' SPS and PPS) missing. */
    auto sent = video_nal_units (fixture.joined_path ());
    auto at = std::search (sent.begin (), sent.end (), recorded.begin (),
        recorded.end ());
    g_snprintf (text, sizeof text, "%zu recorded H.264 NAL units are not a "
        "run of the %zu sent", recorded.size (), sent.size ());
    CPPUNIT_ASSERT_MESSAGE (text, !recorded.empty () && at != sent.end ());
    g_print ("%zu recorded H.264 NAL units of the %zu sent, byte for byte\n",
        recorded.size (), sent.size ());
    CPPUNIT_ASSERT_MESSAGE (text, recorded.size () + 45 + 2 * 16 >= sent.size ());
  }

  /* SIGKILL 14 s into a stream: what is on disk plays, at least 11.5 s. */
  void testMp4AfterSigkill ()
  {
    TempDir dir;
    std::string rec = dir.file ("rec");
    Daemon daemon ({ "--record-dir", rec });
    Fixture fixture (FIXTURE);
    auto client = WsClient::connect (daemon.ingest_url ("killed"));
    CPPUNIT_ASSERT (client);
    send_paced (*client, fixture, 0, chunks_before (fixture, 14000));
    kill (daemon.pid (), SIGKILL);
    client->wait_closed (5000);
    daemon.terminate (5000);
    keep (rec);
    auto files = files_in (rec, ".mp4");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (daemon.log (), size_t (1), files.size ());
    std::string out, err;
    int status = run_command ({ "ffmpeg", "-v", "error", "-i", files[0], "-f",
            "null", "-" }, &out, &err, "", 60000);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (files[0] + ": " + err, 0, status);
    double seconds = video_seconds (files[0]);
    char text[200];
    g_snprintf (text, sizeof text, "%.3f s play after a kill at 14 s",
        seconds);
    g_print ("%s\n", text);
    CPPUNIT_ASSERT_MESSAGE (text, seconds >= 11.5);
  }

  /* --record-format flv: one FLV per broadcast, as before. */
  void testFlv ()
  {
    TempDir dir;
    std::string rec = dir.file ("rec");
    Daemon daemon ({ "--record-dir", rec, "--record-format", "flv",
        "--record-segment", "10" });
    Fixture fixture ("chrome-h264-opus-250ms");
    stream_fixture (daemon, fixture, "flv", false);
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (20000));
    keep (rec);
    auto files = files_in (rec, ".flv");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (daemon.log (), size_t (1), files.size ());
    CPPUNIT_ASSERT (files_in (rec, ".mp4").empty ());
    check_output (fixture.joined_path (), files[0], "flv recording");
  }

  /* --record-keep-days 2: older recordings are removed at start (and
   * logged), newer ones and other files kept; so is a rewrite a killed
   * daemon left (.NAME.part untouched for minutes), not a recent one. */
  void testKeepDays ()
  {
    TempDir dir;
    std::string rec = dir.file ("rec");
    g_mkdir_with_parents (rec.c_str (), 0755);
    for (const char *name : { "old-1.mp4", "old.flv", "old.txt", "new-1.mp4",
            ".dead-1.mp4.part", ".busy-1.mp4.part" })
      CPPUNIT_ASSERT (g_file_set_contents ((rec + "/" + name).c_str (), "x",
              1, nullptr));
    CPPUNIT_ASSERT_EQUAL (0, run_command ({ "touch", "-d", "20 minutes ago",
            rec + "/.dead-1.mp4.part" }, nullptr, nullptr));
    for (const char *name : { "old-1.mp4", "old.flv", "old.txt" })
      CPPUNIT_ASSERT_EQUAL (0, run_command ({ "touch", "-d", "3 days ago",
              rec + "/" + name }, nullptr, nullptr));
    Daemon daemon ({ "--record-dir", rec, "--record-keep-days", "2" });
    for (int i = 0; i < 50 && (g_file_test ((rec + "/old.flv").c_str (),
            G_FILE_TEST_EXISTS) || g_file_test ((rec + "/old-1.mp4").c_str (),
            G_FILE_TEST_EXISTS) || g_file_test ((rec +
                "/.dead-1.mp4.part").c_str (), G_FILE_TEST_EXISTS)); i++)
      std::this_thread::sleep_for (std::chrono::milliseconds (100));
    CPPUNIT_ASSERT_MESSAGE (daemon.log (), !g_file_test ((rec + "/old-1.mp4").c_str (),
            G_FILE_TEST_EXISTS));
    CPPUNIT_ASSERT (!g_file_test ((rec + "/old.flv").c_str (),
            G_FILE_TEST_EXISTS));
    CPPUNIT_ASSERT (g_file_test ((rec + "/old.txt").c_str (),
            G_FILE_TEST_EXISTS));
    CPPUNIT_ASSERT (g_file_test ((rec + "/new-1.mp4").c_str (),
            G_FILE_TEST_EXISTS));
    CPPUNIT_ASSERT_MESSAGE (daemon.log (), daemon.log ().find (
            "old-1.mp4: older than --record-keep-days 2") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE (daemon.log (), !g_file_test ((rec +
                "/.dead-1.mp4.part").c_str (), G_FILE_TEST_EXISTS));
    CPPUNIT_ASSERT (g_file_test ((rec + "/.busy-1.mp4.part").c_str (),
            G_FILE_TEST_EXISTS));
  }

  /* A broadcast that loses its connection goes on the slate and resumes
   * with the next one: the recording holds all of it (3 s, the slate,
   * 3 s) in one segment that decodes, each video frame at the time the
   * RTMP output gave it, the H.264 of both connections untouched. */
  void testMp4ThroughSlate ()
  {
    TempDir dir;
    std::string rec = dir.file ("rec");
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--record-dir", rec,
        "--continuity-timeout", "10", "--admin-listen", "127.0.0.1:0",
        "--admin-token-file", admin_token_file (dir) });
    Fixture fixture (FIXTURE);
    size_t three_s = chunks_before (fixture, 3000);
    auto first = WsClient::connect (daemon.ingest_url ("slate"));
    CPPUNIT_ASSERT (first);
    send_paced (*first, fixture, 0, three_s);
    ASSERT_LOGGED (daemon, "never live",
        first->wait_text ("\"state\":\"live\"", 10000));
    first->abort ();
    std::this_thread::sleep_for (std::chrono::seconds (3));
    /* On the slate: the segment is listed, still being written. */
    auto writing = listed (daemon.admin_url () + "api/v1/recordings",
        ADMIN_TOKEN);
    CPPUNIT_ASSERT_EQUAL (size_t (1), writing.size ());
    CPPUNIT_ASSERT_MESSAGE (writing.begin ()->second, member (
            writing.begin ()->second, "finished") == "false");
    auto second = WsClient::connect (daemon.ingest_url ("slate"));
    CPPUNIT_ASSERT (second);
    send_paced (*second, fixture, 0, three_s);
    second->close (1000, "stream ended");
    CPPUNIT_ASSERT (second->wait_closed (10000));
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));
    ASSERT_LOGGED (daemon, "not finalised", daemon.wait_logged (
        "finalised ", 10000));
    keep (rec);
    auto files = files_in (rec, ".mp4");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (daemon.log (), size_t (1), files.size ());
    check_decodes (files[0]);
    double seconds = video_seconds (files[0]);
    char text[200];
    g_snprintf (text, sizeof text, "%.3f s through the slate", seconds);
    g_print ("%s\n", text);
    CPPUNIT_ASSERT_MESSAGE (text, seconds >= 8.0);

    /* The RTMP output's timeline, frame for frame (both from the first
     * frame on). */
    auto recorded = video_times (files[0]);
    auto sent = video_times (nginx.recording ("slate"));
    g_snprintf (text, sizeof text, "%zu frames recorded, %zu sent to RTMP",
        recorded.size (), sent.size ());
    g_print ("%s\n", text);
    if (sent.size () != recorded.size ()) {
      std::string a, b;
      for (double t : sent) a += std::to_string (t) + " ";
      for (double t : recorded) b += std::to_string (t) + " ";
      g_print ("SENT %s\nREC %s\n", a.c_str (), b.c_str ());
    }
    CPPUNIT_ASSERT_EQUAL_MESSAGE (text, sent.size (), recorded.size ());
    for (size_t i = 0; i < sent.size (); i++)
      CPPUNIT_ASSERT_MESSAGE (std::string (text) + ": frame " +
          std::to_string (i), std::fabs ((recorded[i] - recorded[0]) -
              (sent[i] - sent[0])) <= 0.002);

    /* Both connections' H.264 as sent, the slate's between them. */
    auto units = video_nal_units (files[0]);
    auto input = video_nal_units (fixture.joined_path ());
    size_t of_input = std::count_if (units.begin (), units.end (),
        [&input] (const std::string &unit) {
          return std::find (input.begin (), input.end (), unit) !=
              input.end ();
        });
    g_snprintf (text, sizeof text, "%zu of %zu NAL units are the browser's",
        of_input, units.size ());
    g_print ("%s\n", text);
    CPPUNIT_ASSERT_MESSAGE (text, of_input >= 2 * 80 &&
        of_input < units.size ());
  }

  /* The listing and downloads, on files put in --record-dir: only
   * recordings' names are listed and served (not a dotfile, a link, a
   * name another key's), a Range gets 206 and one past the end 416, a
   * name with a path in it 400; the streamer's own route needs its
   * key's token and shows only that key's files. */
  void testRecordingsApi ()
  {
    TempDir dir;
    std::string rec = dir.file ("rec");
    g_mkdir_with_parents (rec.c_str (), 0755);
    std::string content (5000, 'x');
    for (size_t i = 0; i < content.size (); i++)
      content[i] = char ('a' + i % 26);
    const std::string mine = "mykey-20261207T101500Z-1.mp4";
    const std::string theirs = "other-20261207T101500Z-1.mp4";
    for (const auto &name : { mine, theirs, std::string (
            "mykey-20261207T101500Z.flv"), std::string (".mykey-x.mp4.part"),
            std::string ("notes.txt") })
      CPPUNIT_ASSERT (g_file_set_contents ((rec + "/" + name).c_str (),
              content.data (), content.size (), nullptr));
    std::string outside = dir.file ("secret.txt");
    CPPUNIT_ASSERT (g_file_set_contents (outside.c_str (), "secret", -1,
            nullptr));
    CPPUNIT_ASSERT_EQUAL (0, symlink (outside.c_str (),
            (rec + "/mykey-20261207T101600Z-1.mp4").c_str ()));
    const std::string secret = "0123456789abcdef-recordings-secret";
    std::string secret_file = dir.file ("secret");
    g_file_set_contents (secret_file.c_str (), (secret + "\n").c_str (), -1,
        nullptr);
    Daemon daemon ({ "--record-dir", rec, "--admin-listen", "127.0.0.1:0",
        "--admin-token-file", admin_token_file (dir),
        "--token-secret-file", secret_file });
    const std::string api = daemon.admin_url () + "api/v1/recordings";
    /* The admin API's answers, for doc/openapi.yaml (but libsoup's own
     * 400 to an escaped "../", which has no body). */
    std::vector<OpenApiExchange> exchanges;
    auto get = [&] (const std::string &url, const std::string &bearer,
        std::vector<std::pair<std::string, std::string>> headers = {}) {
      HttpResponse response = http_request ("GET", url, "", bearer, headers);
      if (!(response.status == 400 && response.body.empty ()))
        exchanges.push_back ({ "GET", url.substr (url.find ("/api/")),
            response });
      return response;
    };

    CPPUNIT_ASSERT_EQUAL (401, get (api, "").status);
    auto all = listed (api, ADMIN_TOKEN, &exchanges);
    std::string names;
    for (const auto &[name, json] : all)
      names += name + " ";
    CPPUNIT_ASSERT_EQUAL_MESSAGE (names, size_t (3), all.size ());
    CPPUNIT_ASSERT_MESSAGE (all[mine], member (all[mine], "size") == "5000" &&
        member (all[mine], "key") == "mykey" &&
        member (all[mine], "started") == "2026-12-07T10:15:00Z" &&
        member (all[mine], "finished") == "true" &&
        member (all[mine], "duration_s") == "null");

    HttpResponse whole = get (api + "/" + mine, ADMIN_TOKEN);
    CPPUNIT_ASSERT_EQUAL (200, whole.status);
    CPPUNIT_ASSERT (whole.body == content);
    CPPUNIT_ASSERT_EQUAL (std::string ("video/mp4"), whole.content_type);
    HttpResponse part = get (api + "/" + mine, ADMIN_TOKEN,
        { { "Range", "bytes=100-199" } });
    CPPUNIT_ASSERT_EQUAL (206, part.status);
    CPPUNIT_ASSERT (part.body == content.substr (100, 100));
    HttpResponse beyond = get (api + "/" + mine, ADMIN_TOKEN,
        { { "Range", "bytes=5000-" } });
    CPPUNIT_ASSERT_EQUAL (416, beyond.status);
    for (const std::string &bad : { std::string ("..%2Fsecret.txt"),
            std::string ("%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"),
            std::string (".mykey-x.mp4.part"), std::string ("notes.txt") }) {
      HttpResponse refused = get (api + "/" + bad, ADMIN_TOKEN);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (bad + ": " + refused.body, 400,
          refused.status);
      /* libsoup answers an escaped "../" itself, with no body. */
      CPPUNIT_ASSERT_MESSAGE (refused.body, refused.body.empty () ||
          member (refused.body, "kind") == "bad_request");
    }
    /* libsoup decodes an escaped "/": a path, not a name. */
    for (const std::string &missing : { std::string (
            "mykey-20261207T101600Z-1.mp4"),
            std::string ("a%2Fmykey-20261207T101500Z-1.mp4"),
            std::string ("mykey-20261207T101500Z-9.mp4") }) {
      HttpResponse refused = get (api + "/" + missing, ADMIN_TOKEN);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (missing + ": " + refused.body, 404,
          refused.status);
    }
    CPPUNIT_ASSERT_EQUAL (404, get (api + "/a/b", ADMIN_TOKEN).status);

    check_against_openapi (exchanges);

    /* The streamer's own, on the main listener, with its key's token. */
    const std::string page = daemon.http_url () + "recordings/mykey";
    std::string token = "?token=" + make_token (secret, "mykey",
        g_get_real_time () / G_USEC_PER_SEC + 60);
    CPPUNIT_ASSERT_EQUAL (403, http_request ("GET", page).status);
    CPPUNIT_ASSERT_EQUAL (403, http_request ("GET", page + "?token=" +
            make_token (secret, "other", g_get_real_time () / G_USEC_PER_SEC +
                60)).status);
    auto own = listed (page + token);
    CPPUNIT_ASSERT_EQUAL (size_t (2), own.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("/recordings/mykey/") + mine + token,
        member (own[mine], "url"));
    HttpResponse download = http_request ("GET", daemon.http_url () +
        "recordings/mykey/" + mine + token);
    CPPUNIT_ASSERT_EQUAL (200, download.status);
    CPPUNIT_ASSERT (download.body == content);
    CPPUNIT_ASSERT_EQUAL (404, http_request ("GET", daemon.http_url () +
            "recordings/mykey/" + theirs + token).status);
    HttpResponse traversal = http_request ("GET", daemon.http_url () +
        "recordings/mykey/..%2F..%2Fsecret.txt" + token);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (traversal.body, 400, traversal.status);
  }

  /* The daemon stopped (SIGTERM) mid-stream: the open segment is closed
   * and finalised before the process exits. */
  void testMp4FinalisedAtStop ()
  {
    TempDir dir;
    std::string rec = dir.file ("rec");
    Daemon daemon ({ "--record-dir", rec });
    Fixture fixture (FIXTURE);
    auto client = WsClient::connect (daemon.ingest_url ("stopped"));
    CPPUNIT_ASSERT (client);
    send_paced (*client, fixture, 0, chunks_before (fixture, 3000));
    CPPUNIT_ASSERT_EQUAL_MESSAGE (daemon.log (), 0, daemon.terminate (15000));
    keep (rec);
    auto files = files_in (rec, ".mp4");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (daemon.log (), size_t (1), files.size ());
    auto boxes = top_level_boxes (files[0]);
    CPPUNIT_ASSERT_MESSAGE (daemon.log (), std::count (boxes.begin (),
            boxes.end (), "moov") == 1 && std::count (boxes.begin (),
            boxes.end (), "moof") == 0);
    check_decodes (files[0]);
    CPPUNIT_ASSERT (video_seconds (files[0]) >= 2.0);
  }

 private:
  static double video_seconds_of_input (const Fixture &fixture)
  {
    auto streams = probe_streams (fixture.joined_path ());
    const StreamInfo *video = find_stream (streams, "video");
    CPPUNIT_ASSERT (video);
    return video->duration () + 1.0 / 30;
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (WsrtmpdRecordingTest);
