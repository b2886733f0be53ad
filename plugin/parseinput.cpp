/* flvencodebin's input side (see parseinput.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "parseinput.h"

#include "encodebranches.h"

#include <memory>
#include <utility>

#define GST_CAT_DEFAULT gst_flv_encode_bin_debug

namespace wsrtmp {

TimestampRepair::Verdict
TimestampRepair::picture (GstClockTime running, bool decoding)
{
  Verdict verdict;
  if (!GST_CLOCK_TIME_IS_VALID (running))
    return verdict;
  GstClockTime previous = std::exchange (previous_, running);
  if (!GST_CLOCK_TIME_IS_VALID (last_) || running > last_) {
    last_ = running;
    return verdict;
  }
  /* A presentation time before the previous picture's (not one of those
   * moved after it): B-frames, never this far. */
  if (!decoding && running < previous) {
    verdict.error = running + MAX_TIMESTAMP_REPAIR < previous;
    last_ = running;
    return verdict;
  }
  GstClockTime behind = last_ - running;
  if (behind > MAX_TIMESTAMP_REPAIR) {
    verdict.error = true;
    return verdict;
  }
  verdict.shift = behind + GST_MSECOND;
  last_ += GST_MSECOND;
  repaired_++;
  return verdict;
}

namespace {

/* The input is a byte stream, pushed as a browser sends it, and a file is
 * read the same way. In pull mode qtdemux would read a whole MP4 header in
 * its own thread while parsebin brings it to PAUSED, and parsebin drops
 * the errors a child posts then: a header without media ("no playable
 * streams") would end in silence whenever qtdemux was that quick. Pushed,
 * qtdemux announces the streams and the bin decides (release_empty_stream). */
GstPadProbeReturn
offer_push_mode_only (GstPad *pad, GstPadProbeInfo *info, gpointer)
{
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);
  if (GST_QUERY_TYPE (query) != GST_QUERY_SCHEDULING)
    return GST_PAD_PROBE_OK;
  GstSchedulingFlags flags = static_cast<GstSchedulingFlags> (0);
  int min_size = 1, max_size = -1, align = 0;
  g_autoptr (GstPad) peer = gst_pad_get_peer (pad);
  g_autoptr (GstQuery) upstream = gst_query_new_scheduling ();
  if (peer && gst_pad_query (peer, upstream))
    gst_query_parse_scheduling (upstream, &flags, &min_size, &max_size,
        &align);
  gst_query_set_scheduling (query, flags, min_size, max_size, align);
  gst_query_add_scheduling_mode (query, GST_PAD_MODE_PUSH);
  return GST_PAD_PROBE_HANDLED;
}

/* A browser sends its recording in bursts (one MediaRecorder chunk every
 * ~250 ms). Behind a live source, flvmux (an aggregator) would mux on a
 * clock deadline and interleave late bursts wrongly or drop them. Reporting
 * the input as not live makes it wait until every stream has data: nothing
 * is dropped, and output is paced by the input alone. */
GstPadProbeReturn
report_input_not_live (GstPad *, GstPadProbeInfo *info, gpointer)
{
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max;
    gst_query_parse_latency (query, &live, &min, &max);
    gst_query_set_latency (query, FALSE, min, max);
  }
  return GST_PAD_PROBE_OK;
}

/* Matroska (Chromium's H.264 recordings) carries H.264 as a byte stream,
 * one picture per block, but says nothing of the alignment: h264parse then
 * holds every picture until the next one's start code shows it complete,
 * and a message's last picture waits for the next message. Saying so lets
 * it go at once. */
GstPadProbeReturn
declare_whole_pictures (GstPad *pad, GstPadProbeInfo *info, gpointer)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  GstCaps *caps;
  gst_event_parse_caps (event, &caps);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  if (!gst_structure_has_name (s, "video/x-h264") ||
      gst_structure_has_field (s, "alignment") ||
      g_strcmp0 (gst_structure_get_string (s, "stream-format"),
          "byte-stream") != 0)
    return GST_PAD_PROBE_OK;
  g_autoptr (GstPad) peer = gst_pad_get_peer (pad);
  g_autoptr (GstElement) upstream = peer ? gst_pad_get_parent_element (peer) :
      nullptr;
  GstElementFactory *factory = upstream ?
      gst_element_get_factory (upstream) : nullptr;
  if (!factory || !g_str_equal (GST_OBJECT_NAME (factory), "matroskademux"))
    return GST_PAD_PROBE_OK;
  g_autoptr (GstCaps) aligned = gst_caps_copy (caps);
  gst_caps_set_simple (aligned, "alignment", G_TYPE_STRING, "au", nullptr);
  gst_event_unref (event);
  GST_PAD_PROBE_INFO_DATA (info) = gst_event_new_caps (aligned);
  return GST_PAD_PROBE_OK;
}

/* What flvmux takes. Asked before parsebin's output is linked, h264parse
 * would keep a byte stream, and add an access unit delimiter to every
 * picture once it knows the pictures whole. */
