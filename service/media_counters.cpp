/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "media_counters.h"
#include "util.h"

namespace wsrtmp {

namespace {

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

}  // namespace

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
  gst_pad_add_probe (pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      count_bytes_out, new std::shared_ptr<MediaCounters> (
          std::move (counters)),
      delete_data<std::shared_ptr<MediaCounters>>);
}

}  // namespace wsrtmp
