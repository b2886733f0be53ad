/* The same browser recording through `gst-launch-1.0 filesrc ! flvencodebin
 * ! filesink` and through wsrtmpd (recording only) makes the same FLV: the
 * same tags in the same order, one onMetaData with the same fields, the
 * same codec headers; timestamps aside. flvencodebin alone wrote an
 * onMetaData per bitrate tag (issue 32) where the daemon's flvsplice kept
 * only the first.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "flvtags.h"
#include "harness.h"
#include "wsclient.h"

#include <cppunit/extensions/HelperMacros.h>

#include <string>
#include <vector>

using namespace wsrtmp::test;

namespace {

/* What the comparison looks at, one line per tag: its type, and for a
 * codec header or script tag what it says (creationdate is a wall clock).
 * flvmux ends with an AVC end of sequence, which the daemon's flvsplice
 * drops (an input's end is not the broadcast's): not compared. */
std::vector<std::string>
describe (const std::string &path)
{
  std::vector<std::string> lines;
  for (const flv::Tag &tag : flv::read_tags (path)) {
    if (tag.end_of_sequence ())
      continue;
    std::string line = std::to_string (tag.type);
    if (tag.type == flv::TAG_SCRIPT) {
      flv::Script script = flv::parse_script (tag.body);
      script.fields.erase ("creationdate");
      line += " " + script.name;
      for (const auto &[key, value] : script.fields)
        line += " " + key + "=" + value;
    } else if (tag.sequence_header ()) {
      g_autofree char *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA1,
          reinterpret_cast<const guchar *> (tag.body.data ()),
          tag.body.size ());
      line += " header " + std::string (hex);
    }
    lines.push_back (line);
  }
  return lines;
}

std::string
first_difference (const std::vector<std::string> &a,
    const std::vector<std::string> &b)
{
  for (size_t i = 0; i < std::min (a.size (), b.size ()); i++) {
    if (a[i] != b[i])
      return "tag " + std::to_string (i) + ": \"" + a[i] + "\" vs \"" + b[i] +
          "\"";
  }
  return "tag counts " + std::to_string (a.size ()) + " vs " +
      std::to_string (b.size ());
}

std::string
launch_output (const Fixture &fixture, const TempDir &dir)
{
  std::string output = dir.file ("launch.flv");
  std::string out, err;
  int status = run_command ({ "gst-launch-1.0", "-q", "filesrc",
      "location=" + fixture.joined_path (), "!", "flvencodebin", "!",
      "filesink", "location=" + output }, &out, &err, "", 120000);
  CPPUNIT_ASSERT_EQUAL_MESSAGE ("gst-launch-1.0: " + err, 0, status);
  return output;
}

std::string
daemon_output (const Fixture &fixture, const TempDir &dir)
{
  std::string rec = dir.file ("rec");
  /* FLV: byte for byte what the RTMP output gets, comparable with
   * gst-launch's. */
  Daemon daemon ({ "--record-dir", rec, "--record-format", "flv" });
  {
    std::string error;
    auto client = WsClient::connect (daemon.ingest_url ("same"), &error);
    CPPUNIT_ASSERT_MESSAGE (context (daemon, "connect: " + error), client);
    CPPUNIT_ASSERT_MESSAGE (context (daemon, "closed early"),
        client->replay (fixture, false));
    client->close (1000, "stream ended");
    CPPUNIT_ASSERT (client->wait_closed (10000));
  }
  ASSERT_LOGGED (daemon, "never idle", daemon.wait_idle (60000));
  g_autoptr (GDir) files = g_dir_open (rec.c_str (), 0, nullptr);
  const char *name = files ? g_dir_read_name (files) : nullptr;
  ASSERT_LOGGED (daemon, "no recording in " + rec, name);
  return rec + "/" + name;
}

void
compare (const std::string &recording)
{
  Fixture fixture (recording);
  TempDir dir;
  std::string launched = launch_output (fixture, dir);
  std::string recorded = daemon_output (fixture, dir);

  auto a = describe (launched), b = describe (recorded);
  CPPUNIT_ASSERT_MESSAGE (recording + ": gst-launch vs wsrtmpd: " +
      first_difference (a, b), a == b);

  /* And each alone: one onMetaData, nothing a player takes for a third
   * stream. */
  for (const std::string &path : { launched, recorded }) {
    auto tags = flv::read_tags (path);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (path, 1, flv::count (tags, flv::TAG_SCRIPT));
    CPPUNIT_ASSERT_EQUAL_MESSAGE (path, std::string ("onMetaData"),
        flv::parse_script (tags[0].body).name);
    std::string check = flv::flvmeta_check (path);
    CPPUNIT_ASSERT_MESSAGE (path + ": " + check,
        check.find (flv::DUPLICATE_METADATA) == std::string::npos);
    auto streams = probe_streams (path);
    CPPUNIT_ASSERT_EQUAL_MESSAGE (path + ": ffprobe's streams", (size_t) 2,
        streams.size ());
    CPPUNIT_ASSERT (find_stream (streams, "video"));
    CPPUNIT_ASSERT (find_stream (streams, "audio"));
  }
}

}  // namespace

class LaunchVsDaemonTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (LaunchVsDaemonTest);
  CPPUNIT_TEST (testPassthrough);
  CPPUNIT_TEST (testTranscode);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* H.264 passed through (keyframes 2 s apart), Opus to AAC. */
  void testPassthrough () { compare ("chrome-h264-opus-kf2s-30s-250ms"); }
  /* VP8 to H.264: x264's bitrate tags as well. */
  void testTranscode () { compare ("chrome-vp8-opus-250ms"); }
};

CPPUNIT_TEST_SUITE_REGISTRATION (LaunchVsDaemonTest);
