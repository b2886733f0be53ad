/* Broadcast continuity (--continuity-timeout), end to end: the real daemon,
 * a real WebSocket client replaying browser recordings, a real
 * nginx-rtmp, ffprobe and ffmpeg on what nginx recorded. A broadcast
 * outlives its connection: one publish, a slate (and silence) in the gap,
 * timestamps that keep rising, passthrough H.264 untouched on both sides.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "harness.h"
#include "rawws.h"
#include "service_checks.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <glib/gstdio.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>
#include <thread>

using namespace wsrtmp::test;

namespace {

struct Packet {
  std::string type;             /* "video" | "audio" */
  double dts = 0;               /* seconds: decoded */
  double pts = 0;               /* seconds: presented */
  bool key = false;
  std::string hash;
};

/* Every packet of a file, in file order (ffprobe). */
std::vector<Packet>
probe_packets (const std::string &path)
{
  std::string out, err;
  int status = run_command ({ "ffprobe", "-v", "error", "-show_packets",
        "-show_data_hash", "MD5", "-show_entries",
        "packet=codec_type,pts_time,dts_time,flags,data_hash", "-of",
        "csv=p=0",
        path }, &out, &err, "", 60000);
  CPPUNIT_ASSERT_EQUAL_MESSAGE ("ffprobe " + path + ": " + err, 0, status);
  std::vector<Packet> packets;
  std::istringstream lines (out);
  for (std::string line; std::getline (lines, line);) {
    std::vector<std::string> fields;
    std::istringstream parts (line);
    for (std::string field; std::getline (parts, field, ',');)
      fields.push_back (field);
    /* ffprobe's order, whatever the order asked. */
    if (fields.size () < 5 || fields[2] == "N/A")
      continue;
    Packet packet;
    packet.type = fields[0];
    packet.dts = g_ascii_strtod (fields[2].c_str (), nullptr);
    packet.pts = fields[1] == "N/A" ? packet.dts :
        g_ascii_strtod (fields[1].c_str (), nullptr);
    packet.key = fields[3].find ('K') != std::string::npos;
    packet.hash = fields[4];
    packets.push_back (packet);
  }
  return packets;
}

std::vector<Packet>
of_type (const std::vector<Packet> &packets, const std::string &type)
{
  std::vector<Packet> out;
  for (const auto &p : packets)
    if (p.type == type)
      out.push_back (p);
  return out;
}

/* The longest step between two packets of one track, as presented (what
 * a viewer sees: pictures may be decoded ahead, see flvencodebin's
 * audio-lag); fails on a decoding or presentation time going back. */
double
largest_step (const std::vector<Packet> &track, const std::string &label,
    double *at = nullptr)
{
  double largest = 0;
  for (size_t i = 1; i < track.size (); i++) {
    double step = track[i].pts - track[i - 1].pts;
    char text[160];
    g_snprintf (text, sizeof text, "%s: timestamp back from %.3f/%.3f to "
        "%.3f/%.3f (decoded/presented)", label.c_str (), track[i - 1].dts,
        track[i - 1].pts, track[i].dts, track[i].pts);
    CPPUNIT_ASSERT_MESSAGE (text, step > 0 && track[i].dts > track[i - 1].dts);
    if (step > largest) {
      largest = step;
      if (at)
        *at = track[i - 1].pts;
    }
  }
  return largest;
}

/* A connection for key that sends the recording's first 3 s at the
 * browser's pace, goes live, then drops without a close frame (the
 * browser's network failed): the broadcast goes on the slate. */
void
go_live_then_drop (Daemon &daemon, const Fixture &fixture,
    const std::string &key)
{
  auto client = WsClient::connect (daemon.ingest_url (key));
  CPPUNIT_ASSERT (client);
  send_paced (*client, fixture, 0, chunks_before (fixture, 3000));
  ASSERT_LOGGED (daemon, "never live",
      client->wait_text ("\"state\":\"live\"", 10000));
  client->abort ();
}

