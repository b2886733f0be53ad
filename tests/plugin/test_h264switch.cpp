/* flvencodebin's H.264 switch without a pipeline (plugin/h264switch.h):
 * where the rule switches from passthrough to transcoding on a sequence of
 * picture times, what it keeps for the decoder to catch up, the frame rate
 * the fallback takes, and which input may be passed through at all.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "h264switch.h"
#include "parseinput.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <gst/gst.h>

#include <string>

/* The rooms log in the element's category; the element is not here. */
GST_DEBUG_CATEGORY (gst_flv_encode_bin_debug);

using wsrtmp::EncodeSettings;
using wsrtmp::H264Switch;
using wsrtmp::H264SwitchDecision;
using wsrtmp::passed_frame_rate;
using wsrtmp::TimestampRepair;

namespace {

/* Picture n of a stream at fps (PTS = DTS), a keyframe or not. */
GstBuffer *
picture (guint64 n, int fps, bool keyframe)
{
  GstBuffer *buffer = gst_buffer_new ();
  GST_BUFFER_PTS (buffer) = GST_BUFFER_DTS (buffer) =
      gst_util_uint64_scale (n, GST_SECOND, fps);
  if (!keyframe)
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  return buffer;
}

/* What the rule said at one picture; the buffer list freed. */
struct Seen {
  bool now;
  bool keyframe_late;
  std::string reason;
  guint gop_length;
  bool has_gop;
};

Seen
feed (H264SwitchDecision &decision, guint64 n, int fps, bool keyframe)
{
  GstBuffer *buffer = picture (n, fps, keyframe);
  H264SwitchDecision::Verdict verdict = decision.picture (buffer);
  gst_buffer_unref (buffer);
  Seen seen { verdict.now, verdict.keyframe_late, verdict.reason,
    verdict.gop ? gst_buffer_list_length (verdict.gop) : 0,
    verdict.gop != nullptr };
  gst_clear_buffer_list (&verdict.gop);
  return seen;
}

/* Feeds pictures 0..count-1 at fps with a keyframe every gop pictures:
 * the first picture the rule switched at, or -1. */
gint64
switch_point (H264SwitchDecision &decision, int fps, guint64 gop,
    guint64 count, Seen *at = nullptr)
{
  for (guint64 n = 0; n < count; n++) {
    Seen seen = feed (decision, n, fps, n % gop == 0);
    if (seen.now) {
      if (at)
        *at = seen;
      return (gint64) n;
    }
  }
  return -1;
}

/* The switch happened at the picture seen (of a stream at fps): why, with
 * gop_length pictures kept for the decoder (or none: 0), the last picture
 * passed through number last_passed. */
void
check_switch (const H264SwitchDecision &decision, const Seen &seen,
    const std::string &reason, guint gop_length, guint64 last_passed, int fps,
    GstClockTime position)
{
  CPPUNIT_ASSERT (seen.now);
  CPPUNIT_ASSERT (decision.transcoding ());
  CPPUNIT_ASSERT_EQUAL (reason, seen.reason);
  CPPUNIT_ASSERT_EQUAL (gop_length > 0, seen.has_gop);
  CPPUNIT_ASSERT_EQUAL (gop_length, seen.gop_length);
  CPPUNIT_ASSERT_EQUAL (gst_util_uint64_scale (last_passed, GST_SECOND, fps),
      decision.passed_until ());
  CPPUNIT_ASSERT_EQUAL (position, decision.switch_position ());
}

GstCaps *
caps (const char *description)
{
  return gst_caps_from_string (description);
}

class H264SwitchTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (H264SwitchTest);
  CPPUNIT_TEST (test_keyframes_in_time_pass_through);
  CPPUNIT_TEST (test_browser_jitter_passes_through);
  CPPUNIT_TEST (test_late_keyframe_switches_at_the_last_picture_in_time);
  CPPUNIT_TEST (test_slow_frame_rate_switches_a_frame_earlier);
  CPPUNIT_TEST (test_longer_interval_allows_longer_gaps);
  CPPUNIT_TEST (test_size_change_switches_at_the_next_keyframe);
  CPPUNIT_TEST (test_output_size_does_not_switch);
  CPPUNIT_TEST (test_after_the_switch_nothing_more);
  CPPUNIT_TEST (test_passed_frame_rate);
  CPPUNIT_TEST (test_what_may_be_passed_through);
  CPPUNIT_TEST (test_timestamp_repair);
  CPPUNIT_TEST_SUITE_END ();

 public:
  void setUp () override
  {
    if (!gst_flv_encode_bin_debug)
      GST_DEBUG_CATEGORY_INIT (gst_flv_encode_bin_debug, "flvencodebin", 0,
          "FLV encode bin");
  }

  /* 2 s keyframes at 30 fps, keyframe-interval 2: a minute without a
   * switch; everything was passed through. */
  void test_keyframes_in_time_pass_through ()
  {
    H264SwitchDecision decision (1280, 720, 2.0);
    CPPUNIT_ASSERT_EQUAL ((gint64) -1, switch_point (decision, 30, 60, 1800));
    CPPUNIT_ASSERT (!decision.transcoding ());
    CPPUNIT_ASSERT_EQUAL (gst_util_uint64_scale (1799, GST_SECOND, 30),
        decision.passed_until ());
    CPPUNIT_ASSERT (!GST_CLOCK_TIME_IS_VALID (decision.switch_position ()));
  }

