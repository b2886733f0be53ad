/* The output gate's kept data (service/output_gate.h), on its own and in
 * milliseconds: what wsrtmpd keeps while an RTMP connection is down, and
 * what it drops when that grows too large.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "output_gate.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <string>

using wsrtmp::OutputGate;

namespace {

enum class Tag { VideoKey, VideoInter, Audio, Script };

/* An FLV tag of size bytes: the 11-byte header, then the first byte of
 * the body (for video: frame type and codec, AVC). */
GstBuffer *
flv_tag (Tag tag, gsize size)
{
  g_assert (size >= 12);
  GstBuffer *buffer = gst_buffer_new_allocate (nullptr, size, nullptr);
  gst_buffer_memset (buffer, 0, 0, size);
  guint8 head[12] = { 0 };
  head[0] = tag == Tag::Audio ? 8 : tag == Tag::Script ? 18 : 9;
  head[11] = tag == Tag::VideoKey ? 0x17 : tag == Tag::VideoInter ? 0x27 :
      tag == Tag::Audio ? 0xaf : 0x02;
  gst_buffer_fill (buffer, 0, head, sizeof head);
  return buffer;
}

/* What a closed gate does with each buffer the tee pushes: sync, keep.
 * True when the gate would post OUTPUT_KEYFRAME_MESSAGE for it. */
bool
push_closed (OutputGate &gate, Tag tag, gsize size)
{
  GstBuffer *buffer = flv_tag (tag, size);
  bool ask_keyframe = false;
  if (gate.sync (buffer, ask_keyframe))
    gate.keep (buffer);
  gst_buffer_unref (buffer);
  return ask_keyframe;
}

bool
front_is_keyframe (const OutputGate &gate)
{
  return !gate.backlog.empty () &&
      wsrtmp::is_flv_video_keyframe (gate.backlog.front ());
}

gsize
sum_sizes (const OutputGate &gate)
{
  gsize total = 0;
  for (GstBuffer *buffer : gate.backlog)
    total += gst_buffer_get_size (buffer);
  return total;
}

}  // namespace

class MediaBacklogTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (MediaBacklogTest);
  CPPUNIT_TEST (test_keyframe_detection);
  CPPUNIT_TEST (test_sync_drops_until_video_keyframe);
  CPPUNIT_TEST (test_asks_for_a_keyframe_once_per_wait);
  CPPUNIT_TEST (test_keeps_everything_within_the_bound);
  CPPUNIT_TEST (test_over_the_bound_drops_whole_gops);
  CPPUNIT_TEST (test_one_gop_over_the_bound_waits_for_the_next);
  CPPUNIT_TEST (test_kept_buffers_are_released);
  CPPUNIT_TEST_SUITE_END ();

 public:
  void test_keyframe_detection ()
  {
    struct { Tag tag; gsize size; bool key; } cases[] = {
      { Tag::VideoKey, 40, true }, { Tag::VideoInter, 40, false },
      { Tag::Audio, 40, false }, { Tag::Script, 40, false },
      { Tag::VideoKey, 12, true },
    };
    for (const auto &c : cases) {
      GstBuffer *buffer = flv_tag (c.tag, c.size);
      CPPUNIT_ASSERT_EQUAL (c.key, wsrtmp::is_flv_video_keyframe (buffer));
      gst_buffer_unref (buffer);
    }
    /* Too short to be a tag (the FLV file header is 9 + 4 bytes, but a
     * truncated buffer must not be read past its end). */
    GstBuffer *tiny = gst_buffer_new_allocate (nullptr, 11, nullptr);
    gst_buffer_memset (tiny, 0, 9, 11);
    CPPUNIT_ASSERT (!wsrtmp::is_flv_video_keyframe (tiny));
    gst_buffer_unref (tiny);
  }

  /* After a loss, nothing before the next video keyframe is kept (a new
   * connection cannot decode it), and what is dropped is counted. */
  void test_sync_drops_until_video_keyframe ()
  {
    OutputGate gate;
    gate.open = false;
    gate.synced = false;
    push_closed (gate, Tag::VideoInter, 100);
    push_closed (gate, Tag::Audio, 30);
    push_closed (gate, Tag::Script, 50);
    CPPUNIT_ASSERT (gate.backlog.empty ());
    CPPUNIT_ASSERT (!gate.synced);
    CPPUNIT_ASSERT_EQUAL ((guint64) 180, gate.dropped_bytes);

    push_closed (gate, Tag::VideoKey, 400);
    push_closed (gate, Tag::Audio, 30);
    push_closed (gate, Tag::VideoInter, 100);
    CPPUNIT_ASSERT (gate.synced);
    CPPUNIT_ASSERT_EQUAL ((size_t) 3, gate.backlog.size ());
    CPPUNIT_ASSERT (front_is_keyframe (gate));
    CPPUNIT_ASSERT_EQUAL ((gsize) 530, gate.backlog_bytes);
    CPPUNIT_ASSERT_EQUAL ((guint64) 180, gate.dropped_bytes);
  }

  /* Waiting for a keyframe, the gate asks for one once (the broadcast
   * passes it on to its input), not once per dropped tag; once synced it
   * does not ask; the next wait asks again. */
  void test_asks_for_a_keyframe_once_per_wait ()
  {
    OutputGate gate;
    gate.open = false;
    CPPUNIT_ASSERT (!push_closed (gate, Tag::VideoInter, 100));
    gate.synced = false;
    CPPUNIT_ASSERT (push_closed (gate, Tag::Audio, 30));
    CPPUNIT_ASSERT (!push_closed (gate, Tag::VideoInter, 100));
    CPPUNIT_ASSERT (!push_closed (gate, Tag::Audio, 30));
    CPPUNIT_ASSERT (!push_closed (gate, Tag::VideoKey, 400));
    CPPUNIT_ASSERT (!push_closed (gate, Tag::VideoInter, 100));
    CPPUNIT_ASSERT (gate.synced && !gate.keyframe_asked);
    /* Lost again (a reconnection that failed, a destination that fell
     * behind): a new wait. */
    gate.synced = false;
    CPPUNIT_ASSERT (push_closed (gate, Tag::VideoInter, 100));
    CPPUNIT_ASSERT (!push_closed (gate, Tag::VideoInter, 100));
  }

  void test_keeps_everything_within_the_bound ()
  {
    OutputGate gate;
    gate.open = false;
    gate.max_backlog_bytes = 1000;
    push_closed (gate, Tag::VideoKey, 500);
    push_closed (gate, Tag::VideoInter, 300);
    push_closed (gate, Tag::Audio, 200);
    /* Exactly the bound is still within it. */
    CPPUNIT_ASSERT_EQUAL ((gsize) 1000, gate.backlog_bytes);
    CPPUNIT_ASSERT_EQUAL ((size_t) 3, gate.backlog.size ());
    CPPUNIT_ASSERT_EQUAL ((guint64) 0, gate.dropped_bytes);
  }

  /* Over the bound, the oldest GOPs go whole (audio inside them too), so
   * the kept tags still start with a keyframe. */
  void test_over_the_bound_drops_whole_gops ()
  {
    OutputGate gate;
    gate.open = false;
    gate.max_backlog_bytes = 1000;
    for (int gop = 0; gop < 3; gop++) {
      push_closed (gate, Tag::VideoKey, 200);
      push_closed (gate, Tag::Audio, 50);
      push_closed (gate, Tag::VideoInter, 100);
    }
    /* 3 x 350 = 1050 > 1000: the first GOP (350) went. */
    CPPUNIT_ASSERT_EQUAL ((gsize) 700, gate.backlog_bytes);
    CPPUNIT_ASSERT_EQUAL ((guint64) 350, gate.dropped_bytes);
    CPPUNIT_ASSERT_EQUAL ((size_t) 6, gate.backlog.size ());
    CPPUNIT_ASSERT (front_is_keyframe (gate));
    CPPUNIT_ASSERT (gate.synced);

    /* A long GOP growing past the bound drops the GOPs before it, never
     * a part of one. */
    for (int i = 0; i < 4; i++)
      push_closed (gate, Tag::VideoInter, 100);
    /* 700 + 400 = 1100: the second GOP (350) went, 750 left. */
    CPPUNIT_ASSERT_EQUAL ((gsize) 750, gate.backlog_bytes);
    CPPUNIT_ASSERT_EQUAL ((guint64) 700, gate.dropped_bytes);
    CPPUNIT_ASSERT (front_is_keyframe (gate));
    CPPUNIT_ASSERT_EQUAL (sum_sizes (gate), gate.backlog_bytes);
  }

  /* A single GOP larger than the bound cannot be kept in part: all of it
   * goes, and keeping starts again at the next keyframe. */
  void test_one_gop_over_the_bound_waits_for_the_next ()
  {
    OutputGate gate;
    gate.open = false;
    gate.max_backlog_bytes = 1000;
    push_closed (gate, Tag::VideoKey, 600);
    push_closed (gate, Tag::VideoInter, 300);
    push_closed (gate, Tag::VideoInter, 300);
    CPPUNIT_ASSERT (gate.backlog.empty ());
    CPPUNIT_ASSERT_EQUAL ((gsize) 0, gate.backlog_bytes);
    CPPUNIT_ASSERT_EQUAL ((guint64) 1200, gate.dropped_bytes);
    CPPUNIT_ASSERT (!gate.synced);

    push_closed (gate, Tag::VideoInter, 300);
    push_closed (gate, Tag::Audio, 50);
    CPPUNIT_ASSERT (gate.backlog.empty ());
    CPPUNIT_ASSERT_EQUAL ((guint64) 1550, gate.dropped_bytes);
    push_closed (gate, Tag::VideoKey, 400);
    CPPUNIT_ASSERT_EQUAL ((size_t) 1, gate.backlog.size ());
    CPPUNIT_ASSERT (front_is_keyframe (gate));
    CPPUNIT_ASSERT (gate.synced);
  }

  /* The gate holds one ref per kept buffer, given back when it drops the
   * buffer and when it goes away. */
  void test_kept_buffers_are_released ()
  {
    GstBuffer *first = flv_tag (Tag::VideoKey, 600);
    GstBuffer *second = flv_tag (Tag::VideoKey, 600);
    {
      OutputGate gate;
      gate.open = false;
      gate.max_backlog_bytes = 1000;
      bool ask_keyframe = false;
      CPPUNIT_ASSERT (gate.sync (first, ask_keyframe));
      gate.keep (first);
      CPPUNIT_ASSERT_EQUAL (2, GST_MINI_OBJECT_REFCOUNT_VALUE (first));
      CPPUNIT_ASSERT (gate.sync (second, ask_keyframe));
      CPPUNIT_ASSERT (!ask_keyframe);
      gate.keep (second);
      /* 1200 > 1000: the first GOP was dropped. */
      CPPUNIT_ASSERT_EQUAL (1, GST_MINI_OBJECT_REFCOUNT_VALUE (first));
      CPPUNIT_ASSERT_EQUAL (2, GST_MINI_OBJECT_REFCOUNT_VALUE (second));
    }
    CPPUNIT_ASSERT_EQUAL (1, GST_MINI_OBJECT_REFCOUNT_VALUE (second));
    gst_buffer_unref (first);
    gst_buffer_unref (second);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (MediaBacklogTest);
