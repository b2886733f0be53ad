/* livevideorate in a GstHarness: pictures pushed at chosen times, the
 * output pulled after each push. What matters: every picture is out as soon
 * as it is in (videorate keeps it until the next), on a constant frame
 * rate grid, with slower cameras filled, faster ones thinned, and holes up
 * to 10 s filled.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <memory>
#include <string>
#include <vector>

namespace {

struct HarnessDeleter {
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};
using HarnessPtr = std::unique_ptr<GstHarness, HarnessDeleter>;

constexpr const char *INPUT_CAPS =
    "video/x-raw,format=I420,width=16,height=16,framerate=0/1";

/* The element with a segment from 0 and a variable frame rate input. */
HarnessPtr
start (const std::string &launch)
{
  GstElement *element = gst_parse_launch (launch.c_str (), nullptr);
  CPPUNIT_ASSERT (element);
  HarnessPtr h (gst_harness_new_with_element (element, "sink", "src"));
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h.get (), INPUT_CAPS);
  return h;
}

/* Pushes a picture whose first byte is `id`, presented at `ms`, and returns
 * the output times (ms, rounded down) of what came out right away; the
 * picture itself must be the last of them. */
std::vector<guint64>
push_at (GstHarness *h, double ms, guint8 id)
{
  GstBuffer *buffer = gst_buffer_new_allocate (nullptr, 16 * 16 * 3 / 2,
      nullptr);
  gst_buffer_memset (buffer, 0, id, 1);
  GST_BUFFER_PTS (buffer) = (GstClockTime) (ms * GST_MSECOND);
  CPPUNIT_ASSERT_EQUAL (GST_FLOW_OK, gst_harness_push (h, buffer));

  std::vector<guint64> out;
  guint8 last_id = 0;
  while (GstBuffer *o = gst_harness_try_pull (h)) {
    out.push_back (GST_BUFFER_PTS (o) / GST_MSECOND);
    gst_buffer_extract (o, 0, &last_id, 1);
    gst_buffer_unref (o);
  }
  if (!out.empty ())
    CPPUNIT_ASSERT_EQUAL ((int) id, (int) last_id);
  return out;
}

guint64
count (GstHarness *h, const char *property)
{
  guint64 value = 0;
  g_object_get (h->element, property, &value, nullptr);
  return value;
}

class LiveVideoRateTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (LiveVideoRateTest);
  CPPUNIT_TEST (test_each_picture_out_at_once);
  CPPUNIT_TEST (test_caps_get_the_frame_rate);
  CPPUNIT_TEST (test_slower_camera_is_filled);
  CPPUNIT_TEST (test_faster_camera_is_thinned);
  CPPUNIT_TEST (test_fills_from_segment_start);
  CPPUNIT_TEST (test_skip_to_first);
  CPPUNIT_TEST (test_long_hole_restarts_grid);
  CPPUNIT_TEST (test_restart_forgets_the_grid);
  CPPUNIT_TEST_SUITE_END ();

