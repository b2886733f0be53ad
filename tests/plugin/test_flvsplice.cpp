/* Tests of flvsplice with real browser recordings through flvencodebin:
 * a drop with a slate and a resume, finish, the timeout, a takeover, and
 * state changes. The output FLV is checked with ffprobe and ffmpeg; the
 * assertions are on its timestamps, not on how fast the machine is (only
 * the timeout test measures wall-clock time, generously).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "flvformat.h"
#include "gstflvsplice.h"
#include "pipeline.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using wsrtmp::test::Fixture;
using wsrtmp::test::PipelinePtr;
using wsrtmp::test::TempDir;
using wsrtmp::test::by_name;
using wsrtmp::test::launch;

namespace {

constexpr GstClockTime END_TIMEOUT = 120 * GST_SECOND;
/* keyframe-interval (2 s) + 10 % for browser jitter, as flvencodebin. */
constexpr double MAX_KEYFRAME_GAP = 2.2 + 0.001;

/* Fails the test (aborts) when a step hangs: a deadlock must not hold up
 * the suite until meson's timeout. */
class Watchdog {
 public:
  explicit Watchdog (int seconds) : thread_ ([this, seconds] {
        std::unique_lock<std::mutex> lock (lock_);
        if (!cond_.wait_for (lock, std::chrono::seconds (seconds),
                [this] { return done_; })) {
          g_printerr ("flvsplice test: stuck for %d s (deadlock?)\n", seconds);
          abort ();
        }
      }) {}
  ~Watchdog ()
  {
    {
      std::lock_guard<std::mutex> lock (lock_);
      done_ = true;
    }
    cond_.notify_all ();
    thread_.join ();
  }

 private:
  std::mutex lock_;
  std::condition_variable cond_;
  bool done_ = false;
  std::thread thread_;
};

std::string
run_command (const std::vector<std::string> &args, bool want_stderr = false)
{
  std::vector<const char *> argv;
  for (const auto &arg : args)
    argv.push_back (arg.c_str ());
  argv.push_back (nullptr);
  g_autofree char *out = nullptr;
  g_autofree char *err = nullptr;
  int status = 0;
  g_autoptr (GError) error = nullptr;
  CPPUNIT_ASSERT_MESSAGE (args[0], g_spawn_sync (nullptr,
          const_cast<char **> (argv.data ()), nullptr, G_SPAWN_SEARCH_PATH,
          nullptr, nullptr, &out, &err, &status, &error));
  return want_stderr ? (err ? err : "") : (out ? out : "");
}

/* One packet as ffprobe -show_packets sees it. */
struct Packet {
  double time;                  /* PTS, seconds */
  bool key;
  std::string hash;             /* MD5 of the payload */
  bool new_extradata;           /* an in-band sequence header came before */
};

std::vector<Packet>
packets (const std::string &path, const char *stream)
{
  std::string out = run_command ({ "ffprobe", "-v", "error", "-select_streams",
      stream, "-show_packets", "-show_data_hash", "MD5", "-show_entries",
      "packet=pts_time,flags,data_hash", "-of", "json", path });
  g_autoptr (JsonParser) parser = json_parser_new ();
  CPPUNIT_ASSERT (json_parser_load_from_data (parser, out.c_str (), -1,
          nullptr));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  std::vector<Packet> list;
  if (!json_object_has_member (root, "packets"))
    return list;
  JsonArray *array = json_object_get_array_member (root, "packets");
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonObject *p = json_array_get_object_element (array, i);
    list.push_back ({ g_ascii_strtod (json_object_get_string_member_with_default (
                p, "pts_time", "0"), nullptr),
        json_object_get_string_member_with_default (p, "flags", "_")[0] == 'K',
        json_object_get_string_member_with_default (p, "data_hash", ""),
        json_object_has_member (p, "side_data_list") != FALSE });
  }
  return list;
}

/* The AVC end-of-sequence tags in an FLV file (ffprobe does not show
 * them): flvmux writes one at its EOS; an input's must not reach the
 * output, only the output's own last. */
int
end_of_sequence_tags (const std::string &path)
{
  g_autofree char *data = nullptr;
  gsize size = 0;
  CPPUNIT_ASSERT (g_file_get_contents (path.c_str (), &data, &size, nullptr));
  auto *bytes = reinterpret_cast<const guint8 *> (data);
  int count = 0;
  for (gsize at = 13; at + 13 <= size;) {
    gsize data_size = GST_READ_UINT24_BE (bytes + at + 1);
    if (bytes[at] == 9 && data_size >= 2 && (bytes[at + 11] & 0x0f) == 7 &&
        bytes[at + 12] == 2)
      count++;
    at += 11 + data_size + 4;
  }
  return count;
}

/* `ffmpeg -v error -i path -f null -` prints nothing. */
void
assert_decodes_cleanly (const std::string &path)
{
  /* FLVSPLICE_KEEP=file.flv keeps the output for a look (one test). */
  if (g_getenv ("FLVSPLICE_KEEP"))
    run_command ({ "cp", path, g_getenv ("FLVSPLICE_KEEP") });
  std::string errors = run_command ({ "ffmpeg", "-nostdin", "-v", "error",
      "-i", path, "-f", "null", "-" }, true);
  CPPUNIT_ASSERT_MESSAGE ("ffmpeg: " + errors.substr (0, 600), errors.empty ());
}

/* Strictly rising, never more than 100 ms apart. */
void
assert_continuous (const std::vector<Packet> &list, const std::string &what)
{
  CPPUNIT_ASSERT_MESSAGE (what + ": no packets", list.size () > 10);
  for (size_t i = 1; i < list.size (); i++) {
    char text[200];
    g_snprintf (text, sizeof text, "%s: packet %zu at %.3f s after %.3f s",
        what.c_str (), i, list[i].time, list[i - 1].time);
    CPPUNIT_ASSERT_MESSAGE (text, list[i].time > list[i - 1].time);
    CPPUNIT_ASSERT_MESSAGE (text, list[i].time - list[i - 1].time <= 0.1 +
        1e-6);
  }
}

double
max_keyframe_gap (const std::vector<Packet> &video)
{
  double gap = 0, previous = -1;
  for (const Packet &p : video) {
    if (!p.key)
      continue;
    if (previous >= 0)
      gap = std::max (gap, p.time - previous);
    previous = p.time;
  }
  return gap;
}

double
duration (const std::vector<Packet> &list)
{
  return list.back ().time - list.front ().time;
}

/* The first count chunks of a recording as one file, as a browser's
 * connection would have delivered them before it dropped. */
std::string
write_part (const Fixture &fixture, size_t count, const TempDir &dir)
{
  std::string data;
  for (size_t i = 0; i < count && i < fixture.chunks ().size (); i++) {
    gsize size;
    auto *bytes = static_cast<const char *> (g_bytes_get_data (
            fixture.chunks ()[i].bytes, &size));
    data.append (bytes, size);
  }
  std::string path = dir.file (fixture.name () + "-part.webm");
  CPPUNIT_ASSERT (g_file_set_contents (path.c_str (), data.data (),
          data.size (), nullptr));
  return path;
}

