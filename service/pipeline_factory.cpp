/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pipeline_factory.h"
#include "gstwsserversrc.h"

#include <cstdio>

namespace wsrtmp {

namespace {

/* The browser's byte stream in, FLV out: flvencodebin (our plugin) finds
 * the container, passes H.264 through or transcodes, and makes sure both
 * tracks exist. Its settings are set as properties from EncodeSettings. */
constexpr const char *INGEST_TEMPLATE =
    "wsserversrc name=src ! flvencodebin name=encode";

/* flvsplice (our plugin) joins the connections' FLV into one stream with
 * rising timestamps and fills the gaps between them with a slate. */
constexpr const char *OUTPUT_TEMPLATE = "flvsplice name=splice ! tee name=out";

/* With several destinations, the queue keeps a slow one from stalling the
 * others for a while. A single one needs none (a thread less per stream):
 * rtmp2sink queues the messages for its own socket thread, and a stall
 * backs up into wsserversrc's bounded queue. sync=false: live output,
 * never held back by the clock. */
#define RTMP_SINK "rtmp2sink name=%s sync=false"
constexpr const char *RTMP_ONLY_SINK_TEMPLATE = RTMP_SINK;
constexpr const char *RTMP_SINK_TEMPLATE =
    "queue max-size-buffers=0 max-size-bytes=0 max-size-time=10000000000 ! "
    RTMP_SINK;
#undef RTMP_SINK
constexpr const char *FILE_SINK_TEMPLATE =
    "queue ! filesink name=%s sync=false";

const char *const REQUIRED_ELEMENTS[] = { "wsserversrc", "flvencodebin",
  "flvsplice", "imagefreeze",
  "parsebin", "flvmux", "tee", "funnel", "queue", "videoconvert", "videoscale",
  "videorate", "x264enc", "h264parse", "audioconvert", "audioresample",
  "voaacenc", "aacparse", "audiotestsrc", "videotestsrc", "rtmp2sink",
  "filesink", "fakesink" };

std::string
format (const char *pattern, ...) G_GNUC_PRINTF (1, 2);

std::string
format (const char *pattern, ...)
{
  va_list args;
  va_start (args, pattern);
  g_autofree char *text = g_strdup_vprintf (pattern, args);
  va_end (args);
  return text;
}

GstPadProbeReturn
count_bytes_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto &counters = *static_cast<std::shared_ptr<MediaCounters> *> (data);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    counters->bytes_out += gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  } else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    counters->bytes_out += gst_buffer_list_calculate_size (
        GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  }
  return GST_PAD_PROBE_OK;
}

void
free_counters_ref (gpointer data)
{
  delete static_cast<std::shared_ptr<MediaCounters> *> (data);
}

}  // namespace

std::string
destination_sink_name (size_t index)
{
  return "dest" + std::to_string (index);
}

PipelineFactory::PipelineFactory (EncodeSettings settings,
    ContinuitySettings continuity)
    : settings_ (std::move (settings)), continuity_ (std::move (continuity))
{
}

GstElement *
PipelineFactory::create_ingest (SoupWebsocketConnection *connection,
    guint64 max_message_size, const std::string &name, GError **error) const
{
  GstElement *bin = gst_parse_bin_from_description (INGEST_TEMPLATE, TRUE,
      error);
  if (!bin)
    return nullptr;
  gst_object_set_name (GST_OBJECT (bin), name.c_str ());
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (bin),
      MEDIA_SOURCE_NAME);
  g_object_set (src, GST_WS_SERVER_SRC_PROP_MAX_MESSAGE_SIZE,
      max_message_size, GST_WS_SERVER_SRC_PROP_CONNECTION, connection,
      nullptr);
  g_autoptr (GstElement) encode = gst_bin_get_by_name (GST_BIN (bin),
      MEDIA_ENCODER_NAME);
  const EncodeSettings &s = settings_;
  g_object_set (encode, "video-bitrate", (guint) s.video_bitrate_kbps,
      "speed-preset", s.x264_preset.c_str (),
      "audio-bitrate", (guint) s.audio_bitrate_kbps,
      "framerate", s.framerate, 1,
      "codec-threads", (guint) s.codec_threads,
      "passthrough", (gboolean) s.passthrough, nullptr);
  return bin;
}

bool
PipelineFactory::check_elements (std::string &missing)
{
  for (const char *name : REQUIRED_ELEMENTS) {
    g_autoptr (GstElementFactory) factory = gst_element_factory_find (name);
    if (!factory) {
      missing = name;
      return false;
    }
  }
  return true;
}

std::unique_ptr<Media>
PipelineFactory::create (const MediaSpec &spec, const std::string &name,
    GError **error) const
{
  g_autoptr (GstParseContext) parse_context = gst_parse_context_new ();
  GstElement *launched = gst_parse_launch_full (OUTPUT_TEMPLATE,
      parse_context, GST_PARSE_FLAG_FATAL_ERRORS, error);
  if (!launched)
    return nullptr;
  GstObjectPtr<GstElement> pipeline (launched);
  gst_object_set_name (GST_OBJECT (launched), name.c_str ());
  GstBin *bin = GST_BIN (launched);

  auto counters = std::make_shared<MediaCounters> ();

  g_autoptr (GstElement) splice = gst_bin_get_by_name (bin, MEDIA_SPLICE_NAME);
  /* The output size is flvencodebin's default on both elements. */
  g_object_set (splice, "timeout", (guint) continuity_.timeout_s,
      "framerate", settings_.framerate, 1, nullptr);
  if (!continuity_.slate_image.empty ())
    g_object_set (splice, "slate-location", continuity_.slate_image.c_str (),
        nullptr);
  g_autoptr (GstPad) splice_src = gst_element_get_static_pad (splice, "src");
  gst_pad_add_probe (splice_src, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      count_bytes_out, new std::shared_ptr<MediaCounters> (counters),
      free_counters_ref);

  g_autoptr (GstElement) tee = gst_bin_get_by_name (bin, "out");
  std::vector<std::unique_ptr<RtmpOutput>> rtmp_outputs;
  for (size_t i = 0; i < spec.destinations.size (); i++) {
    const Destination &dest = spec.destinations[i];
    std::string sink_name = destination_sink_name (i);
    if (dest.kind == Destination::Kind::Rtmp) {
      /* Replaceable: a lost connection is retried with a new sink. */
      auto output = std::make_unique<RtmpOutput> (launched, tee,
          spec.destinations.size () == 1 ? RTMP_ONLY_SINK_TEMPLATE :
          RTMP_SINK_TEMPLATE, sink_name, dest.location, counters);
      if (!output->attach (true, error))
        return nullptr;
      rtmp_outputs.push_back (std::move (output));
      continue;
    }
    std::string sink_description = format (FILE_SINK_TEMPLATE,
        sink_name.c_str ());
    GstElement *dest_bin = gst_parse_bin_from_description (
        sink_description.c_str (), TRUE, error);
    if (!dest_bin)
      return nullptr;
    gst_bin_add (bin, dest_bin);
    g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (dest_bin),
        sink_name.c_str ());
    g_object_set (sink, "location", dest.location.c_str (), nullptr);
    if (!gst_element_link (tee, dest_bin)) {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
          "cannot link destination %zu", i);
      return nullptr;
    }
    g_autoptr (GstPad) sink_pad = gst_element_get_static_pad (sink, "sink");
    add_live_probe (sink_pad, counters, launched);
  }
  return std::make_unique<Media> (pipeline.release (), counters,
      std::move (rtmp_outputs));
}

}  // namespace wsrtmp