public:
  /* A browser's 30 fps with ms timestamps (33, 67, 100 ...), in bursts:
   * nothing waits for the next picture, nothing is dropped or copied. */
  void test_each_picture_out_at_once ()
  {
    HarnessPtr h = start ("livevideorate framerate=30/1");
    for (int i = 0; i < 90; i++) {
      guint64 ms = (guint64) (i * 1000 / 30);
      auto out = push_at (h.get (), ms, (guint8) (i + 1));
      CPPUNIT_ASSERT_EQUAL_MESSAGE ("picture " + std::to_string (i),
          (size_t) 1, out.size ());
      CPPUNIT_ASSERT_EQUAL ((guint64) (i * 1000 / 30), out[0]);
    }
    CPPUNIT_ASSERT_EQUAL ((guint64) 0, count (h.get (), "dropped"));
    CPPUNIT_ASSERT_EQUAL ((guint64) 0, count (h.get (), "duplicated"));
  }

  void test_caps_get_the_frame_rate ()
  {
    HarnessPtr h = start ("livevideorate framerate=24/1");
    push_at (h.get (), 0, 1);
    GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
    CPPUNIT_ASSERT (caps);
    gint n = 0, d = 0;
    CPPUNIT_ASSERT (gst_structure_get_fraction (gst_caps_get_structure (caps,
                0), "framerate", &n, &d));
    gst_caps_unref (caps);
    CPPUNIT_ASSERT_EQUAL (24, n);
    CPPUNIT_ASSERT_EQUAL (1, d);
  }

  /* 20 fps in, 30 out: every other picture is copied once more, the copy
   * before the new picture, and the grid has no hole. */
  void test_slower_camera_is_filled ()
  {
    HarnessPtr h = start ("livevideorate framerate=30/1");
    std::vector<guint64> all;
    for (int i = 0; i < 40; i++) {
      auto out = push_at (h.get (), i * 50.0, (guint8) (i + 1));
      CPPUNIT_ASSERT (!out.empty ());
      all.insert (all.end (), out.begin (), out.end ());
    }
    /* 0 ... 1950 ms: slots 0 ... 58 (1950 ms is slot 58.5, rounded up). */
    CPPUNIT_ASSERT_EQUAL ((size_t) 59, all.size ());
    for (size_t i = 0; i < all.size (); i++)
      CPPUNIT_ASSERT_EQUAL ((guint64) (i * 1000 / 30), all[i]);
    CPPUNIT_ASSERT_EQUAL ((guint64) 19, count (h.get (), "duplicated"));
    CPPUNIT_ASSERT_EQUAL ((guint64) 0, count (h.get (), "dropped"));
  }

  /* 60 fps in, 30 out: every other picture goes, the rest are out at once. */
  void test_faster_camera_is_thinned ()
  {
    HarnessPtr h = start ("livevideorate framerate=30/1");
    size_t out_count = 0;
    for (int i = 0; i < 60; i++) {
      auto out = push_at (h.get (), i * 1000.0 / 60, (guint8) (i + 1));
      CPPUNIT_ASSERT (out.size () <= 1);
      out_count += out.size ();
    }
    CPPUNIT_ASSERT_EQUAL ((size_t) 30, out_count);
    CPPUNIT_ASSERT_EQUAL ((guint64) 30, count (h.get (), "dropped"));
  }

  /* The first picture at 100 ms fills 0, 33 and 67 ms first. */
  void test_fills_from_segment_start ()
  {
    HarnessPtr h = start ("livevideorate framerate=30/1");
    auto out = push_at (h.get (), 100, 1);
    CPPUNIT_ASSERT (out == (std::vector<guint64> { 0, 33, 66, 100 }));
  }

  void test_skip_to_first ()
  {
    HarnessPtr h = start ("livevideorate framerate=30/1 skip-to-first=true");
    CPPUNIT_ASSERT (push_at (h.get (), 100, 1) == std::vector<guint64> { 100 });
    CPPUNIT_ASSERT (push_at (h.get (), 133.4, 2) == std::vector<guint64> { 133 });
  }

  /* A 3 s hole is filled (a camera that froze); a 20 s one is not (a
   * stream that stopped): the grid restarts at the next picture. */
  void test_long_hole_restarts_grid ()
  {
    HarnessPtr h = start ("livevideorate framerate=30/1");
    push_at (h.get (), 0, 1);
    CPPUNIT_ASSERT_EQUAL ((size_t) 90, push_at (h.get (), 3000, 2).size ());
    CPPUNIT_ASSERT (push_at (h.get (), 23010, 3) ==
        std::vector<guint64> { 23010 });
    CPPUNIT_ASSERT (push_at (h.get (), 23043, 4) ==
        std::vector<guint64> { 23043 });
  }

  /* NULL -> PLAYING again: a new stream from 5 s is not filled from 0.1 s
   * (the old grid), only from its own segment's start. */
  void test_restart_forgets_the_grid ()
  {
    HarnessPtr h = start ("livevideorate framerate=30/1 skip-to-first=true");
    push_at (h.get (), 100, 1);
    gst_element_set_state (h->element, GST_STATE_NULL);
    gst_element_set_state (h->element, GST_STATE_PLAYING);
    gst_harness_push_event (h.get (), gst_event_new_stream_start ("again"));
    gst_harness_set_src_caps_str (h.get (), INPUT_CAPS);
    CPPUNIT_ASSERT (push_at (h.get (), 5000, 2) == std::vector<guint64> { 5000 });
  }
};

}  // namespace

CPPUNIT_TEST_SUITE_REGISTRATION (LiveVideoRateTest);
