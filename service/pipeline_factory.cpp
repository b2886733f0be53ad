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

/* A WHIP input's depayloaded tracks, muxed into what flvencodebin reads
 * best (the browsers' own WebM: Matroska with H.264/VP8/VP9 and Opus), so
 * they take the WebSocket path's road: H.264 passed through, Opus to AAC,
 * the keyframe rule. */
constexpr const char *WHIP_INGEST_TEMPLATE =
    "matroskamux name=whipmux streamable=true ! flvencodebin name=encode";

/* flvsplice (our plugin) joins the connections' FLV into one stream with
 * rising timestamps and fills the gaps between them with a slate. */
constexpr const char *OUTPUT_TEMPLATE = "flvsplice name=splice ! tee name=out";

const char *const REQUIRED_ELEMENTS[] = { "wsserversrc", "flvencodebin",
  "flvsplice", "imagefreeze",
  "parsebin", "flvmux", "tee", "funnel", "queue", "videoconvert", "videoscale",
  "livevideorate", "x264enc", "h264parse", "audioconvert", "audioresample",
  "voaacenc", "aacparse", "audiotestsrc", "videotestsrc", "rtmp2sink",
  "filesink", "fakesink", "matroskamux", "flvdemux", "splitmuxsink",
  "mp4mux", "qtdemux", "filesrc", "capsfilter" };

/* The default of a double property of an element (fallback when the
 * element or the property is not there: check_elements says so). */
double
element_default_double (const char *factory_name, const char *property,
    double fallback)
{
  g_autoptr (GstElementFactory) factory = gst_element_factory_find (
      factory_name);
  g_autoptr (GstPluginFeature) loaded = factory ? gst_plugin_feature_load (
      GST_PLUGIN_FEATURE (factory)) : nullptr;
  GType type = loaded ? gst_element_factory_get_element_type (
      GST_ELEMENT_FACTORY (loaded)) : G_TYPE_INVALID;
  if (!type)
    return fallback;
  auto *klass = static_cast<GObjectClass *> (g_type_class_ref (type));
  GParamSpec *spec = g_object_class_find_property (klass, property);
  double value = spec && G_IS_PARAM_SPEC_DOUBLE (spec) ?
      G_PARAM_SPEC_DOUBLE (spec)->default_value : fallback;
  g_type_class_unref (klass);
  return value;
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
  /* Read from the installed element, like the options' defaults, so what
   * clients are told is what the plugin does. */
  if (settings_.keyframe_interval_s <= 0)
    settings_.keyframe_interval_s = element_default_double ("flvencodebin",
        "keyframe-interval", 2.0);
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
  configure_encoder (bin);
  return bin;
}

GstElement *
PipelineFactory::create_whip_ingest (const std::string &name,
    GError **error) const
{
  GstElement *bin = gst_parse_bin_from_description (WHIP_INGEST_TEMPLATE,
      TRUE, error);
  if (!bin)
    return nullptr;
  gst_object_set_name (GST_OBJECT (bin), name.c_str ());
  configure_encoder (bin);
  return bin;
}

/* flvencodebin (MEDIA_ENCODER_NAME in bin) as the options say. */
void
PipelineFactory::configure_encoder (GstElement *bin) const
{
  g_autoptr (GstElement) encode = gst_bin_get_by_name (GST_BIN (bin),
      MEDIA_ENCODER_NAME);
  const EncodeSettings &s = settings_;
  g_object_set (encode, "video-bitrate", (guint) s.video_bitrate_kbps,
      "speed-preset", s.x264_preset.c_str (),
      "audio-bitrate", (guint) s.audio_bitrate_kbps,
      "audio-channels", (guint) s.audio_channels,
      "framerate", s.framerate, 1,
      "codec-threads", (guint) s.codec_threads,
      "passthrough", (gboolean) s.passthrough,
      "keyframe-interval", s.keyframe_interval_s, nullptr);
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
      "framerate", settings_.framerate, 1,
      "keyframe-interval", settings_.keyframe_interval_s, nullptr);
  if (!continuity_.slate_image.empty ())
    g_object_set (splice, "slate-location", continuity_.slate_image.c_str (),
        nullptr);
  g_autoptr (GstPad) splice_src = gst_element_get_static_pad (splice, "src");
  add_bytes_out_probe (splice_src, counters);
  add_delay_probe (splice_src, counters);

  g_autoptr (GstElement) tee = gst_bin_get_by_name (bin, "out");
  std::vector<std::unique_ptr<DestinationOutput>> outputs;
  for (size_t i = 0; i < spec.destinations.size (); i++) {
    /* Each replaceable (a lost connection is retried with a new sink) and
     * isolated from the others: destination.h, destination_output.h. */
    auto output = std::make_unique<DestinationOutput> (launched, tee,
        spec.destinations[i], spec.destinations.size () == 1,
        destination_sink_name (i), counters);
    if (!output->attach (true, error))
      return nullptr;
    outputs.push_back (std::move (output));
  }
  return std::make_unique<Media> (pipeline.release (), counters,
      std::move (outputs));
}

}  // namespace wsrtmp
