/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "media_counters.h"
#include "util.h"

#include <algorithm>

namespace wsrtmp {

namespace {

/* Samples (seconds) the output delay's reference is the best of. */
constexpr size_t DELAY_MEMORY = 20;

struct LiveProbe {
  std::shared_ptr<MediaCounters> counters;
  GstElement *pipeline;         /* not owned: it owns the probe */
};

/* First FLV bytes at a sink: the stream is live for the client. */
GstPadProbeReturn
post_live (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto *probe = static_cast<LiveProbe *> (data);
  if (!probe->counters->live_posted.exchange (true)) {
    g_autoptr (GstObject) sink = gst_pad_get_parent (pad);
    gst_element_post_message (probe->pipeline, gst_message_new_application (
            sink, gst_structure_new_empty (MEDIA_LIVE_MESSAGE)));
  }
  return GST_PAD_PROBE_REMOVE;
}

GstPadProbeReturn
count_bytes_out (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto &counters = *static_cast<std::shared_ptr<MediaCounters> *> (data);
  counters->bytes_out += probe_data_size (info);
  return GST_PAD_PROBE_OK;
}

/* In the streaming thread that pushes out of flvsplice. */
GstPadProbeReturn
note_output_time (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto &counters = *static_cast<std::shared_ptr<MediaCounters> *> (data);
  GstBuffer *buffer = nullptr;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER)
    buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    guint length = gst_buffer_list_length (list);
    buffer = length ? gst_buffer_list_get (list, length - 1) : nullptr;
  }
  /* The FLV header and the stream's headers have no timestamp. */
  if (!buffer || !GST_CLOCK_TIME_IS_VALID (GST_BUFFER_DTS_OR_PTS (buffer)))
    return GST_PAD_PROBE_OK;
  const gint64 ts_us = GST_BUFFER_DTS_OR_PTS (buffer) / GST_USECOND;
  const gint64 offset = g_get_monotonic_time () - ts_us;
  gint64 lowest = counters->offset_min_us.load ();
  while (offset < lowest &&
      !counters->offset_min_us.compare_exchange_weak (lowest, offset)) {
  }
  return GST_PAD_PROBE_OK;
}

/* A buffer (and buffer list) probe given the counters it writes to. */
void
add_counting_probe (GstPad *pad, GstPadProbeCallback callback,
    std::shared_ptr<MediaCounters> counters)
{
  gst_pad_add_probe (pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      callback, new std::shared_ptr<MediaCounters> (std::move (counters)),
      delete_data<std::shared_ptr<MediaCounters>>);
}

}  // namespace

void
add_delay_probe (GstPad *pad, std::shared_ptr<MediaCounters> counters)
{
  add_counting_probe (pad, note_output_time, std::move (counters));
}

gint64
take_output_delay_ms (MediaCounters &counters)
{
  const gint64 offset = counters.offset_min_us.exchange (G_MAXINT64);
  if (offset == G_MAXINT64)
    return -1;
  auto &recent = counters.recent_offsets_us;
  recent.push_back (offset);
  if (recent.size () > DELAY_MEMORY)
    recent.pop_front ();
  return (offset - *std::min_element (recent.begin (), recent.end ())) /
      1000;
}

gsize
probe_data_size (GstPadProbeInfo *info)
{
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER)
    return gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    return gst_buffer_list_calculate_size (GST_PAD_PROBE_INFO_BUFFER_LIST (
            info));
  return 0;
}

void
add_live_probe (GstPad *pad, std::shared_ptr<MediaCounters> counters,
    GstElement *pipeline)
{
  /* Lists too: mpegtsmux (SRT) pushes its packets in lists. */
  gst_pad_add_probe (pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      post_live, new LiveProbe { std::move (counters), pipeline },
      delete_data<LiveProbe>);
}

void
add_bytes_out_probe (GstPad *pad, std::shared_ptr<MediaCounters> counters)
{
  add_counting_probe (pad, count_bytes_out, std::move (counters));
}

}  // namespace wsrtmp