  /* Browsers asked for 2 s keyframes deliver them 2.05 s apart or so:
   * within the 10 % tolerance (61 and 66 frames at 30 fps: 2.2 s the
   * longest gap that still passes, as the next picture would be in time). */
  void test_browser_jitter_passes_through ()
  {
    for (guint64 gop : { 61, 62, 65, 66 }) {
      H264SwitchDecision decision (1280, 720, 2.0);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (std::to_string (gop), (gint64) -1,
          switch_point (decision, 30, gop, 600));
    }
    H264SwitchDecision decision (1280, 720, 2.0);
    CPPUNIT_ASSERT_EQUAL ((gint64) 66, switch_point (decision, 30, 67, 600));
  }

  /* 5 s keyframes at 30 fps: picture 65 (2.167 s) is the last one that
   * keeps the gap within 2.2 s; the next, 66, would come at 2.2 s + a
   * frame, so the switch is at 66 and the decoder catches up from the
   * keyframe with 0..65. */
  void test_late_keyframe_switches_at_the_last_picture_in_time ()
  {
    H264SwitchDecision decision (1280, 720, 2.0);
    Seen at {};
    CPPUNIT_ASSERT_EQUAL ((gint64) 66, switch_point (decision, 30, 150, 300,
            &at));
    CPPUNIT_ASSERT (at.keyframe_late);
    check_switch (decision, at, "input keyframes are more than 2.0 s apart",
        66, 65, 30, 2200 * GST_MSECOND);
  }

  /* At 5 fps a frame is 200 ms: the picture at 2.2 s would leave the next
   * at 2.4 s, so it is the first transcoded (11), though 2.2 s itself is
   * in time. */
  void test_slow_frame_rate_switches_a_frame_earlier ()
  {
    H264SwitchDecision decision (1280, 720, 2.0);
    CPPUNIT_ASSERT_EQUAL ((gint64) 11, switch_point (decision, 5, 25, 100));
    H264SwitchDecision in_time (1280, 720, 2.0);
    CPPUNIT_ASSERT_EQUAL ((gint64) -1, switch_point (in_time, 5, 11, 100));
  }

  /* keyframe-interval 5: 5 s keyframes pass, 6 s ones switch at 5.5 s. */
  void test_longer_interval_allows_longer_gaps ()
  {
    H264SwitchDecision decision (1280, 720, 5.0);
    CPPUNIT_ASSERT_EQUAL ((gint64) -1, switch_point (decision, 30, 150, 900));
    H264SwitchDecision late (1280, 720, 5.0);
    Seen at {};
    CPPUNIT_ASSERT_EQUAL ((gint64) 165, switch_point (late, 30, 180, 900,
            &at));
    CPPUNIT_ASSERT_EQUAL (std::string ("input keyframes are more than 5.0 s "
            "apart"), at.reason);
  }

  /* Another size (the caps say so once the headers are parsed): passed
   * through until the next keyframe, which is the first transcoded; the
   * decoder starts there, so nothing is kept for it. */
  void test_size_change_switches_at_the_next_keyframe ()
  {
    H264SwitchDecision decision (1280, 720, 2.0);
    for (guint64 n = 0; n < 45; n++)
      CPPUNIT_ASSERT (!feed (decision, n, 30, n == 0).now);
    decision.input_size (640, 480);
    for (guint64 n = 45; n < 60; n++)
      CPPUNIT_ASSERT (!feed (decision, n, 30, false).now);
    Seen at = feed (decision, 60, 30, true);
    CPPUNIT_ASSERT (!at.keyframe_late);
    check_switch (decision, at, "input size 640x480 is not the output size "
        "1280x720", 0, 59, 30, 2 * GST_SECOND);
  }

  /* The output size, or a size not known yet (0), changes nothing. */
  void test_output_size_does_not_switch ()
  {
    H264SwitchDecision decision (1280, 720, 2.0);
    decision.input_size (1280, 720);
    decision.input_size (0, 0);
    CPPUNIT_ASSERT_EQUAL ((gint64) -1, switch_point (decision, 30, 60, 300));
  }

  /* Once transcoding, every picture is: no second switch, nothing kept. */
  void test_after_the_switch_nothing_more ()
  {
    H264SwitchDecision decision (1280, 720, 2.0);
    CPPUNIT_ASSERT_EQUAL ((gint64) 66, switch_point (decision, 30, 300, 67));
    GstClockTime position = decision.switch_position ();
    decision.input_size (640, 480);
    for (guint64 n = 67; n < 400; n++) {
      Seen seen = feed (decision, n, 30, n % 300 == 0);
      CPPUNIT_ASSERT (!seen.now && !seen.has_gop);
    }
    CPPUNIT_ASSERT (decision.transcoding ());
    CPPUNIT_ASSERT_EQUAL (position, decision.switch_position ());
  }