/* Loudest sample of the audio between from and to seconds, in dB. */
double
max_volume_db (const std::string &path, double from, double to)
{
  std::string out, err;
  char start[32], length[32];
  g_snprintf (start, sizeof start, "%.3f", from);
  g_snprintf (length, sizeof length, "%.3f", to - from);
  run_command ({ "ffmpeg", "-v", "info", "-nostats", "-ss", start, "-t",
        length, "-i", path, "-vn", "-af", "volumedetect", "-f", "null", "-" },
      &out, &err, "", 60000);
  auto at = err.find ("max_volume: ");
  CPPUNIT_ASSERT_MESSAGE ("no volumedetect output: " + err,
      at != std::string::npos);
  std::string value = err.substr (at + 12);
  if (value.rfind ("-inf", 0) == 0)
    return -200;
  return g_ascii_strtod (value.c_str (), nullptr);
}

/* ffmpeg decodes the whole file without a complaint. */
void
check_decodes (const std::string &path)
{
  /* WSRTMP_KEEP_RECORDINGS=DIR keeps a copy to look at. */
  if (const char *keep = g_getenv ("WSRTMP_KEEP_RECORDINGS")) {
    g_autofree char *base = g_path_get_basename (path.c_str ());
    std::string out, err;
    run_command ({ "cp", path, std::string (keep) + "/" + base }, &out, &err);
  }
  std::string out, err;
  int status = run_command ({ "ffmpeg", "-v", "error", "-i", path, "-f",
        "null", "-" }, &out, &err, "", 120000);
  CPPUNIT_ASSERT_EQUAL_MESSAGE ("ffmpeg: " + err, 0, status);
  CPPUNIT_ASSERT_MESSAGE ("ffmpeg complained decoding " + path + ":\n" + err,
      err.empty ());
}

/* The channel count of every decoded audio frame, in order. */
std::vector<int>
audio_frame_channels (const std::string &path)
{
  std::string out, err;
  int status = run_command ({ "ffprobe", "-v", "error", "-select_streams",
        "a:0", "-show_entries", "frame=channels", "-of", "csv=p=0", path },
      &out, &err, "", 60000);
  CPPUNIT_ASSERT_EQUAL_MESSAGE ("ffprobe " + path + ": " + err, 0, status);
  std::vector<int> channels;
  std::istringstream lines (out);
  for (std::string line; std::getline (lines, line);)
    if (!line.empty ())
      channels.push_back (std::atoi (line.c_str ()));
  return channels;
}

}  // namespace

class ContinuityTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (ContinuityTest);
  CPPUNIT_TEST (testDropAndResume);
  CPPUNIT_TEST (testWindowExpires);
  CPPUNIT_TEST (testCleanStopHasNoSlate);
  CPPUNIT_TEST (testMonoThroughSlate);
  CPPUNIT_TEST (testTakeover);
  CPPUNIT_TEST (testIdleClientGivesWayAtOnce);
  CPPUNIT_TEST (testRtmpOutageOnSlate);
  CPPUNIT_TEST (testEmptyConnectionsOnSlate);
  CPPUNIT_TEST (testRtmpOutageWhileConnected);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* A recording sent in part, the TCP connection reset (no close frame),
   * a pause, then another recording with the same key, closed with 1000:
   * one publish, the slate and silence in the gap, timestamps rising, the
   * passthrough frames untouched on both sides. */
  void testDropAndResume ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "30" });
    /* Chromium's H.264 with keyframes 2 s apart: passed through. */
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    size_t second_chunks = chunks_before (fixture, 8000);
    const std::string key = "drop";
    const double pause_s = 5;

    auto first = WsClient::connect (daemon.ingest_url (key));
    CPPUNIT_ASSERT (first);
    CPPUNIT_ASSERT (first->wait_text ("\"continuity_timeout_s\":30", 5000));
    size_t part = chunks_before (fixture, 4000);
    send_paced (*first, fixture, 0, part);
    ASSERT_LOGGED (daemon, "first never live",
        first->wait_text ("\"state\":\"live\"", 10000));
    /* Let what was sent reach nginx before the reset. */
    std::this_thread::sleep_for (std::chrono::milliseconds (700));
    first->abort ();
    auto dropped = std::chrono::steady_clock::now ();
    std::this_thread::sleep_for (std::chrono::milliseconds (
            static_cast<int> (pause_s * 1000)));
    HttpResponse during = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, during.body), 1.0,
        metric (during.body, "wsrtmp_broadcasts_active"));

    auto second = WsClient::connect (daemon.ingest_url (key));
    CPPUNIT_ASSERT (second);
    double gap_s = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - dropped).count ();
    ASSERT_LOGGED (daemon, "not told it resumes",
        second->wait_text ("\"resumed\":true", 5000));
    send_paced (*second, fixture, 0, second_chunks);
    ASSERT_LOGGED (daemon, "never resumed",
        second->wait_text ("\"state\":\"resumed\"", 10000));
    second->close (1000, "stop");
    CPPUNIT_ASSERT (second->wait_closed (10000));
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));

    ASSERT_LOGGED (daemon, "publishes: " + std::to_string (
            nginx.publishes (key)), nginx.publishes (key) == 1);
    std::string recording = nginx.recording (key);
    check_decodes (recording);
    auto packets = probe_packets (recording);
    auto video = of_type (packets, "video");
    auto audio = of_type (packets, "audio");
    CPPUNIT_ASSERT (video.size () > 100 && audio.size () > 100);

    double at = 0;
    char text[200];
    double video_step = largest_step (video, "video", &at);
    g_snprintf (text, sizeof text, "video: a hole of %.3f s at %.3f",
        video_step, at);
    ASSERT_LOGGED (daemon, text, video_step <= 0.1);
    double audio_step = largest_step (audio, "audio", &at);
    g_snprintf (text, sizeof text, "audio: a hole of %.3f s at %.3f",
        audio_step, at);
    ASSERT_LOGGED (daemon, text, audio_step <= 0.1);

    /* Keyframes stay at most keyframe-interval (+10 %) apart, the slate
     * and the switches included. */
    double last_key = video.front ().dts;
    for (const auto &p : video) {
      if (!p.key)
        continue;
      g_snprintf (text, sizeof text, "keyframes %.3f -> %.3f", last_key,
          p.dts);
      ASSERT_LOGGED (daemon, text, p.dts - last_key <= 2.21);
      last_key = p.dts;
    }

    /* The input's own H.264 frames, byte for byte, before and after. */
    /* The browser's Matroska holds Annex B; FLV holds the same NAL units
     * length-prefixed: compare with the input's video remuxed to FLV. */
    std::string input_flv = dir.file ("input.flv");
    std::string out, err;
    CPPUNIT_ASSERT_EQUAL_MESSAGE (err, 0, run_command ({ "ffmpeg", "-v",
          "error", "-i", fixture.joined_path (), "-map", "0:v", "-c", "copy",
          "-f", "flv", input_flv }, &out, &err));
    auto all_input = of_type (probe_packets (input_flv), "video");
    std::set<std::string> input_hashes;
    for (const auto &p : all_input)
      input_hashes.insert (p.hash);
    /* What the second connection sent. */
    std::vector<Packet> input;
    for (const auto &p : all_input)
      if (p.dts - all_input.front ().dts <
          fixture.chunks ()[second_chunks - 1].t_ms / 1000 - 0.3)
        input.push_back (p);
    double input_s = fixture.chunks ()[second_chunks - 1].t_ms / 1000;
    double part_s = fixture.chunks ()[part - 1].t_ms / 1000;
    /* Frames from the input: the first connection's, then the second's;
     * between them only slate frames. */
    double first_end = -1, second_start = -1;
    size_t passed = 0;
    for (const auto &p : video) {
      if (!input_hashes.count (p.hash))
        continue;
      passed++;
      if (second_start < 0 && first_end >= 0 && p.dts - first_end > 1.0)
        second_start = p.dts;
      if (second_start < 0)
        first_end = p.dts;
    }
    g_snprintf (text, sizeof text, "passthrough frames %zu, first part ends "
        "%.3f, second starts %.3f", passed, first_end, second_start);
    size_t part_frames = 0;
    for (const auto &p : all_input)
      if (p.dts - all_input.front ().dts < part_s - 0.3)
        part_frames++;
    ASSERT_LOGGED (daemon, text, second_start > 0 &&
        passed >= (part_frames + input.size ()) * 9 / 10);
    size_t slate = 0;
    for (const auto &p : video)
      if (p.dts > first_end && p.dts < second_start)
        slate += input_hashes.count (p.hash) ? 100000 : 1;
    g_snprintf (text, sizeof text, "%zu slate frames in %.3f s", slate,
        second_start - first_end);
    /* At the input's frame rate (20 fps here), whole frames. */
    ASSERT_LOGGED (daemon, text, slate >= (second_start - first_end) * 15 &&
        slate < 100000);
    /* The gap is silent. */
    double loudest = max_volume_db (recording, first_end + 0.3,
        second_start - 0.3);
    g_snprintf (text, sizeof text, "gap not silent: %.1f dB", loudest);
    CPPUNIT_ASSERT_MESSAGE (text, loudest < -60);

    /* One broadcast: the first part, the gap, the second recording. */
    double total = video.back ().dts - video.front ().dts;
    double expected = part_s + gap_s + input_s;
    g_snprintf (text, sizeof text, "duration %.2f s, expected %.2f (part "
        "%.2f + gap %.2f + second %.2f)", total, expected, part_s, gap_s,
        input_s);
    ASSERT_LOGGED (daemon, text, std::fabs (total - expected) <= 1.0);

    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (metrics.body, 1.0,
        metric (metrics.body, "wsrtmp_broadcast_gaps_total"));
    double slate_s = metric (metrics.body, "wsrtmp_slate_seconds_total");
    g_snprintf (text, sizeof text, "slate seconds %.2f, gap %.2f", slate_s,
        gap_s);
    CPPUNIT_ASSERT_MESSAGE (text, slate_s > gap_s - 2 && slate_s < gap_s + 2);
  }

  /* Nobody comes back: the broadcast ends (unpublishes) once the window
   * is over, not before. */
  void testWindowExpires ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "3" });
    Fixture fixture ("chrome-vp8-opus-250ms");
    go_live_then_drop (daemon, fixture, "gone");
    auto dropped = std::chrono::steady_clock::now ();
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (20000));
    double ended_s = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - dropped).count ();
    char text[120];
    g_snprintf (text, sizeof text, "ended %.2f s after the drop", ended_s);
    ASSERT_LOGGED (daemon, text, ended_s >= 2.5 && ended_s <= 3 + 2 + 1);
    ASSERT_LOGGED (daemon, "no window end logged", daemon.log ().find (
            "no connection came back within 3 s") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("gone"));
    check_decodes (nginx.recording ("gone"));
    auto video = of_type (probe_packets (nginx.recording ("gone")), "video");
    double duration = video.back ().dts - video.front ().dts;
    g_snprintf (text, sizeof text, "recording %.2f s: no slate tail?",
        duration);
    CPPUNIT_ASSERT_MESSAGE (text, duration > 3 + 2);
  }

  /* Stop (close 1000 after the last chunk) ends the broadcast at once:
   * no slate at all. */
  void testCleanStopHasNoSlate ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "30" });
    Fixture fixture ("chrome-vp8-opus-250ms");
    auto client = WsClient::connect (daemon.ingest_url ("stop"));
    CPPUNIT_ASSERT (client);
    send_paced (*client, fixture, 0, fixture.chunks ().size ());
    client->close (1000, "stop");
    CPPUNIT_ASSERT (client->wait_closed (10000));
    auto closed = std::chrono::steady_clock::now ();
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (20000));
    double ended_s = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - closed).count ();
    ASSERT_LOGGED (daemon, "took " + std::to_string (ended_s) + " s",
        ended_s < 10);
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (metrics.body, 0.0,
        metric (metrics.body, "wsrtmp_broadcast_gaps_total"));
    auto input = of_type (probe_packets (fixture.joined_path ()), "video");
    auto video = of_type (probe_packets (nginx.recording ("stop")), "video");
    double in_s = input.back ().dts - input.front ().dts;
    double out_s = video.back ().dts - video.front ().dts;
    char text[120];
    g_snprintf (text, sizeof text, "in %.2f s, out %.2f s", in_s, out_s);
    CPPUNIT_ASSERT_MESSAGE (text, std::fabs (in_s - out_s) < 0.3);
  }

  /* --audio-channels 1: the slate's silence is mono too (it takes the
   * input's AAC format), so a broadcast never switches channel count. */
  void testMonoThroughSlate ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "30", "--audio-channels", "1" });
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    const std::string key = "mono";
    go_live_then_drop (daemon, fixture, key);
    std::this_thread::sleep_for (std::chrono::seconds (3));
    auto second = WsClient::connect (daemon.ingest_url (key));
    CPPUNIT_ASSERT (second);
    send_paced (*second, fixture, 0, chunks_before (fixture, 3000));
    ASSERT_LOGGED (daemon, "never resumed",
        second->wait_text ("\"state\":\"resumed\"", 10000));
    second->close (1000, "stop");
    CPPUNIT_ASSERT (second->wait_closed (10000));
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));

    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes (key));
    std::string recording = nginx.recording (key);
    check_decodes (recording);
    auto audio = of_type (probe_packets (recording), "audio");
    double at = 0;
    double step = largest_step (audio, "audio", &at);
    char text[120];
    g_snprintf (text, sizeof text, "audio: a hole of %.3f s at %.3f", step,
        at);
    ASSERT_LOGGED (daemon, text, step <= 0.1);
    /* Input, slate, input: about 9 s of mono frames, none stereo. */
    auto channels = audio_frame_channels (recording);
    CPPUNIT_ASSERT_MESSAGE (std::to_string (channels.size ()),
        channels.size () > 8 * 48000 / 1024);
    CPPUNIT_ASSERT (std::all_of (channels.begin (), channels.end (),
            [] (int c) { return c == 1; }));
  }

  /* A second connection with a live key takes the broadcast over without
   * a new publish; the first is closed with 1008. */
  void testTakeover ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "30" });
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    size_t chunks = chunks_before (fixture, 8000);
    auto first = WsClient::connect (daemon.ingest_url ("tab"));
    CPPUNIT_ASSERT (first);
    std::thread sender ([&] {
      send_paced (*first, fixture, 0, chunks);
    });
    Joiner joiner (sender);
    ASSERT_LOGGED (daemon, "first never live",
        first->wait_text ("\"state\":\"live\"", 10000));
    std::this_thread::sleep_for (std::chrono::seconds (2));
    auto second = WsClient::connect (daemon.ingest_url ("tab"));
    CPPUNIT_ASSERT (second);
    ASSERT_LOGGED (daemon, "first not closed", first->wait_closed (10000));
    CPPUNIT_ASSERT_EQUAL (1008, first->close_code ());
    CPPUNIT_ASSERT_MESSAGE (first->close_reason (),
        first->close_reason ().find ("replaced") != std::string::npos);
    send_paced (*second, fixture, 0, chunks);
    ASSERT_LOGGED (daemon, "second never live",
        second->wait_text ("\"state\":\"live\"", 10000));
    second->close (1000, "stop");
    CPPUNIT_ASSERT (second->wait_closed (10000));
    sender.join ();
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("tab"));
    check_decodes (nginx.recording ("tab"));
    auto video = of_type (probe_packets (nginx.recording ("tab")), "video");
    double at = 0;
    double step = largest_step (video, "video", &at);
    char text[120];
    g_snprintf (text, sizeof text, "hole of %.3f s at %.3f", step, at);
    ASSERT_LOGGED (daemon, text, step <= 0.1);
  }

  /* A client that stops sending without closing and then never answers
   * (its network died, the browser gave up on it): --idle-timeout closes it
   * with 1008, and its input ends right then, not when libsoup stops
   * waiting for the close reply (5 s): the browser's next connection takes
   * over at once, instead of piling up its media behind a slate that
   * already covered that time (the output then ran that much longer than
   * the broadcast). */
  void testIdleClientGivesWayAtOnce ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "30", "--idle-timeout", "3" });
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    RawWs stuck (daemon.port ());
    CPPUNIT_ASSERT (stuck.handshake ("/ingest/idle"));
    std::string frames;
    for (size_t i = 0; i < chunks_before (fixture, 3000); i++)
      frames += RawWs::frame (0x2, bytes_of (fixture.chunks ()[i].bytes));
    CPPUNIT_ASSERT (stuck.write (frames));
    /* Read, never answered. */
    ASSERT_LOGGED (daemon, "not closed for idleness",
        stuck.read_close (20) == 1008);

    auto next = WsClient::connect (daemon.ingest_url ("idle"));
    CPPUNIT_ASSERT (next);
    auto connected = std::chrono::steady_clock::now ();
    std::thread sender ([&] {
      send_paced (*next, fixture, 0, chunks_before (fixture, 6000));
    });
    Joiner joiner (sender);
    ASSERT_LOGGED (daemon, "next never took over",
        next->wait_text ("\"state\":\"resumed\"", 10000));
    double waited = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - connected).count ();
    char text[80];
    g_snprintf (text, sizeof text, "took over %.1f s after connecting",
        waited);
    ASSERT_LOGGED (daemon, text, waited < 3.0);
    sender.join ();
    next->close (1000, "stop");
    CPPUNIT_ASSERT (next->wait_closed (10000));
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("idle"));
  }

  /* The RTMP server restarts while the broadcast is on slate: the RTMP
   * reconnection works inside a broadcast, and the browser resumes. */
  void testRtmpOutageOnSlate ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "30" });
    Fixture fixture ("chrome-vp8-opus-250ms");
    /* Both at once: the browser drops and the RTMP server goes away. */
    go_live_then_drop (daemon, fixture, "both");
    std::string nginx_dir = dir.file ("nginx");
    kill_nginx (nginx_dir);
    std::this_thread::sleep_for (std::chrono::seconds (2));
    g_rename (nginx.recording ("both").c_str (),
        (nginx_dir + "/before.flv").c_str ());
    CPPUNIT_ASSERT (restart_nginx (nginx_dir, nginx.url ()));
    auto second = WsClient::connect (daemon.ingest_url ("both"));
    CPPUNIT_ASSERT (second);
    send_paced (*second, fixture, 0, fixture.chunks ().size ());
    second->close (1000, "stop");
    CPPUNIT_ASSERT (second->wait_closed (10000));
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (40000));
    ASSERT_LOGGED (daemon, "no RTMP reconnection", daemon.log ().find (
            "RTMP reconnected") != std::string::npos);
    check_decodes (nginx.recording ("both"));
    auto video = of_type (probe_packets (nginx.recording ("both")), "video");
    double duration = video.back ().dts - video.front ().dts;
    char text[120];
    g_snprintf (text, sizeof text, "after the restart: %.2f s", duration);
    CPPUNIT_ASSERT_MESSAGE (text, duration > 9);
  }

  /* While on slate: a reconnect attempt that dies before sending media
   * leaves the slate running (no error); an empty connection closed with
   * 1000 (the page's Stop while it was reconnecting) ends the broadcast at
   * once. */
  void testEmptyConnectionsOnSlate ()
  {
    TempDir dir;
    Nginx nginx (dir.file ("nginx"));
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "60" });
    Fixture fixture ("chrome-vp8-opus-250ms");
    go_live_then_drop (daemon, fixture, "empty");
    std::this_thread::sleep_for (std::chrono::seconds (1));

    auto dying = WsClient::connect (daemon.ingest_url ("empty"));
    CPPUNIT_ASSERT (dying);
    CPPUNIT_ASSERT (dying->wait_text ("\"resumed\":true", 5000));
    dying->abort ();
    std::this_thread::sleep_for (std::chrono::seconds (3));
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, metrics.body), 1.0,
        metric (metrics.body, "wsrtmp_broadcasts_active"));
    ASSERT_LOGGED (daemon, "an empty connection counted as bad input",
        metrics.body.find ("kind=\"input\"") == std::string::npos);

    auto stop = WsClient::connect (daemon.ingest_url ("empty"));
    CPPUNIT_ASSERT (stop);
    CPPUNIT_ASSERT (stop->wait_text ("\"resumed\":true", 5000));
    auto stopped = std::chrono::steady_clock::now ();
    stop->close (1000, "stop");
    CPPUNIT_ASSERT (stop->wait_closed (5000));
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (20000));
    double ended_s = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - stopped).count ();
    ASSERT_LOGGED (daemon, "Stop took " + std::to_string (ended_s) + " s",
        ended_s < 8);
    CPPUNIT_ASSERT_EQUAL (1, nginx.publishes ("empty"));
    check_decodes (nginx.recording ("empty"));
  }

  /* The RTMP server restarts while the browser streams: the destination
   * reconnects inside the broadcast (kept data from a keyframe on), the
   * browser's connection never notices beyond a "reconnecting" state, and
   * Stop ends it normally. */
  void testRtmpOutageWhileConnected ()
  {
    TempDir dir;
    std::string nginx_dir = dir.file ("nginx");
    Nginx nginx (nginx_dir);
    Daemon daemon ({ "--rtmp-url", nginx.url (), "--continuity-timeout",
        "30", "--rtmp-retry-time", "20" });
    Fixture fixture ("chrome-h264-opus-kf2s-30s-250ms");
    size_t chunks = chunks_before (fixture, 16000);
    auto client = WsClient::connect (daemon.ingest_url ("outage"));
    CPPUNIT_ASSERT (client);
    std::thread sender ([&] { send_paced (*client, fixture, 0, chunks); });
    Joiner joiner (sender);
    ASSERT_LOGGED (daemon, "never live",
        client->wait_text ("\"state\":\"live\"", 10000));
    std::this_thread::sleep_for (std::chrono::seconds (4));
    kill_nginx (nginx_dir);
    ASSERT_LOGGED (daemon, "the page was not told", client->wait_text (
            "\"state\":\"reconnecting\"", 10000));
    std::this_thread::sleep_for (std::chrono::seconds (2));
    g_rename (nginx.recording ("outage").c_str (),
        (nginx_dir + "/before.flv").c_str ());
    CPPUNIT_ASSERT (restart_nginx (nginx_dir, nginx.url ()));
    sender.join ();
    client->close (1000, "stop");
    CPPUNIT_ASSERT (client->wait_closed (10000));
    CPPUNIT_ASSERT_EQUAL_MESSAGE (context (daemon, client->close_reason ()),
        1000, client->close_code ());
    ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (30000));
    ASSERT_LOGGED (daemon, "no RTMP reconnection", daemon.log ().find (
            "reconnected") != std::string::npos);
    HttpResponse metrics = http_get (daemon.http_url () + "metrics");
    CPPUNIT_ASSERT_EQUAL_MESSAGE (metrics.body, 0.0,
        metric (metrics.body, "wsrtmp_broadcast_gaps_total"));
    check_decodes (nginx.recording ("outage"));
    auto video = of_type (probe_packets (nginx.recording ("outage")),
        "video");
    double duration = video.back ().dts - video.front ().dts;
    char text[120];
    g_snprintf (text, sizeof text, "after the restart: %.2f s", duration);
    ASSERT_LOGGED (daemon, text, duration > 6);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (ContinuityTest);