GstPadProbeReturn
offer_avc_only (GstPad *, GstPadProbeInfo *info, gpointer)
{
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);
  if (GST_QUERY_TYPE (query) != GST_QUERY_CAPS)
    return GST_PAD_PROBE_OK;
  GstCaps *filter;
  gst_query_parse_caps (query, &filter);
  g_autoptr (GstCaps) avc = gst_caps_from_string (
      "video/x-h264,stream-format=avc,alignment=au");
  if (filter) {
    GstCaps *both = gst_caps_intersect (avc, filter);
    gst_caps_take (&avc, both);
  }
  gst_query_set_caps_result (query, avc);
  return GST_PAD_PROBE_HANDLED;
}

/* One parser's input: its TimestampRepair, and the element to blame. */
struct InputTimes {
  explicit InputTimes (GstElement *bin) : bin (bin) {}
  GstElement *const bin;        /* not owned: it holds the parser */
  TimestampRepair repair;
  bool failed = false;
};

GstPadProbeReturn
repair_timestamps (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  InputTimes &times = probe_object<InputTimes> (data);
  if (GST_PAD_PROBE_INFO_TYPE (info) & (GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
          GST_PAD_PROBE_TYPE_EVENT_FLUSH)) {
    GstEventType type = GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info));
    if (type == GST_EVENT_FLUSH_STOP || type == GST_EVENT_STREAM_START)
      times.repair.reset ();
    return GST_PAD_PROBE_OK;
  }
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  bool decoding = GST_BUFFER_DTS_IS_VALID (buffer);
  GstClockTime time = decoding_position (buffer);
  g_autoptr (GstEvent) event = gst_pad_get_sticky_event (pad,
      GST_EVENT_SEGMENT, 0);
  if (!event || !GST_CLOCK_TIME_IS_VALID (time))
    return GST_PAD_PROBE_OK;
  const GstSegment *segment;
  gst_event_parse_segment (event, &segment);
  GstClockTime running = gst_segment_to_running_time (segment,
      GST_FORMAT_TIME, time);
  TimestampRepair::Verdict verdict = times.repair.picture (running, decoding);
  if (verdict.error) {
    if (!std::exchange (times.failed, true))
      GST_ELEMENT_ERROR (times.bin, STREAM, DEMUX,
          ("The input's video timestamps go back by more than %.1f s.",
              (double) MAX_TIMESTAMP_REPAIR / GST_SECOND),
          ("%s %" GST_TIME_FORMAT " after a later one",
              decoding ? "DTS" : "PTS", GST_TIME_ARGS (time)));
    return GST_PAD_PROBE_DROP;
  }
  if (verdict.shift == 0)
    return GST_PAD_PROBE_OK;
  /* Logged once: a browser that does it does it every few seconds. */
  if (times.repair.repaired () == 1)
    GST_WARNING_OBJECT (times.bin, "the input's video timestamps repeat or "
        "go back (%s %" GST_TIME_FORMAT "): such a picture is moved a "
        "millisecond after the previous one (further repairs at DEBUG)",
        decoding ? "DTS" : "PTS", GST_TIME_ARGS (time));
  else
    GST_DEBUG_OBJECT (times.bin, "%s %" GST_TIME_FORMAT " moved by %"
        GST_TIME_FORMAT " (%u pictures so far)", decoding ? "DTS" : "PTS",
        GST_TIME_ARGS (time), GST_TIME_ARGS (verdict.shift),
        times.repair.repaired ());
  buffer = gst_buffer_make_writable (buffer);
  if (GST_BUFFER_DTS_IS_VALID (buffer))
    GST_BUFFER_DTS (buffer) += verdict.shift;
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    GST_BUFFER_PTS (buffer) += verdict.shift;
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

}  // namespace

void
prepare_parse_input (GstPad *parse_sink)
{
  gst_pad_add_probe (parse_sink, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_QUERY_UPSTREAM | GST_PAD_PROBE_TYPE_PULL),
      report_input_not_live, nullptr, nullptr);
  gst_pad_add_probe (parse_sink, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_QUERY_UPSTREAM | GST_PAD_PROBE_TYPE_PUSH),
      offer_push_mode_only, nullptr, nullptr);
}

void
prepare_parser (GstElement *element, GstElement *bin)
{
  GstElementFactory *factory = gst_element_get_factory (element);
  if (!factory || !g_str_equal (GST_OBJECT_NAME (factory), "h264parse"))
    return;
  g_autoptr (GstPad) sink = gst_element_get_static_pad (element, "sink");
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      declare_whole_pictures, nullptr, nullptr);
  add_probe_with (sink, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
          GST_PAD_PROBE_TYPE_EVENT_FLUSH),
      repair_timestamps, std::make_shared<InputTimes> (bin));
  g_autoptr (GstPad) src = gst_element_get_static_pad (element, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM, offer_avc_only,
      nullptr, nullptr);
}

}  // namespace wsrtmp