  /* The fallback keeps a lower frame rate passed through (the median
   * interval, whole frames per second), never a higher one, and needs 5
   * pictures to tell. */
  void test_passed_frame_rate ()
  {
    auto rate = [] (int fps, guint count, int fps_n, int fps_d) {
      GstBufferList *gop = gst_buffer_list_new ();
      for (guint n = 0; n < count; n++)
        gst_buffer_list_add (gop, picture (n, fps, n == 0));
      int passed = passed_frame_rate (gop, fps_n, fps_d);
      gst_buffer_list_unref (gop);
      return passed;
    };
    CPPUNIT_ASSERT_EQUAL (20, rate (20, 40, 30, 1));
    CPPUNIT_ASSERT_EQUAL (0, rate (30, 40, 30, 1));
    CPPUNIT_ASSERT_EQUAL (0, rate (60, 40, 30, 1));
    CPPUNIT_ASSERT_EQUAL (24, rate (24, 40, 30000, 1001));
    CPPUNIT_ASSERT_EQUAL (0, rate (20, 4, 30, 1));
    CPPUNIT_ASSERT_EQUAL (20, rate (20, 5, 30, 1));
    CPPUNIT_ASSERT_EQUAL (0, passed_frame_rate (nullptr, 30, 1));
  }

  /* H.264 at the output size, or of a size not known yet; with why not. */
  void test_what_may_be_passed_through ()
  {
    EncodeSettings settings;
    std::string why_not;
    g_autoptr (GstCaps) h264 = caps ("video/x-h264,width=1280,height=720");
    g_autoptr (GstCaps) unsized = caps ("video/x-h264");
    g_autoptr (GstCaps) small = caps ("video/x-h264,width=640,height=480");
    g_autoptr (GstCaps) vp8 = caps ("video/x-vp8,width=1280,height=720");
    CPPUNIT_ASSERT (H264Switch::possible (settings, h264, why_not));
    CPPUNIT_ASSERT (H264Switch::possible (settings, unsized, why_not));
    CPPUNIT_ASSERT (!H264Switch::possible (settings, small, why_not));
    CPPUNIT_ASSERT_EQUAL (std::string ("input size 640x480 is not the output "
            "size 1280x720"), why_not);
    CPPUNIT_ASSERT (!H264Switch::possible (settings, vp8, why_not));
    CPPUNIT_ASSERT_EQUAL (std::string ("input video is video/x-vp8"), why_not);
    settings.passthrough = false;
    CPPUNIT_ASSERT (!H264Switch::possible (settings, h264, why_not));
    CPPUNIT_ASSERT_EQUAL (std::string ("passthrough disabled"), why_not);
  }

  /* parseinput.h's TimestampRepair: a repeated time (PTS or DTS) moved a
   * millisecond after the previous one, a DTS going back too; a PTS may go
   * back (B-frames); going back over a second is an error. */
  void test_timestamp_repair ()
  {
    const GstClockTime ms = GST_MSECOND, none = 0;
    TimestampRepair pts;
    CPPUNIT_ASSERT_EQUAL (none, pts.picture (3400 * ms, false).shift);
    CPPUNIT_ASSERT_EQUAL (none, pts.picture (3467 * ms, false).shift);
    CPPUNIT_ASSERT_EQUAL (ms, pts.picture (3467 * ms, false).shift);
    /* Three alike: each after the one moved before it. */
    CPPUNIT_ASSERT_EQUAL (none, pts.picture (3533 * ms, false).shift);
    CPPUNIT_ASSERT_EQUAL (ms, pts.picture (3533 * ms, false).shift);
    CPPUNIT_ASSERT_EQUAL (2 * ms, pts.picture (3533 * ms, false).shift);
    /* The next keeps its time; a PTS going back is left (reordering). */
    CPPUNIT_ASSERT_EQUAL (none, pts.picture (3567 * ms, false).shift);
    CPPUNIT_ASSERT_EQUAL (none, pts.picture (3500 * ms, false).shift);
    CPPUNIT_ASSERT_EQUAL (3u, pts.repaired ());
    CPPUNIT_ASSERT (pts.picture (2000 * ms, false).error);

    TimestampRepair dts;
    dts.picture (1000 * ms, true);
    CPPUNIT_ASSERT_EQUAL (ms, dts.picture (1000 * ms, true).shift);
    CPPUNIT_ASSERT_EQUAL (12 * ms, dts.picture (990 * ms, true).shift);
    CPPUNIT_ASSERT_EQUAL (none, dts.picture (1033 * ms, true).shift);
    CPPUNIT_ASSERT (dts.picture (1033 * ms - GST_SECOND - ms, true).error);
    CPPUNIT_ASSERT (!dts.picture (GST_CLOCK_TIME_NONE, true).error);
    /* A flush: a new start. */
    dts.reset ();
    CPPUNIT_ASSERT_EQUAL (none, dts.picture (0, true).shift);
  }
};

}  // namespace

CPPUNIT_TEST_SUITE_REGISTRATION (H264SwitchTest);