/* filesrc ! flvencodebin ! filesink: what flvencodebin alone makes. */
std::string
reference (const std::string &input, const TempDir &dir, const char *name)
{
  std::string out = dir.file (name);
  PipelinePtr pipeline = launch ("filesrc location=" + input +
      " ! flvencodebin ! filesink location=" + out);
  gst_element_set_state (pipeline.get (), GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline.get ());
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, END_TIMEOUT,
      static_cast<GstMessageType> (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  CPPUNIT_ASSERT_MESSAGE ("reference " + input,
      msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  return out;
}

/* A pipeline `flvsplice ! filesink` whose inputs the test adds, and what
 * the splice said on the bus. */
class Splice {
 public:
  Splice (const std::string &out, const std::string &properties)
    : pipeline_ (launch ("flvsplice name=splice " + properties +
            " ! filesink name=sink location=" + out)),
      splice_ (by_name (pipeline_.get (), "splice")),
      bus_ (gst_element_get_bus (pipeline_.get ())) {}
  ~Splice () { gst_object_unref (bus_); }

  GstElement *pipeline () { return pipeline_.get (); }
  GstElement *splice () { return splice_; }

  /* description (ending in flvencodebin) as a bin on a new request pad;
   * started at once unless the pipeline is not playing yet. */
  GstPad *add_input (const std::string &description)
  {
    g_autoptr (GError) error = nullptr;
    GstElement *bin = gst_parse_bin_from_description (description.c_str (),
        TRUE, &error);
    CPPUNIT_ASSERT_MESSAGE (error ? error->message : description, bin);
    gst_bin_add (GST_BIN (pipeline_.get ()), bin);
    GstPad *sink = gst_element_request_pad_simple (splice_, "sink_%u");
    g_autoptr (GstPad) src = gst_element_get_static_pad (bin, "src");
    CPPUNIT_ASSERT_EQUAL (GST_PAD_LINK_OK, gst_pad_link (src, sink));
    gst_object_unref (sink);    /* the element keeps it */
    gst_element_sync_state_with_parent (bin);
    last_bin_ = bin;
    return sink;
  }
  GstElement *last_bin () { return last_bin_; }

  void play () { gst_element_set_state (pipeline_.get (), GST_STATE_PLAYING); }
  void finish () { g_signal_emit_by_name (splice_, "finish"); }

  /* Waits for an element message of this name (or EOS with "eos"),
   * keeping every message seen. Errors from inputs the test cut off are
   * theirs; an error of the splice or the sink fails the test. */
  const GstStructure *wait_for (const std::string &name,
      GstClockTime timeout = END_TIMEOUT)
  {
    for (const auto &seen : seen_) {
      if (seen.name == name)
        return seen.structure;
    }
    gint64 deadline = g_get_monotonic_time () + GST_TIME_AS_USECONDS (timeout);
    while (true) {
      gint64 left = deadline - g_get_monotonic_time ();
      CPPUNIT_ASSERT_MESSAGE ("no " + name, left > 0);
      GstMessage *msg = gst_bus_timed_pop_filtered (bus_, left * GST_USECOND,
          static_cast<GstMessageType> (GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
              GST_MESSAGE_WARNING | GST_MESSAGE_ELEMENT));
      CPPUNIT_ASSERT_MESSAGE ("no " + name, msg);
      std::unique_ptr<GstMessage, decltype (&gst_message_unref)> owned (msg,
          gst_message_unref);
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        g_autoptr (GError) error = nullptr;
        gst_message_parse_error (msg, &error, nullptr);
        bool ours = GST_MESSAGE_SRC (msg) == GST_OBJECT (splice_) ||
            GST_MESSAGE_SRC (msg) == GST_OBJECT (by_name (pipeline_.get (),
                    "sink"));
        CPPUNIT_ASSERT_MESSAGE (std::string ("error: ") + error->message,
            !ours);
        continue;
      }
      Seen seen;
      seen.when = g_get_monotonic_time ();
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
        seen.name = "eos";
      } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
        g_autoptr (GError) error = nullptr;
        gst_message_parse_warning (msg, &error, nullptr);
        seen.name = "warning";
        seen.structure = gst_structure_new ("warning", "text", G_TYPE_STRING,
            error->message, nullptr);
      } else {
        seen.structure = gst_structure_copy (gst_message_get_structure (msg));
        seen.name = gst_structure_get_name (seen.structure);
      }
      seen_.push_back (seen);
      if (seen.name == name)
        return seen_.back ().structure;
    }
  }
  /* When a message came (monotonic µs), -1 if not yet. */
  gint64 when (const std::string &name) const
  {
    for (const auto &seen : seen_) {
      if (seen.name == name)
        return seen.when;
    }
    return -1;
  }
  int count (const std::string &name) const
  {
    int n = 0;
    for (const auto &seen : seen_)
      n += seen.name == name;
    return n;
  }
  std::vector<std::string> names () const
  {
    std::vector<std::string> list;
    for (const auto &seen : seen_)
      list.push_back (seen.name);
    return list;
  }
  /* A string field of every message of that name, in order. */
  std::vector<std::string> strings (const std::string &name, const char *key)
  {
    std::vector<std::string> list;
    for (const auto &seen : seen_) {
      if (seen.name == name && seen.structure) {
        const char *value = gst_structure_get_string (seen.structure, key);
        list.push_back (value ? value : "");
      }
    }
    return list;
  }
  /* The field of the first message of that name. */
  guint64 field (const std::string &name, const char *key)
  {
    guint64 value = 0;
    CPPUNIT_ASSERT_MESSAGE (name + " " + key, gst_structure_get_uint64 (
            wait_for (name), key, &value));
    return value;
  }

  /* Seconds: where the first slate's first picture is presented, and how
   * long the slate ran before the first resume. */
  double slate_at () { return field (GST_FLV_SPLICE_SLATE_MESSAGE_NAME,
      "position") / 1e9; }
  double gap () { return field (GST_FLV_SPLICE_RESUMED_MESSAGE_NAME, "gap") /
      1e9; }

  void stop ()
  {
    gst_element_set_state (pipeline_.get (), GST_STATE_NULL);
    for (auto &seen : seen_) {
      if (seen.structure)
        gst_structure_free (seen.structure);
    }
    seen_.clear ();
  }

 private:
  struct Seen {
    std::string name;
    GstStructure *structure = nullptr;
    gint64 when = 0;
  };
  PipelinePtr pipeline_;
  GstElement *splice_;
  GstBus *bus_;
  GstElement *last_bin_ = nullptr;
  std::vector<Seen> seen_;
};

/* Index of the first packet at time t (to the millisecond), -1 if none. */
long
index_at (const std::vector<Packet> &list, double t)
{
  for (size_t i = 0; i < list.size (); i++) {
    if (std::fabs (list[i].time - t) < 0.0015)
      return long (i);
  }
  return -1;
}

std::vector<std::string>
hashes (const std::vector<Packet> &list, size_t from = 0,
    size_t count = std::string::npos)
{
  std::vector<std::string> out;
  for (size_t i = from; i < list.size () && out.size () < count; i++)
    out.push_back (list[i].hash);
  return out;
}

/* An appsrc input that the test ends (or never ends): a connection that is
 * still there. */
GstAppSrc *
appsrc_of (GstElement *bin)
{
  g_autoptr (GstIterator) it = gst_bin_iterate_sources (GST_BIN (bin));
  GValue item = G_VALUE_INIT;
  CPPUNIT_ASSERT_EQUAL (GST_ITERATOR_OK, gst_iterator_next (it, &item));
  auto *src = GST_APP_SRC (g_value_get_object (&item));
  g_value_unset (&item);
  return src;
}

void
push_file (GstAppSrc *src, const std::string &path)
{
  char *data = nullptr;
  gsize size = 0;
  CPPUNIT_ASSERT (g_file_get_contents (path.c_str (), &data, &size, nullptr));
  CPPUNIT_ASSERT_EQUAL (GST_FLOW_OK, gst_app_src_push_buffer (src,
          gst_buffer_new_wrapped (data, size)));
}

