/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pipeline_factory.h"

#include <cstdio>

namespace wsrtmp {

namespace {

/* The browser's byte stream; parsebin finds the container (WebM/Matroska,
 * fragmented MP4) and hands out parsed elementary streams, which is where
 * H.264 passthrough will branch off later. */
constexpr const char *INGEST_TEMPLATE =
    "wsserversrc name=src ! parsebin name=parse";

constexpr const char *OUTPUT_TEMPLATE =
    "flvmux name=mux streamable=true ! tee name=out";

/* After the decoder. videorate makes the frame rate constant so that
 * key-int-max (in frames) means a fixed time. */
constexpr const char *VIDEO_ENCODE_TEMPLATE =
    "videoconvert ! videoscale ! videorate ! video/x-raw,framerate=%d/1 ! "
    "x264enc name=venc tune=zerolatency speed-preset=%s bitrate=%d "
    "key-int-max=%d ! video/x-h264,profile=main ! h264parse";

/* voaacenc: about a third of avenc_aac's CPU (NOTES.md), which matters at
 * hundreds of streams. */
constexpr const char *AUDIO_ENCODE_TEMPLATE =
    "audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! "
    "voaacenc name=aenc bitrate=%d ! aacparse";

/* The queue keeps a slow destination from stalling the others for a while;
 * sync=false: live output, never held back by the clock. */
constexpr const char *RTMP_SINK_TEMPLATE =
    "queue max-size-buffers=0 max-size-bytes=0 max-size-time=10000000000 ! "
    "rtmp2sink name=%s sync=false";
constexpr const char *FILE_SINK_TEMPLATE =
    "queue ! filesink name=%s sync=false";

/* Compressed data waiting in front of a decoder. Generous because the
 * muxer waits until it has data for every stream. */
constexpr guint64 BRANCH_QUEUE_TIME = 5 * GST_SECOND;

const char *const REQUIRED_ELEMENTS[] = { "wsserversrc", "parsebin",
  "flvmux", "tee", "queue", "videoconvert", "videoscale", "videorate",
  "x264enc", "h264parse", "audioconvert", "audioresample", "voaacenc",
  "aacparse", "rtmp2sink", "filesink", "fakesink" };

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

/* What pad-added needs; owned by the signal connection. */
struct BranchContext {
  EncodeSettings settings;
  GstElement *pipeline;         /* not owned: it owns us */
  bool have_video = false;
  bool have_audio = false;
  bool linked_any = false;
};

void
post_error (GstElement *pipeline, GstObject *origin, GQuark domain, int code,
    const std::string &text, const std::string &debug)
{
  GError *error = g_error_new_literal (domain, code, text.c_str ());
  gst_element_post_message (pipeline, gst_message_new_error (origin, error,
          debug.c_str ()));
  g_error_free (error);
}

/* Highest-ranked software decoder for caps. */
GstElementFactory *
find_decoder (GstCaps *caps)
{
  GList *decoders = gst_element_factory_list_get_elements (
      GST_ELEMENT_FACTORY_TYPE_DECODER, GST_RANK_MARGINAL);
  GList *usable = gst_element_factory_list_filter (decoders, caps,
      GST_PAD_SINK, FALSE);
  usable = g_list_sort (usable, gst_plugin_feature_rank_compare_func);
  GstElementFactory *found = nullptr;
  for (GList *l = usable; l; l = l->next) {
    auto *factory = GST_ELEMENT_FACTORY (l->data);
    const char *klass = gst_element_factory_get_metadata (factory,
        GST_ELEMENT_METADATA_KLASS);
    /* Hardware decoders need devices a server may share or lack. */
    if (klass && strstr (klass, "Hardware"))
      continue;
    /* Chromium marks its VP8 tracks as possibly having alpha (AlphaMode),
     * which the alpha decode bins then insist on; FLV carries no alpha. */
    if (strstr (GST_OBJECT_NAME (factory), "alpha"))
      continue;
    found = GST_ELEMENT_FACTORY (gst_object_ref (factory));
    break;
  }
  gst_plugin_feature_list_free (usable);
  gst_plugin_feature_list_free (decoders);
  return found;
}

/* Streams FLV cannot carry (a second video track, subtitles) are consumed
 * so they never block the demuxer. */
void
discard_pad (GstElement *pipeline, GstPad *pad)
{
  GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
  g_object_set (sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add (GST_BIN (pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_link (pad, sinkpad);
}

/* decode ! encode for one elementary stream, into a request pad of flvmux. */
bool
link_branch (BranchContext *ctx, GstPad *pad, GstCaps *caps, bool video,
    std::string &error)
{
  g_autoptr (GstElementFactory) decoder_factory = find_decoder (caps);
  if (!decoder_factory) {
    g_autofree char *caps_str = gst_caps_to_string (caps);
    error = caps_str;
    return false;
  }
  const EncodeSettings &s = ctx->settings;
  std::string description = video ?
      format (VIDEO_ENCODE_TEMPLATE, s.framerate, s.x264_preset.c_str (),
          s.video_bitrate_kbps, s.framerate * s.keyframe_interval_s) :
      format (AUDIO_ENCODE_TEMPLATE, s.audio_bitrate_kbps * 1000);

  g_autoptr (GError) parse_error = nullptr;
  GstElement *encode = gst_parse_bin_from_description (description.c_str (),
      TRUE, &parse_error);
  if (!encode) {
    error = parse_error->message;
    return false;
  }
  gst_object_set_name (GST_OBJECT (encode), video ? "vencode" : "aencode");
  GstElement *queue = gst_element_factory_make ("queue",
      video ? "vqueue" : "aqueue");
  g_object_set (queue, "max-size-buffers", 0, "max-size-bytes", 0,
      "max-size-time", BRANCH_QUEUE_TIME, nullptr);
  GstElement *decoder = gst_element_factory_create (decoder_factory,
      video ? "vdec" : "adec");

  GstBin *bin = GST_BIN (ctx->pipeline);
  gst_bin_add_many (bin, queue, decoder, encode, nullptr);
  g_autoptr (GstElement) mux = gst_bin_get_by_name (bin, "mux");
  g_autoptr (GstPad) mux_pad = gst_element_request_pad_simple (mux,
      video ? "video" : "audio");
  g_autoptr (GstPad) encode_src = gst_element_get_static_pad (encode, "src");
  g_autoptr (GstPad) queue_sink = gst_element_get_static_pad (queue, "sink");
  if (!mux_pad || !gst_element_link_many (queue, decoder, encode, nullptr) ||
      gst_pad_link (encode_src, mux_pad) != GST_PAD_LINK_OK) {
    error = "cannot link the encoder to the muxer";
    return false;
  }
  /* Downstream first, so nothing is pushed into an element not yet
   * running. */
  gst_element_sync_state_with_parent (encode);
  gst_element_sync_state_with_parent (decoder);
  gst_element_sync_state_with_parent (queue);
  /* Caps are settled by the caps event, not at link time: opusdec's caps
   * query refuses Firefox's informational rate=44100 that it decodes fine. */
  if (gst_pad_link_full (pad, queue_sink, GST_PAD_LINK_CHECK_HIERARCHY) !=
      GST_PAD_LINK_OK) {
    error = "cannot link the demuxed stream";
    return false;
  }
  return true;
}

/* parsebin exposes all streams of a group before any data flows, so every
 * flvmux pad exists before flvmux writes its header. */
void
on_pad_added (GstElement *parse, GstPad *pad, gpointer data)
{
  auto *ctx = static_cast<BranchContext *> (data);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const char *media = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  bool video = g_str_has_prefix (media, "video/");
  bool audio = g_str_has_prefix (media, "audio/");

  if ((!video && !audio) || (video && ctx->have_video) ||
      (audio && ctx->have_audio)) {
    GST_INFO_OBJECT (parse, "ignoring extra stream %s", media);
    discard_pad (ctx->pipeline, pad);
    return;
  }
  (video ? ctx->have_video : ctx->have_audio) = true;

  std::string error;
  if (!link_branch (ctx, pad, caps, video, error)) {
    post_error (ctx->pipeline, GST_OBJECT (parse), GST_STREAM_ERROR,
        GST_STREAM_ERROR_CODEC_NOT_FOUND,
        std::string ("unsupported codec ") + media,
        "no decoder or branch for " + error);
    return;
  }
  ctx->linked_any = true;
}

void
on_no_more_pads (GstElement *parse, gpointer data)
{
  auto *ctx = static_cast<BranchContext *> (data);
  if (!ctx->linked_any)
    post_error (ctx->pipeline, GST_OBJECT (parse), GST_STREAM_ERROR,
        GST_STREAM_ERROR_WRONG_TYPE, "the stream has no audio or video", "");
}

void
free_branch_context (gpointer data, GClosure *)
{
  delete static_cast<BranchContext *> (data);
}

/* wsserversrc is a live source, which would make flvmux (an aggregator)
 * mux on a clock deadline: data arriving a chunk late (the browser sends
 * ~250 ms batches) would time out and be interleaved wrongly or dropped.
 * Telling downstream the stream is not live makes flvmux wait until it has
 * data for every stream instead, which also means nothing accepted is
 * dropped. Sinks run with sync=false, so nothing waits on the clock. */
GstPadProbeReturn
report_not_live (GstPad *pad, GstPadProbeInfo *info, gpointer)
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

void
free_live_probe (gpointer data)
{
  delete static_cast<LiveProbe *> (data);
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

PipelineFactory::PipelineFactory (EncodeSettings settings)
    : settings_ (std::move (settings))
{
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
  std::string description = std::string (INGEST_TEMPLATE) + "  " +
      OUTPUT_TEMPLATE;
  g_autoptr (GstParseContext) parse_context = gst_parse_context_new ();
  GstElement *launched = gst_parse_launch_full (description.c_str (),
      parse_context, GST_PARSE_FLAG_FATAL_ERRORS, error);
  if (!launched)
    return nullptr;
  GstObjectPtr<GstElement> pipeline (launched);
  gst_object_set_name (GST_OBJECT (launched), name.c_str ());
  GstBin *bin = GST_BIN (launched);

  auto counters = std::make_shared<MediaCounters> ();

  g_autoptr (GstElement) src = gst_bin_get_by_name (bin, MEDIA_SOURCE_NAME);
  g_object_set (src, "max-message-size", spec.max_message_size,
      "connection", spec.connection, nullptr);
  g_autoptr (GstPad) src_pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (src_pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_QUERY_UPSTREAM | GST_PAD_PROBE_TYPE_PULL),
      report_not_live, nullptr, nullptr);

  g_autoptr (GstElement) parse = gst_bin_get_by_name (bin, "parse");
  auto *ctx = new BranchContext { settings_, launched };
  g_signal_connect_data (parse, "pad-added", G_CALLBACK (on_pad_added), ctx,
      free_branch_context, GConnectFlags (0));
  g_signal_connect (parse, "no-more-pads", G_CALLBACK (on_no_more_pads), ctx);

  g_autoptr (GstElement) mux = gst_bin_get_by_name (bin, "mux");
  g_autoptr (GstPad) mux_src = gst_element_get_static_pad (mux, "src");
  gst_pad_add_probe (mux_src, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      count_bytes_out, new std::shared_ptr<MediaCounters> (counters),
      free_counters_ref);

  g_autoptr (GstElement) tee = gst_bin_get_by_name (bin, "out");
  for (size_t i = 0; i < spec.destinations.size (); i++) {
    const Destination &dest = spec.destinations[i];
    std::string sink_name = destination_sink_name (i);
    std::string sink_description = format (
        dest.kind == Destination::Kind::Rtmp ? RTMP_SINK_TEMPLATE :
        FILE_SINK_TEMPLATE, sink_name.c_str ());
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
    gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_BUFFER, post_live,
        new LiveProbe { counters, launched }, free_live_probe);
  }
  return std::make_unique<Media> (pipeline.release (), counters);
}

}  // namespace wsrtmp