/* Resolves once a buffer reached pad (it is then in, or about to enter,
 * the splice's chain). */
struct FirstBuffer {
  std::mutex lock;
  std::condition_variable cond;
  bool seen = false;

  void watch (GstPad *pad)
  {
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        [] (GstPad *, GstPadProbeInfo *, gpointer data) {
          auto *self = static_cast<FirstBuffer *> (data);
          std::lock_guard<std::mutex> guard (self->lock);
          self->seen = true;
          self->cond.notify_all ();
          return GST_PAD_PROBE_REMOVE;
        }, this, nullptr);
  }
  void wait ()
  {
    std::unique_lock<std::mutex> guard (lock);
    CPPUNIT_ASSERT_MESSAGE ("no data on the newer input within 60 s",
        cond.wait_for (guard, std::chrono::seconds (60), [this] {
              return seen; }));
  }
};

/* When buffers reached a pad (monotonic µs): the gaps an input leaves. */
struct Arrivals {
  std::mutex lock;
  std::vector<gint64> times;

  void watch (GstPad *pad)
  {
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        [] (GstPad *, GstPadProbeInfo *, gpointer data) {
          auto *self = static_cast<Arrivals *> (data);
          std::lock_guard<std::mutex> guard (self->lock);
          self->times.push_back (g_get_monotonic_time ());
          return GST_PAD_PROBE_OK;
        }, this, nullptr);
  }
  gint64 last ()
  {
    std::lock_guard<std::mutex> guard (lock);
    return times.empty () ? -1 : times.back ();
  }
  /* The longest wait for the next buffer, in ms. */
  double max_gap_ms ()
  {
    std::lock_guard<std::mutex> guard (lock);
    gint64 gap = 0;
    for (size_t i = 1; i < times.size (); i++)
      gap = std::max (gap, times[i] - times[i - 1]);
    return gap / 1000.0;
  }
};

/* Chunks [from, to) of a recording, pushed at the pace the browser emitted
 * them; `group` chunks in one push at the last one's time, as a longer
 * MediaRecorder timeslice would send them (4: 1000 ms). Returns the
 * monotonic time (µs) of the last push. */
gint64
feed_in_real_time (GstAppSrc *src, const Fixture &fixture, size_t from,
    size_t to, size_t group = 1)
{
  const auto &chunks = fixture.chunks ();
  to = std::min (to, chunks.size ());
  gint64 start = g_get_monotonic_time ();
  double first_ms = chunks[from].t_ms;
  std::string pending;
  gint64 pushed = start;
  for (size_t i = from; i < to; i++) {
    gsize size;
    auto *bytes = static_cast<const char *> (g_bytes_get_data (
            chunks[i].bytes, &size));
    pending.append (bytes, size);
    if ((i - from + 1) % group != 0 && i + 1 < to)
      continue;
    gint64 due = start + gint64 ((chunks[i].t_ms - first_ms) * 1000);
    gint64 now = g_get_monotonic_time ();
    if (due > now)
      g_usleep (due - now);
    if (!pending.empty ())      /* a recorder may emit empty chunks */
      CPPUNIT_ASSERT_EQUAL (GST_FLOW_OK, gst_app_src_push_buffer (src,
              gst_buffer_new_memdup (pending.data (), pending.size ())));
    pending.clear ();
    pushed = g_get_monotonic_time ();
  }
  return pushed;
}

/* The chunks [from, to) of a recording as one file. */
std::string
write_chunks (const Fixture &fixture, size_t from, size_t to,
    const TempDir &dir, const std::string &name)
{
  std::string data;
  for (size_t i = from; i < to && i < fixture.chunks ().size (); i++) {
    gsize size;
    auto *bytes = static_cast<const char *> (g_bytes_get_data (
            fixture.chunks ()[i].bytes, &size));
    data.append (bytes, size);
  }
  std::string path = dir.file (name);
  CPPUNIT_ASSERT (g_file_set_contents (path.c_str (), data.data (),
          data.size (), nullptr));
  return path;
}

/* After a resume at video[resume], the input's audio keeps its offset to
 * its video: the same shift for both, within 40 ms (audio frames found by
 * their payload, those that occur once: silence repeats). */
void
assert_audio_follows_video (const std::vector<Packet> &audio,
    const std::vector<Packet> &ref_audio, double resume_time,
    double video_shift)
{
  std::map<std::string, int> occurrences;
  for (const Packet &r : ref_audio)
    occurrences[r.hash]++;
  long matched = 0, unique = 0;
  for (const auto &entry : occurrences)
    unique += entry.second == 1;
  long unique_after = 0;
  for (const Packet &r : ref_audio)
    unique_after += occurrences[r.hash] == 1 && r.time + video_shift >=
        resume_time;
  char text[200];
  for (const Packet &p : audio) {
    if (p.time < resume_time || occurrences[p.hash] != 1)
      continue;
    auto found = std::find_if (ref_audio.begin (), ref_audio.end (),
        [&p] (const Packet &r) { return r.hash == p.hash; });
    double audio_shift = p.time - found->time;
    g_snprintf (text, sizeof text, "audio shifted %.3f s, video %.3f s",
        audio_shift, video_shift);
    CPPUNIT_ASSERT_MESSAGE (text, std::fabs (audio_shift - video_shift) <=
        0.040);
    matched++;
  }
  g_snprintf (text, sizeof text, "%ld audio frames matched of %ld after the "
      "resume (%ld unique in all)", matched, unique_after, unique);
  CPPUNIT_ASSERT_MESSAGE (text, unique > 100 && matched > unique_after * 9 /
      10);
}

}  // namespace

class FlvSpliceTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (FlvSpliceTest);
  CPPUNIT_TEST (test_drop_slate_resume_h264_passthrough);
  CPPUNIT_TEST (test_drop_slate_resume_vp8_transcoded);
  CPPUNIT_TEST (test_finish_ends_without_slate);
  CPPUNIT_TEST (test_timeout_ends_broadcast);
  CPPUNIT_TEST (test_takeover_without_slate);
  CPPUNIT_TEST (test_slate_image_letterboxed);
  CPPUNIT_TEST (test_bad_slate_image_warns);
  CPPUNIT_TEST (test_state_cycles_on_slate);
  CPPUNIT_TEST (test_release_blocked_pad);
  CPPUNIT_TEST (test_stop_while_blocked);
  CPPUNIT_TEST (test_stall_slate_resume);
  CPPUNIT_TEST (test_stall_without_return_times_out);
  CPPUNIT_TEST (test_newer_input_after_a_stall);
  CPPUNIT_TEST (test_no_stall_at_browser_pace);
  CPPUNIT_TEST (test_flv_tag_header_round_trip);
  CPPUNIT_TEST (test_flv_tag_kinds);
  CPPUNIT_TEST_SUITE_END ();

 public:
  /* flvformat.h, the FLV layout the plugin (and wsrtmpd) read and write: a
   * tag header written and read back, the extended timestamp byte, an AVC
   * picture's signed composition time. */
  void test_flv_tag_header_round_trip ()
  {
    namespace flv = wsrtmp::flv;
    guint8 tag[flv::TAG_HEADER_SIZE + flv::AVC_PAYLOAD_HEADER_SIZE] = {};
    flv::TagHeader written;
    written.type = flv::TAG_VIDEO;
    written.data_size = flv::AVC_PAYLOAD_HEADER_SIZE;
    written.timestamp = 0x12345678;     /* 84 hours in: the extended byte */
    flv::write_tag_header (tag, written);
    const guint8 expected[] = { 9, 0, 0, 5, 0x34, 0x56, 0x78, 0x12, 0, 0, 0 };
    CPPUNIT_ASSERT (memcmp (tag, expected, sizeof expected) == 0);
    flv::TagHeader read;
    CPPUNIT_ASSERT (flv::read_tag_header (tag, sizeof tag, &read));
    CPPUNIT_ASSERT_EQUAL (written.type, read.type);
    CPPUNIT_ASSERT_EQUAL (written.data_size, read.data_size);
    CPPUNIT_ASSERT_EQUAL (written.timestamp, read.timestamp);
    CPPUNIT_ASSERT_EQUAL (guint32 (0), read.stream_id);
    CPPUNIT_ASSERT (!flv::read_tag_header (tag, flv::TAG_HEADER_SIZE - 1,
            &read));

    flv::set_timestamp (tag, 40);
    CPPUNIT_ASSERT_EQUAL (guint32 (40), flv::timestamp (tag));
    CPPUNIT_ASSERT_EQUAL (guint8 (0), tag[7]);

    /* An AVC picture (key frame, NALU): composition time -40 and +80 ms. */
    tag[flv::TAG_HEADER_SIZE] = flv::VIDEO_FRAME_KEY << 4 |
        flv::VIDEO_CODEC_AVC;
    tag[flv::TAG_HEADER_SIZE + 1] = flv::AVC_NALU;
    for (gint32 ms : { -40, 80, 0 }) {
      flv::set_composition_time (tag, sizeof tag, ms);
      CPPUNIT_ASSERT_EQUAL (ms, flv::composition_time (tag, sizeof tag));
    }
    flv::set_composition_time (tag, sizeof tag, -1);
    CPPUNIT_ASSERT_EQUAL (guint8 (0xff), tag[flv::TAG_HEADER_SIZE + 2]);
    CPPUNIT_ASSERT_EQUAL (guint8 (0xff), tag[flv::TAG_HEADER_SIZE + 4]);
    /* A sequence header has none: neither read nor written. */
    tag[flv::TAG_HEADER_SIZE + 1] = flv::PACKET_SEQUENCE_HEADER;
    CPPUNIT_ASSERT_EQUAL (gint32 (0), flv::composition_time (tag, sizeof tag));
    flv::set_composition_time (tag, sizeof tag, 33);
    CPPUNIT_ASSERT_EQUAL (guint8 (0xff), tag[flv::TAG_HEADER_SIZE + 4]);
  }

  /* What flvformat.h tells tags apart by: keyframes, sequence headers, an
   * end of sequence, the file header, a tag cut short. */
  void test_flv_tag_kinds ()
  {
    namespace flv = wsrtmp::flv;
    auto make = [] (guint8 type, guint8 first, guint8 second) {
      std::vector<guint8> tag (flv::TAG_HEADER_SIZE + 2);
      flv::TagHeader header;
      header.type = type;
      header.data_size = 2;
      flv::write_tag_header (tag.data (), header);
      tag[flv::TAG_HEADER_SIZE] = first;
      tag[flv::TAG_HEADER_SIZE + 1] = second;
      return tag;
    };
    const guint8 avc_key = flv::VIDEO_FRAME_KEY << 4 | flv::VIDEO_CODEC_AVC;
    const guint8 avc_inter = 2 << 4 | flv::VIDEO_CODEC_AVC;
    const guint8 aac = flv::AUDIO_FORMAT_AAC << 4 | 0x0f;

    auto key = make (flv::TAG_VIDEO, avc_key, flv::AVC_NALU);
    CPPUNIT_ASSERT (flv::is_complete_tag (key.data (), key.size ()));
    CPPUNIT_ASSERT (!flv::is_complete_tag (key.data (), key.size () - 1));
    CPPUNIT_ASSERT (flv::is_video_keyframe (key.data (), key.size ()));
    /* The gate's test needs one payload byte, no more. */
    CPPUNIT_ASSERT (flv::is_video_keyframe (key.data (),
            flv::TAG_HEADER_SIZE + 1));
    CPPUNIT_ASSERT (!flv::is_video_keyframe (key.data (),
            flv::TAG_HEADER_SIZE));
    CPPUNIT_ASSERT (!flv::is_sequence_header (key.data (), key.size ()));

    auto inter = make (flv::TAG_VIDEO, avc_inter, flv::AVC_NALU);
    CPPUNIT_ASSERT (!flv::is_video_keyframe (inter.data (), inter.size ()));

    auto avc_config = make (flv::TAG_VIDEO, avc_key,
        flv::PACKET_SEQUENCE_HEADER);
    CPPUNIT_ASSERT (flv::is_sequence_header (avc_config.data (),
            avc_config.size ()));
    auto aac_config = make (flv::TAG_AUDIO, aac, flv::PACKET_SEQUENCE_HEADER);
    CPPUNIT_ASSERT (flv::is_sequence_header (aac_config.data (),
            aac_config.size ()));
    CPPUNIT_ASSERT (!flv::is_video_keyframe (aac_config.data (),
            aac_config.size ()));
    auto aac_frame = make (flv::TAG_AUDIO, aac, 1);
    CPPUNIT_ASSERT (!flv::is_sequence_header (aac_frame.data (),
            aac_frame.size ()));

    auto end = make (flv::TAG_VIDEO, avc_key, flv::AVC_END_OF_SEQUENCE);
    CPPUNIT_ASSERT (flv::is_end_of_sequence (end.data (), end.size ()));
    CPPUNIT_ASSERT (!flv::is_end_of_sequence (key.data (), key.size ()));

    const guint8 file[flv::FILE_HEADER_SIZE] = { 'F', 'L', 'V', 1, 5, 0, 0, 0,
      9, 0, 0, 0, 0 };
    CPPUNIT_ASSERT (flv::is_file_header (file, sizeof file));
    CPPUNIT_ASSERT (!flv::is_file_header (key.data (), key.size ()));
  }

  /* H.264 with 2 s keyframes: passed through before the drop and after. */
  void test_drop_slate_resume_h264_passthrough ()
  {
    drop_slate_resume ("chrome-h264-opus-kf2s-30s-250ms", 20, true);
  }

  /* VP8: transcoded before the drop and after (a 30 fps output). */
  void test_drop_slate_resume_vp8_transcoded ()
  {
    drop_slate_resume ("chrome-vp8-opus-250ms", 16, false);
  }

  /* finish before the input's EOS: that EOS ends the output; no slate. */
  void test_finish_ends_without_slate ()
  {
    Watchdog watchdog (240);
    TempDir dir;
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 16, dir);
    auto ref = packets (reference (part, dir, "ref.flv"), "v");
    auto ref_audio = packets (dir.file ("ref.flv"), "a");

    std::string out = dir.file ("out.flv");
    Splice splice (out, "timeout=30");
    splice.add_input ("filesrc location=" + part + " ! flvencodebin");
    splice.finish ();
    splice.play ();
    splice.wait_for ("eos");
    CPPUNIT_ASSERT_EQUAL (0, splice.count (GST_FLV_SPLICE_SLATE_MESSAGE_NAME));
    CPPUNIT_ASSERT_EQUAL (1, splice.count (
            GST_FLV_SPLICE_INPUT_ENDED_MESSAGE_NAME));
    splice.stop ();

    assert_decodes_cleanly (out);
    auto video = packets (out, "v");
    auto audio = packets (out, "a");
    /* Exactly the input, not one slate frame. */
    CPPUNIT_ASSERT_EQUAL (ref.size (), video.size ());
    CPPUNIT_ASSERT (hashes (ref) == hashes (video));
    CPPUNIT_ASSERT_EQUAL (ref_audio.size (), audio.size ());
    CPPUNIT_ASSERT_DOUBLES_EQUAL (ref.back ().time, video.back ().time, 0.001);
  }

  /* No input comes back: EOS within timeout + 2 s, and a message. */
  void test_timeout_ends_broadcast ()
  {
    Watchdog watchdog (240);
    TempDir dir;
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 12, dir);
    auto ref = packets (reference (part, dir, "ref.flv"), "v");

    std::string out = dir.file ("out.flv");
    Splice splice (out, "timeout=2");
    splice.add_input ("filesrc location=" + part + " ! flvencodebin");
    splice.play ();
    splice.wait_for (GST_FLV_SPLICE_INPUT_ENDED_MESSAGE_NAME);
    gint64 ended = splice.when (GST_FLV_SPLICE_INPUT_ENDED_MESSAGE_NAME);
    splice.wait_for ("eos", 30 * GST_SECOND);
    double after = (splice.when ("eos") - ended) / 1e6;
    CPPUNIT_ASSERT_MESSAGE ("EOS " + std::to_string (after) + " s after the "
        "input ended", after <= 2 + 2 && after >= 1.9);
    gint64 timed_out = splice.when (GST_FLV_SPLICE_TIMEOUT_MESSAGE_NAME);
    CPPUNIT_ASSERT_MESSAGE ("no flvsplice-timeout before EOS",
        timed_out > 0 && timed_out <= splice.when ("eos"));
    CPPUNIT_ASSERT_EQUAL (1, splice.count (GST_FLV_SPLICE_SLATE_MESSAGE_NAME));
    guint gaps = 0;
    guint64 slate_time = 0;
    g_object_get (splice.splice (), "gaps", &gaps, "slate-time", &slate_time,
        nullptr);
    splice.stop ();
    CPPUNIT_ASSERT_EQUAL (1u, gaps);

    assert_decodes_cleanly (out);
    auto video = packets (out, "v");
    auto audio = packets (out, "a");
    assert_continuous (video, "video");
    assert_continuous (audio, "audio");
    CPPUNIT_ASSERT_EQUAL (0, end_of_sequence_tags (out));
    /* The input, then about 2 s of slate. */
    CPPUNIT_ASSERT (hashes (ref) == hashes (video, 0, ref.size ()));
    double slate = video.back ().time - ref.back ().time;
    CPPUNIT_ASSERT_MESSAGE (std::to_string (slate), slate > 1.5 && slate < 2.6);
    CPPUNIT_ASSERT_DOUBLES_EQUAL (slate, slate_time / 1e9, 0.2);
    CPPUNIT_ASSERT (max_keyframe_gap (video) <= MAX_KEYFRAME_GAP);
  }

  /* A second input while the first still streams: it waits, and takes
   * over at the first's EOS, at its own keyframe, with no slate between. */
  void test_takeover_without_slate ()
  {
    Watchdog watchdog (240);
    TempDir dir;
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 12, dir);
    auto ref_a = packets (reference (part, dir, "ref-a.flv"), "v");
    auto ref_b = packets (reference (a.joined_path (), dir, "ref-b.flv"), "v");

    std::string out = dir.file ("out.flv");
    /* The older input idles while the newer starts: no stall here. */
    Splice splice (out, "timeout=1 stall-timeout=0");
    splice.add_input ("appsrc format=bytes ! flvencodebin");
    GstAppSrc *first = appsrc_of (splice.last_bin ());
    GstPad *second_pad = splice.add_input ("filesrc location=" +
        a.joined_path () + " ! flvencodebin");
    FirstBuffer second;
    second.watch (second_pad);
    splice.play ();
    push_file (first, part);
    /* The newer input has data waiting; only then does the older end. */
    second.wait ();
    g_usleep (G_USEC_PER_SEC / 5);
    gst_app_src_end_of_stream (first);
    splice.wait_for ("eos");
    /* The slate only after the second input (then the timeout). */
    auto names = splice.names ();
    CPPUNIT_ASSERT_EQUAL (2, splice.count (
            GST_FLV_SPLICE_INPUT_ENDED_MESSAGE_NAME));
    CPPUNIT_ASSERT_EQUAL (1, splice.count (GST_FLV_SPLICE_SLATE_MESSAGE_NAME));
    CPPUNIT_ASSERT_EQUAL (0, splice.count (
            GST_FLV_SPLICE_RESUMED_MESSAGE_NAME));
    double slate_at = splice.slate_at ();
    splice.stop ();

    assert_decodes_cleanly (out);
    auto video = packets (out, "v");
    assert_continuous (video, "video");
    assert_continuous (packets (out, "a"), "audio");
    /* All of the first, then all of the second right after it. */
    CPPUNIT_ASSERT (hashes (ref_a) == hashes (video, 0, ref_a.size ()));
    CPPUNIT_ASSERT (hashes (ref_b) == hashes (video, ref_a.size (),
            ref_b.size ()));
    const Packet &resume = video[ref_a.size ()];
    CPPUNIT_ASSERT (resume.key);
    CPPUNIT_ASSERT (resume.new_extradata);
    CPPUNIT_ASSERT_EQUAL (0, end_of_sequence_tags (out));
    CPPUNIT_ASSERT (resume.time - ref_a.back ().time <= 0.1);
    CPPUNIT_ASSERT_DOUBLES_EQUAL (resume.time + duration (ref_b) + 0.05,
        slate_at, 0.002);
    CPPUNIT_ASSERT (max_keyframe_gap (video) <= MAX_KEYFRAME_GAP);
  }

  /* A 4:3 picture in a 16:9 output: pillarboxed, not stretched. */
  void test_slate_image_letterboxed ()
  {
    Watchdog watchdog (240);
    TempDir dir;
    std::string image = dir.file ("slate.png");
    run_command ({ "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
        "color=c=red:s=480x360:d=1", "-frames:v", "1", image });
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 8, dir);
    std::string out = dir.file ("out.flv");
    Splice splice (out, "timeout=2 slate-location=" + image);
    splice.add_input ("filesrc location=" + part + " ! flvencodebin");
    splice.play ();
    double slate_at = splice.slate_at ();
    splice.wait_for ("eos");
    splice.stop ();
    assert_decodes_cleanly (out);
    /* A column of pixels across the middle of a slate frame. */
    char filter[100];
    g_snprintf (filter, sizeof filter, "select=gte(t\\,%.3f),"
        "crop=1280:2:0:360,format=rgb24", slate_at + 1.0);
    std::string raw = dir.file ("row.rgb");
    run_command ({ "ffmpeg", "-nostdin", "-v", "error", "-i", out, "-vf",
        filter, "-frames:v", "1", "-f", "rawvideo", "-y", raw });
    g_autofree char *pixels = nullptr;
    gsize size = 0;
    CPPUNIT_ASSERT (g_file_get_contents (raw.c_str (), &pixels, &size,
            nullptr));
    std::string row (pixels, size);
    CPPUNIT_ASSERT_EQUAL (size_t (1280 * 2 * 3), row.size ());
    auto red = [&row] (int x) { return guint8 (row[x * 3]); };
    auto green = [&row] (int x) { return guint8 (row[x * 3 + 1]); };
    /* 360 high -> 720: 960 wide, centred: borders 160 px each side. */
    CPPUNIT_ASSERT_MESSAGE (std::to_string (red (640)), red (640) > 200 &&
        green (640) < 60);
    CPPUNIT_ASSERT_MESSAGE (std::to_string (red (60)), red (60) < 40);
    CPPUNIT_ASSERT_MESSAGE (std::to_string (red (1220)), red (1220) < 40);
    CPPUNIT_ASSERT (red (200) > 200);
  }

  /* An unusable image: a warning, and the plain card instead. */
  void test_bad_slate_image_warns ()
  {
    Watchdog watchdog (240);
    TempDir dir;
    std::string image = dir.file ("not-an-image.png");
    CPPUNIT_ASSERT (g_file_set_contents (image.c_str (), "nope", -1, nullptr));
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 8, dir);
    std::string out = dir.file ("out.flv");
    Splice splice (out, "timeout=1 slate-location=" + image);
    splice.add_input ("filesrc location=" + part + " ! flvencodebin");
    splice.play ();
    splice.wait_for ("eos");
    CPPUNIT_ASSERT_EQUAL (1, splice.count ("warning"));
    std::string text = gst_structure_get_string (splice.wait_for ("warning"),
        "text");
    splice.stop ();
    CPPUNIT_ASSERT_MESSAGE (text, text.find ("not-an-image.png") !=
        std::string::npos);
    assert_decodes_cleanly (out);
    assert_continuous (packets (out, "v"), "video");
  }

  /* NULL -> PLAYING -> NULL with the slate running, three times: the slate
   * task stops on READY and starts again. */
  void test_state_cycles_on_slate ()
  {
    Watchdog watchdog (240);
    TempDir dir;
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 8, dir);
    std::string out = dir.file ("out.flv");
    Splice splice (out, "timeout=30");
    splice.add_input ("filesrc location=" + part + " ! flvencodebin");
    for (int cycle = 0; cycle < 3; cycle++) {
      splice.play ();
      splice.wait_for (GST_FLV_SPLICE_SLATE_MESSAGE_NAME);
      g_usleep (G_USEC_PER_SEC / 2);
      gboolean on_slate = FALSE;
      g_object_get (splice.splice (), "on-slate", &on_slate, nullptr);
      CPPUNIT_ASSERT (on_slate);
      splice.stop ();
      g_object_get (splice.splice (), "on-slate", &on_slate, nullptr);
      CPPUNIT_ASSERT (!on_slate);
      auto video = packets (out, "v");
      assert_continuous (video, "video, cycle " + std::to_string (cycle));
    }
  }

  /* A newer input blocked waiting for its turn is released: the call
   * returns, the older input goes on, the pipeline stops. */
  void test_release_blocked_pad ()
  {
    Watchdog watchdog (120);
    TempDir dir;
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 8, dir);
    auto ref = packets (reference (part, dir, "ref.flv"), "v");
    std::string out = dir.file ("out.flv");
    /* The older input idles while the newer starts: no stall here. */
    Splice splice (out, "timeout=30 stall-timeout=0");
    splice.add_input ("appsrc format=bytes ! flvencodebin");
    GstAppSrc *first = appsrc_of (splice.last_bin ());
    GstPad *second_pad = splice.add_input ("filesrc location=" +
        a.joined_path () + " ! flvencodebin");
    FirstBuffer second;
    second.watch (second_pad);
    splice.play ();
    push_file (first, part);
    second.wait ();
    g_usleep (G_USEC_PER_SEC / 5);
    gst_element_release_request_pad (splice.splice (), second_pad);
    /* The older input ends: the slate starts, as if the newer never was. */
    gst_app_src_end_of_stream (first);
    double slate_at = splice.slate_at ();
    g_usleep (G_USEC_PER_SEC / 2);
    splice.stop ();
    CPPUNIT_ASSERT_EQUAL (0, splice.count (GST_FLV_SPLICE_RESUMED_MESSAGE_NAME));
    auto video = packets (out, "v");
    assert_continuous (video, "video");
    /* Nothing of the released input: the first input, then the slate. */
    CPPUNIT_ASSERT_EQUAL (long (ref.size ()), index_at (video, slate_at));
    CPPUNIT_ASSERT (hashes (ref) == hashes (video, 0, ref.size ()));
  }

  /* An input that stops delivering without ending (a half-open
   * connection) for 3 s, then delivers again, fed at the browser's pace:
   * the slate right after its last frame, then the input again from its
   * next keyframe at the slate's position. The broadcast keeps real time:
   * it is the stall longer than the input. */
  void test_stall_slate_resume ()
  {
    Watchdog watchdog (300);
    TempDir dir;
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    const size_t stall_at = 20, end = 48;
    const double stall = 3.0;
    std::string fed = write_chunks (a, 0, end, dir, "fed.mkv");
    std::string ref_path = reference (fed, dir, "ref.flv");
    auto ref = packets (ref_path, "v");
    auto ref_audio = packets (ref_path, "a");

    std::string out = dir.file ("out.flv");
    Splice splice (out, "timeout=60");
    splice.add_input ("appsrc format=bytes ! flvencodebin");
    GstAppSrc *src = appsrc_of (splice.last_bin ());
    splice.play ();
    gint64 started = g_get_monotonic_time ();
    feed_in_real_time (src, a, 0, stall_at);
    g_usleep (gulong (stall * G_USEC_PER_SEC));
    gint64 fed_until = feed_in_real_time (src, a, stall_at, end);
    splice.finish ();
    gst_app_src_end_of_stream (src);
    splice.wait_for ("eos");
    double wall = (fed_until - started) / 1e6;
    CPPUNIT_ASSERT_EQUAL (1, splice.count (GST_FLV_SPLICE_SLATE_MESSAGE_NAME));
    CPPUNIT_ASSERT (splice.strings (GST_FLV_SPLICE_SLATE_MESSAGE_NAME,
            "reason") == std::vector<std::string> { "stall" });
    CPPUNIT_ASSERT_EQUAL (1, splice.count (
            GST_FLV_SPLICE_RESUMED_MESSAGE_NAME));
    double slate_at = splice.slate_at ();
    double gap = splice.gap ();
    splice.stop ();

    assert_decodes_cleanly (out);
    auto video = packets (out, "v");
    auto audio = packets (out, "a");
    assert_continuous (video, "video");
    assert_continuous (audio, "audio");
    CPPUNIT_ASSERT (max_keyframe_gap (video) <= MAX_KEYFRAME_GAP);
    CPPUNIT_ASSERT_EQUAL (0, end_of_sequence_tags (out));

    /* The input as flvencodebin made it up to the stall, then the slate. */
    long slate_start = index_at (video, slate_at);
    CPPUNIT_ASSERT_MESSAGE ("no frame at the slate", slate_start > 0);
    CPPUNIT_ASSERT (hashes (ref, 0, slate_start) == hashes (video, 0,
            slate_start));
    CPPUNIT_ASSERT (video[slate_start].key && video[slate_start].new_extradata);
    long resume = index_at (video, slate_at + gap);
    CPPUNIT_ASSERT_MESSAGE ("no frame at the resume", resume > slate_start);
    for (long i = slate_start; i < resume; i++) {
      const std::string &hash = video[i].hash;
      CPPUNIT_ASSERT (std::none_of (ref.begin (), ref.end (),
              [&hash] (const Packet &p) { return p.hash == hash; }));
    }
    /* Back from a later keyframe (what came before it dropped), every
     * frame from there byte for byte as flvencodebin made it. */
    CPPUNIT_ASSERT (video[resume].key && video[resume].new_extradata);
    auto back = std::find_if (ref.begin (), ref.end (),
        [&] (const Packet &p) { return p.hash == video[resume].hash; });
    CPPUNIT_ASSERT (back != ref.end () && back->key);
    long back_at = back - ref.begin ();
    CPPUNIT_ASSERT (back_at >= slate_start);
    CPPUNIT_ASSERT (hashes (ref, back_at) == hashes (video, resume));
    assert_audio_follows_video (audio, ref_audio, video[resume].time,
        video[resume].time - back->time);

    /* Real time kept: the output is the stall longer than the input (it
     * would be as long without the slate), and not longer than the time
     * it took. */
    char text[200];
    g_snprintf (text, sizeof text, "%.3f s of output for %.3f s of input, "
        "a %.1f s stall, %.3f s of slate, %.3f s fed", duration (video),
        duration (ref), stall, gap, wall);
    g_print ("stall and resume: %s\n", text);
    CPPUNIT_ASSERT_MESSAGE (text, std::fabs (duration (video) -
            (duration (ref) + stall)) <= 0.5);
    CPPUNIT_ASSERT_MESSAGE (text, gap >= stall - 0.5);
  }

  /* A stalled input never heard from again: EOS when the timeout runs out,
   * counted from the stall. */
  void test_stall_without_return_times_out ()
  {
    Watchdog watchdog (240);
    TempDir dir;
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 12, dir);
    auto ref = packets (reference (part, dir, "ref.flv"), "v");

    std::string out = dir.file ("out.flv");
    Splice splice (out, "timeout=2");
    guint stall_ms = 0;
    g_object_get (splice.splice (), "stall-timeout", &stall_ms, nullptr);
    CPPUNIT_ASSERT (stall_ms > 0);
    GstPad *pad = splice.add_input ("appsrc format=bytes ! flvencodebin");
    Arrivals arrivals;
    arrivals.watch (pad);
    GstAppSrc *src = appsrc_of (splice.last_bin ());
    splice.play ();
    push_file (src, part);
    splice.wait_for ("eos", 60 * GST_SECOND);
    double after = (splice.when ("eos") - arrivals.last ()) / 1e6;
    char text[100];
    g_snprintf (text, sizeof text, "EOS %.3f s after the last data", after);
    CPPUNIT_ASSERT_MESSAGE (text, after >= stall_ms / 1000.0 + 2 - 0.1 &&
        after <= stall_ms / 1000.0 + 2 + 2);
    CPPUNIT_ASSERT (splice.strings (GST_FLV_SPLICE_SLATE_MESSAGE_NAME,
            "reason") == std::vector<std::string> { "stall" });
    gint64 timed_out = splice.when (GST_FLV_SPLICE_TIMEOUT_MESSAGE_NAME);
    CPPUNIT_ASSERT (timed_out > 0 && timed_out <= splice.when ("eos"));
    CPPUNIT_ASSERT_EQUAL (0, splice.count (
            GST_FLV_SPLICE_INPUT_ENDED_MESSAGE_NAME));
    double slate_at = splice.slate_at ();
    splice.stop ();

    assert_decodes_cleanly (out);
    auto video = packets (out, "v");
    assert_continuous (video, "video");
    assert_continuous (packets (out, "a"), "audio");
    /* The input (less what flvencodebin holds back for the next chunk),
     * then about the timeout's length of slate. */
    long slate_start = index_at (video, slate_at);
    CPPUNIT_ASSERT (slate_start > long (ref.size () / 2));
    CPPUNIT_ASSERT (hashes (ref, 0, slate_start) == hashes (video, 0,
            slate_start));
    double slate = video.back ().time - video[slate_start].time;
    CPPUNIT_ASSERT_MESSAGE (std::to_string (slate), slate > 1.5);
  }

  /* A newer input while the older is stalled waits for the older's EOS as
   * always (the slate runs meanwhile), then takes over from the slate. */
  void test_newer_input_after_a_stall ()
  {
    Watchdog watchdog (240);
    TempDir dir;
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 12, dir);
    auto ref_b = packets (reference (a.joined_path (), dir, "ref-b.flv"),
        "v");

    std::string out = dir.file ("out.flv");
    Splice splice (out, "timeout=1");
    splice.add_input ("appsrc format=bytes ! flvencodebin");
    GstAppSrc *first = appsrc_of (splice.last_bin ());
    splice.play ();
    push_file (first, part);
    splice.wait_for (GST_FLV_SPLICE_SLATE_MESSAGE_NAME);
    GstPad *second_pad = splice.add_input ("filesrc location=" +
        a.joined_path () + " ! flvencodebin");
    FirstBuffer second;
    second.watch (second_pad);
    second.wait ();
    g_usleep (G_USEC_PER_SEC / 2);
    gboolean on_slate = FALSE;
    g_object_get (splice.splice (), "on-slate", &on_slate, nullptr);
    CPPUNIT_ASSERT (on_slate);
    CPPUNIT_ASSERT_EQUAL (0, splice.count (
            GST_FLV_SPLICE_RESUMED_MESSAGE_NAME));
    gst_app_src_end_of_stream (first);
    splice.wait_for ("eos");
    /* The stall's slate, the newer input, then its EOS's slate (1 s). */
    CPPUNIT_ASSERT (splice.strings (GST_FLV_SPLICE_SLATE_MESSAGE_NAME,
            "reason") == (std::vector<std::string> { "stall", "eos" }));
    CPPUNIT_ASSERT_EQUAL (1, splice.count (
            GST_FLV_SPLICE_RESUMED_MESSAGE_NAME));
    double slate_at = splice.slate_at ();
    double gap = splice.gap ();
    splice.stop ();

    assert_decodes_cleanly (out);
    auto video = packets (out, "v");
    assert_continuous (video, "video");
    assert_continuous (packets (out, "a"), "audio");
    long resume = index_at (video, slate_at + gap);
    CPPUNIT_ASSERT (resume > 0 && video[resume].key);
    CPPUNIT_ASSERT (hashes (ref_b) == hashes (video, resume, ref_b.size ()));
  }

  /* At a browser's pace through flvencodebin (passthrough and transcoded;
   * a 250 ms timeslice and a 1000 ms one), the default stall-timeout never
   * fires, with room to spare. Prints the longest wait between tags. */
  void test_no_stall_at_browser_pace ()
  {
    Watchdog watchdog (300);
    struct Case {
      const char *recording;
      size_t chunks;
      size_t group;
    };
    const Case cases[] = {
      { "chrome-h264-opus-kf2s-30s-250ms", 40, 1 },
      { "chrome-vp8-opus-250ms", 40, 1 },
      /* Firefox's WebM leaves the longest gaps at 250 ms. */
      { "firefox-vp8-opus-250ms", 40, 1 },
      { "chrome-h264-opus-kf2s-30s-250ms", 40, 4 },
    };
    /* Under the sanitizers, decoding and encoding 720p is slower than real
     * time here: only the passthrough cases say something then. */
    bool sanitized = g_getenv ("WSRTMP_SANITIZED") != nullptr;
    for (const Case &c : cases) {
      if (sanitized && strstr (c.recording, "vp8"))
        continue;
      TempDir dir;
      Fixture a (c.recording);
      Splice splice (dir.file ("out.flv"), "timeout=60");
      guint stall_ms = 0;
      g_object_get (splice.splice (), "stall-timeout", &stall_ms, nullptr);
      GstPad *pad = splice.add_input ("appsrc format=bytes ! flvencodebin");
      Arrivals arrivals;
      arrivals.watch (pad);
      GstAppSrc *src = appsrc_of (splice.last_bin ());
      splice.play ();
      feed_in_real_time (src, a, 0, c.chunks, c.group);
      splice.finish ();
      gst_app_src_end_of_stream (src);
      splice.wait_for ("eos");
      char text[200];
      g_snprintf (text, sizeof text, "%s, %zu ms a push: tags at most %.0f ms "
          "apart (stall-timeout %u ms)", c.recording, c.group * 250,
          arrivals.max_gap_ms (), stall_ms);
      g_print ("%s\n", text);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (text, 0, splice.count (
              GST_FLV_SPLICE_SLATE_MESSAGE_NAME));
      splice.stop ();
    }
  }

  /* A blocked input while the pipeline goes to NULL. */
  void test_stop_while_blocked ()
  {
    Watchdog watchdog (120);
    TempDir dir;
    Fixture a ("chrome-h264-opus-kf2s-30s-250ms");
    std::string part = write_part (a, 8, dir);
    Splice splice (dir.file ("out.flv"), "timeout=30 stall-timeout=0");
    splice.add_input ("appsrc format=bytes ! flvencodebin");
    GstAppSrc *first = appsrc_of (splice.last_bin ());
    GstPad *second_pad = splice.add_input ("filesrc location=" + part +
        " ! flvencodebin");
    FirstBuffer second;
    second.watch (second_pad);
    splice.play ();
    push_file (first, part);
    second.wait ();
    g_usleep (G_USEC_PER_SEC / 5);
    /* The second input waits its turn inside flvsplice's chain: stopping
     * must wake it (the watchdog fails a stop that hangs). */
    splice.stop ();
    GstState state = GST_STATE_VOID_PENDING;
    CPPUNIT_ASSERT_EQUAL (GST_STATE_CHANGE_SUCCESS, gst_element_get_state (
            splice.splice (), &state, nullptr, 0));
    CPPUNIT_ASSERT_EQUAL (GST_STATE_NULL, state);
    /* And the woken input's pad can be released afterwards. */
    guint16 pads = splice.splice ()->numsinkpads;
    gst_element_release_request_pad (splice.splice (), second_pad);
    CPPUNIT_ASSERT_EQUAL ((guint16) (pads - 1), splice.splice ()->numsinkpads);
  }

 private:
  /* Part of a recording, its EOS (the connection dropped), 3 s with no
   * input, then the whole recording again on a new pad, finished. */
  void drop_slate_resume (const std::string &recording, size_t part_chunks,
      bool passthrough)
  {
    Watchdog watchdog (400);
    TempDir dir;
    Fixture a (recording);
    std::string part = write_part (a, part_chunks, dir);
    std::string ref_a_path = reference (part, dir, "ref-a.flv");
    std::string ref_b_path = reference (a.joined_path (), dir, "ref-b.flv");
    auto ref_a = packets (ref_a_path, "v");
    auto ref_b = packets (ref_b_path, "v");
    auto ref_b_audio = packets (ref_b_path, "a");

    std::string out = dir.file ("out.flv");
    Splice splice (out, "timeout=60");
    splice.add_input ("filesrc location=" + part + " ! flvencodebin");
    splice.play ();
    splice.wait_for (GST_FLV_SPLICE_INPUT_ENDED_MESSAGE_NAME);
    splice.wait_for (GST_FLV_SPLICE_SLATE_MESSAGE_NAME);
    g_usleep (3 * G_USEC_PER_SEC);
    splice.add_input ("filesrc location=" + a.joined_path () +
        " ! flvencodebin");
    splice.finish ();
    splice.wait_for ("eos");
    double slate_at = splice.slate_at ();
    double gap = splice.gap ();
    guint gaps = 0;
    g_object_get (splice.splice (), "gaps", &gaps, nullptr);
    splice.stop ();
    CPPUNIT_ASSERT_EQUAL (1u, gaps);

    assert_decodes_cleanly (out);
    auto video = packets (out, "v");
    auto audio = packets (out, "a");
    assert_continuous (video, recording + " video");
    assert_continuous (audio, recording + " audio");
    CPPUNIT_ASSERT_MESSAGE (std::to_string (max_keyframe_gap (video)),
        max_keyframe_gap (video) <= MAX_KEYFRAME_GAP);

    /* The first part as flvencodebin made it, then slate for at least the
     * 3 s without input, then the second input from its first keyframe. */
    long slate_start = index_at (video, slate_at);
    CPPUNIT_ASSERT_EQUAL (long (ref_a.size ()), slate_start);
    CPPUNIT_ASSERT (video[slate_start].key);
    /* Each switch brings its sequence header in-band. */
    CPPUNIT_ASSERT (video[slate_start].new_extradata);
    CPPUNIT_ASSERT_EQUAL (0, end_of_sequence_tags (out));
    if (passthrough)
      CPPUNIT_ASSERT (hashes (ref_a) == hashes (video, 0, ref_a.size ()));
    CPPUNIT_ASSERT_MESSAGE (std::to_string (gap), gap >= 2.9 && gap < 30);
    long resume = index_at (video, slate_at + gap);
    CPPUNIT_ASSERT_MESSAGE ("no frame at the resume", resume > 0);
    CPPUNIT_ASSERT (video[resume].key);
    CPPUNIT_ASSERT (video[resume].new_extradata);
    /* After a switch, the sequence headers in effect come before every
     * keyframe: a destination that reconnects and resyncs at a keyframe
     * (wsrtmpd's RTMP gate) would otherwise decode with the caps' first
     * input's headers. */
    for (size_t i = slate_start; i < video.size (); i++)
      CPPUNIT_ASSERT_MESSAGE (std::to_string (video[i].time),
          !video[i].key || video[i].new_extradata);
    long slate_frames = resume - slate_start;
    double frame = duration (ref_b) / (ref_b.size () - 1);
    char text[200];
    g_snprintf (text, sizeof text, "%ld slate frames for %.3f s", slate_frames,
        gap);
    CPPUNIT_ASSERT_MESSAGE (text, std::fabs (slate_frames * frame - gap) <=
        2 * frame);
    /* No input frame among them: the slate's own pictures. */
    for (long i = slate_start; i < resume; i++) {
      const std::string &hash = video[i].hash;
      CPPUNIT_ASSERT (std::none_of (ref_b.begin (), ref_b.end (),
              [&hash] (const Packet &p) { return p.hash == hash; }));
    }
    if (passthrough) {
      /* Every frame of the second input, untouched. */
      CPPUNIT_ASSERT_EQUAL (ref_b.size (), video.size () - resume);
      CPPUNIT_ASSERT (hashes (ref_b) == hashes (video, resume));
    }
    /* One broadcast as long as its parts and the gap. */
    double expected = duration (ref_a) + gap + duration (ref_b);
    g_snprintf (text, sizeof text, "%.3f s for %.3f + %.3f + %.3f s",
        duration (video), duration (ref_a), gap, duration (ref_b));
    CPPUNIT_ASSERT_MESSAGE (text, std::fabs (duration (video) - expected) <=
        0.5);

    /* The second input's audio keeps its offset to its video. */
    assert_audio_follows_video (audio, ref_b_audio, video[resume].time,
        video[resume].time - ref_b.front ().time);
    /* Silence covers the gap: audio packets every ~21 ms through it. */
    long gap_audio = 0;
    for (const Packet &p : audio)
      gap_audio += p.time > ref_a.back ().time && p.time < video[resume].time;
    CPPUNIT_ASSERT_MESSAGE (std::to_string (gap_audio), gap_audio >=
        long (gap * 48000 / 1024 * 0.9));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (FlvSpliceTest);
