/* flvencodebin's branches (see encodebranches.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "encodebranches.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#define GST_CAT_DEFAULT gst_flv_encode_bin_debug

namespace wsrtmp {

namespace {

/* A video transcode gets a queue and a thread: x264 and the decoder work
 * beside the demuxing. The audio is decoded and encoded in the demuxer's
 * thread: Opus -> AAC is light, and a thread of its own cost as much CPU in
 * hand-offs as it saved (bench/: 1.13-1.16 % of a core per stream with
 * it, 1.12-1.13 % without, at N=32) and one thread per stream. Audio the
 * demuxer puts out seconds ahead (an MP4 fragment's audio written before
 * its video) waits in flvmux's pads (gstflvencodebin.cpp's MUX_PAD_TIME). */
constexpr guint64 INPUT_QUEUE_TIME = 5 * GST_SECOND;

/* Decoded video to the fixed output format. videoscale letterboxes
 * (add-borders) because the caps force the size and square pixels.
 * livevideorate, not videorate: videorate keeps each picture until the
 * next one arrives, so the last picture of every browser chunk (and the
 * audio muxed after it) would wait a whole chunk interval. It fills from
 * the segment's start unless told to skip to the first picture: a
 * fallback that starts mid-stream must. */
constexpr const char *VIDEO_NORMALIZE =
    "videoconvert ! videoscale add-borders=true ! "
    "livevideorate skip-to-first=%s framerate=%d/%d ! "
    "video/x-raw,format=I420,width=%d,height=%d,pixel-aspect-ratio=1/1";
/* x264's options beside those of flvoutput.h's H264_ENCODER. */
constexpr const char *X264_OPTIONS =
    "threads=%u speed-preset=%s bitrate=%u key-int-max=%d";

constexpr const char *AUDIO_NORMALIZE =
    "audioconvert ! audioresample ! audio/x-raw,rate=%d,channels=%u";
/* AAC decoders play an encoder's priming samples as if they were audio,
 * and FLV cannot tell them how many to skip: the audio would come out that
 * much late. So the priming frames are dropped and the audio moved earlier
 * by as much (voaacenc primes with 2048 samples at 48 kHz). Delaying the
 * video instead would make flvmux hold every frame longer. */
constexpr GstClockTime AAC_PRIMING_DELAY = 2048 * GST_SECOND /
    DEFAULT_AAC_RATE;

constexpr const char *SILENCE_SOURCE = "audiotestsrc wave=silence";
constexpr const char *BLACK_SOURCE = "videotestsrc pattern=black";
/* The image is drawn over black video. */
constexpr const char *IMAGE_OVERLAY =
    "gdkpixbufoverlay location=\"%s\" overlay-width=%d overlay-height=%d";

/* Highest-ranked software decoder for caps. A fixed decoder instead of
 * decodebin: decodebin changes state asynchronously until it has decoded
 * something, which would hold up the whole pipeline for a branch that only
 * starts on demand. */
GstElement *
make_decoder (GstCaps *caps)
{
  GList *decoders = gst_element_factory_list_get_elements (
      GST_ELEMENT_FACTORY_TYPE_DECODER, GST_RANK_MARGINAL);
  GList *usable = gst_element_factory_list_filter (decoders, caps,
      GST_PAD_SINK, FALSE);
  usable = g_list_sort (usable, gst_plugin_feature_rank_compare_func);
  GstElement *decoder = nullptr;
  for (GList *l = usable; l && !decoder; l = l->next) {
    auto *factory = GST_ELEMENT_FACTORY (l->data);
    const char *klass = gst_element_factory_get_metadata (factory,
        GST_ELEMENT_METADATA_KLASS);
    /* Hardware decoders need devices a server may share or lack. */
    if (klass && strstr (klass, "Hardware"))
      continue;
    /* Browsers' VP8/VP9 caps often omit codec-alpha, which the alpha
     * decoders' templates then match; they fail on streams without alpha,
     * and FLV carries no alpha anyway. */
    if (strstr (GST_OBJECT_NAME (factory), "alpha"))
      continue;
    decoder = gst_element_factory_create (factory, nullptr);
  }
  gst_plugin_feature_list_free (usable);
  gst_plugin_feature_list_free (decoders);
  return decoder;
}

/* libav's decoders call it max-threads, libvpx's threads; 0 is automatic
 * for both. */
void
limit_decoder_threads (GstElement *decoder, guint threads)
{
  GObjectClass *klass = G_OBJECT_GET_CLASS (decoder);
  for (const char *name : { "max-threads", "threads" }) {
    GParamSpec *spec = g_object_class_find_property (klass, name);
    if (!spec || !(spec->flags & G_PARAM_WRITABLE))
      continue;
    if (G_IS_PARAM_SPEC_INT (spec))
      g_object_set (decoder, name, (gint) MIN (threads,
              (guint) G_PARAM_SPEC_INT (spec)->maximum), nullptr);
    else if (G_IS_PARAM_SPEC_UINT (spec))
      g_object_set (decoder, name, MIN (threads,
              G_PARAM_SPEC_UINT (spec)->maximum), nullptr);
    return;
  }
}

/* flvmux writes tags in decoding-time order, and the muxed audio of a
 * browser's message ends short of its last picture (AAC's look-ahead needs
 * the start of the next message). Decoding each picture audio-lag before
 * its presentation (the FLV composition time offset, as with B-frames)
 * lets it go out once the audio up to that much before it is there;
 * presentation times, and so A/V sync, stay as they are. Decoding times
 * keep rising: the first pictures (within audio-lag of the start) are
 * decoded at the start, a millisecond apart (FLV's resolution).
 * A picture without any timestamp (with any audio-lag, 0 too) is stamped a
 * millisecond after the previous one: flvmux would hold it until the
 * other track ended and write every later picture there. */
struct DecodeLead {
  GstClockTime lag;
  GstClockTime last = GST_CLOCK_TIME_NONE;  /* running time */
  GstClockTime last_pts = GST_CLOCK_TIME_NONE;  /* running time */
  bool warned = false;
};

/* Stamps a picture without a timestamp after the previous one. */
GstPadProbeReturn
stamp_untimed (GstPad *pad, GstPadProbeInfo *info, DecodeLead *lead,
    const GstSegment *segment)
{
  if (!GST_CLOCK_TIME_IS_VALID (lead->last) ||
      !GST_CLOCK_TIME_IS_VALID (lead->last_pts))
    return GST_PAD_PROBE_OK;  /* nothing to go by: flvmux's own */
  GstClockTime dts = gst_segment_position_from_running_time (segment,
      GST_FORMAT_TIME, lead->last + GST_MSECOND);
  GstClockTime pts = gst_segment_position_from_running_time (segment,
      GST_FORMAT_TIME, lead->last_pts + GST_MSECOND);
  if (!GST_CLOCK_TIME_IS_VALID (dts) || !GST_CLOCK_TIME_IS_VALID (pts))
    return GST_PAD_PROBE_OK;
  if (!std::exchange (lead->warned, true))
    GST_WARNING_OBJECT (pad, "a picture without a timestamp: stamped a "
        "millisecond after the previous one (PTS %" GST_TIME_FORMAT
        "; further ones not logged)", GST_TIME_ARGS (pts));
  lead->last += GST_MSECOND;
  lead->last_pts += GST_MSECOND;
  GstBuffer *buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (
          info));
  GST_BUFFER_DTS (buffer) = dts;
  GST_BUFFER_PTS (buffer) = pts;
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn
decode_ahead (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto *lead = static_cast<DecodeLead *> (data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime decoding = decoding_position (buffer);
  g_autoptr (GstEvent) event = gst_pad_get_sticky_event (pad,
      GST_EVENT_SEGMENT, 0);
  if (!event)
    return GST_PAD_PROBE_OK;
  const GstSegment *segment;
  gst_event_parse_segment (event, &segment);
  if (!GST_CLOCK_TIME_IS_VALID (decoding))
    return stamp_untimed (pad, info, lead, segment);
  GstClockTime running = gst_segment_to_running_time (segment,
      GST_FORMAT_TIME, decoding);
  if (!GST_CLOCK_TIME_IS_VALID (running))
    return GST_PAD_PROBE_OK;
  GstClockTime pts_running = GST_BUFFER_PTS_IS_VALID (buffer) ?
      gst_segment_to_running_time (segment, GST_FORMAT_TIME,
          GST_BUFFER_PTS (buffer)) : running;
  if (GST_CLOCK_TIME_IS_VALID (pts_running))
    lead->last_pts = pts_running;
  if (lead->lag == 0) {
    lead->last = running;
    return GST_PAD_PROBE_OK;
  }
  GstClockTime target = running > lead->lag ? running - lead->lag : 0;
  if (GST_CLOCK_TIME_IS_VALID (lead->last) && target <= lead->last)
    target = std::min (running, lead->last + GST_MSECOND);
  GstClockTime dts = gst_segment_position_from_running_time (segment,
      GST_FORMAT_TIME, target);
  if (!GST_CLOCK_TIME_IS_VALID (dts))
    return GST_PAD_PROBE_OK;
  lead->last = target;
  buffer = gst_buffer_make_writable (buffer);
  if (!GST_BUFFER_PTS_IS_VALID (buffer))
    GST_BUFFER_PTS (buffer) = decoding;
  GST_BUFFER_DTS (buffer) = dts;
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn
drop_aac_priming (GstPad *, GstPadProbeInfo *info, gpointer)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  if (GST_BUFFER_PTS_IS_VALID (buffer) &&
      GST_BUFFER_PTS (buffer) < AAC_PRIMING_DELAY)
    return GST_PAD_PROBE_DROP;
  buffer = gst_buffer_make_writable (buffer);
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    GST_BUFFER_PTS (buffer) -= AAC_PRIMING_DELAY;
  if (GST_BUFFER_DTS_IS_VALID (buffer))
    GST_BUFFER_DTS (buffer) = GST_BUFFER_DTS (buffer) > AAC_PRIMING_DELAY ?
        GST_BUFFER_DTS (buffer) - AAC_PRIMING_DELAY : 0;
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

/* Running time of a timestamp on a pad: encoders such as x264enc move
 * their timestamps (by 1000 hours) and their segment together. */
GstClockTime
running_time (GstPad *pad, GstClockTime timestamp)
{
  g_autoptr (GstEvent) event = gst_pad_get_sticky_event (pad,
      GST_EVENT_SEGMENT, 0);
  if (!event)
    return timestamp;
  const GstSegment *segment;
  gst_event_parse_segment (event, &segment);
  return gst_segment_to_running_time (segment, GST_FORMAT_TIME, timestamp);
}

}  // namespace

std::string
video_transcode_description (const EncodeSettings &s, bool mid_stream)
{
  int key_int = std::max (1, (int) (s.keyframe_interval * s.fps_n / s.fps_d));
  return printf_string (VIDEO_NORMALIZE, mid_stream ? "true" : "false",
      s.fps_n, s.fps_d, s.width, s.height) +
      " ! " + h264_encode (printf_string (X264_OPTIONS, s.codec_threads,
      s.speed_preset.c_str (), s.video_bitrate, key_int));
}

std::string
audio_description (const EncodeSettings &s)
{
  return printf_string (AUDIO_NORMALIZE, DEFAULT_AAC_RATE, s.audio_channels) +
      " ! " + aac_encode (printf_string ("bitrate=%u", s.audio_bitrate * 1000));
}

GstElement *
add_bin (GstElement *bin, const std::string &description, bool start)
{
  g_autoptr (GError) error = nullptr;
  GstElement *added = gst_parse_bin_from_description_full (
      description.c_str (), TRUE, nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (!added) {
    GST_ELEMENT_ERROR (bin, CORE, MISSING_PLUGIN,
        ("Cannot build \"%s\": %s. Install the GStreamer plugins it needs.",
            description.c_str (), error->message), (nullptr));
    return nullptr;
  }
  GST_DEBUG_OBJECT (bin, "adding %s", description.c_str ());
  gst_bin_add (GST_BIN (bin), added);
  if (start)
    gst_element_sync_state_with_parent (added);
  return added;
}

GstElement *
add_decode_branch (GstElement *bin, GstCaps *caps,
    const std::string &after_decoding, guint codec_threads, GstElement **exit,
    bool own_thread)
{
  GstElement *decoder = make_decoder (caps);
  if (!decoder) {
    g_autofree char *caps_str = gst_caps_to_string (caps);
    GST_ELEMENT_ERROR (bin, STREAM, CODEC_NOT_FOUND,
        ("No decoder for %s: unsupported codec.", caps_str), (nullptr));
    return nullptr;
  }
  limit_decoder_threads (decoder, codec_threads);
  GstElement *after = add_bin (bin, after_decoding);
  GstElement *queue = own_thread ? gst_element_factory_make ("queue",
      nullptr) : nullptr;
  if (!after || (own_thread && !queue)) {
    gst_object_unref (decoder);
    gst_clear_object (&queue);
    return nullptr;
  }
  gst_bin_add (GST_BIN (bin), decoder);
  gst_element_link (decoder, after);
  if (queue) {
    g_object_set (queue, "max-size-buffers", 0, "max-size-bytes", 0,
        "max-size-time", INPUT_QUEUE_TIME, nullptr);
    gst_bin_add (GST_BIN (bin), queue);
    gst_element_link (queue, decoder);
  }
  /* Downstream first, so nothing is pushed into an element not running. */
  gst_element_sync_state_with_parent (decoder);
  if (queue)
    gst_element_sync_state_with_parent (queue);
  *exit = after;
  return queue ? queue : decoder;
}

/* Caps are settled by the caps event, not at link time: opusdec's caps
 * query refuses the informational rate=44100 of Firefox's Opus header,
 * which it decodes fine. */
bool
link_pads (GstElement *bin, GstPad *src, GstPad *sink)
{
  GstPadLinkReturn ret = gst_pad_link_full (src, sink,
      GST_PAD_LINK_CHECK_HIERARCHY);
  if (ret != GST_PAD_LINK_OK) {
    GST_ELEMENT_ERROR (bin, CORE, NEGOTIATION, (nullptr),
        ("cannot link %s:%s to %s:%s: %s", GST_DEBUG_PAD_NAME (src),
            GST_DEBUG_PAD_NAME (sink), gst_pad_link_get_name (ret)));
    return false;
  }
  return true;
}

bool
link_elements (GstElement *bin, GstElement *src, const char *src_pad,
    GstElement *sink, const char *sink_pad)
{
  g_autoptr (GstPad) srcpad = gst_element_get_static_pad (src, src_pad);
  if (!srcpad)
    srcpad = gst_element_request_pad_simple (src, src_pad);
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, sink_pad);
  if (!sinkpad)
    sinkpad = gst_element_request_pad_simple (sink, sink_pad);
  if (!srcpad || !sinkpad) {
    GST_ELEMENT_ERROR (bin, CORE, PAD, (nullptr),
        ("no pad %s on %s or %s on %s", src_pad, GST_ELEMENT_NAME (src),
            sink_pad, GST_ELEMENT_NAME (sink)));
    return false;
  }
  return link_pads (bin, srcpad, sinkpad);
}

bool
link_to_mux (GstElement *bin, GstElement *mux, GstElement *last,
    const char *mux_pad, GstClockTime audio_lag)
{
  if (!link_elements (bin, last, "src", mux, mux_pad))
    return false;
  if (g_str_equal (mux_pad, "video")) {
    g_autoptr (GstPad) src = gst_element_get_static_pad (last, "src");
    g_autoptr (GstPad) pad = gst_pad_get_peer (src);
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, decode_ahead,
        new DecodeLead { audio_lag },
        [] (gpointer data) { delete static_cast<DecodeLead *> (data); });
  }
  return true;
}

void
skip_aac_priming (GstPad *output)
{
  gst_pad_add_probe (output, GST_PAD_PROBE_TYPE_BUFFER, drop_aac_priming,
      nullptr, nullptr);
}

/* ---- The generated track */

void
RealTrack::follow (GstPad *output)
{
  add_probe_with (output, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      on_real_data, shared_from_this ());
}

void
RealTrack::pace (GstPad *output)
{
  add_probe_with (output, GST_PAD_PROBE_TYPE_BUFFER, on_generated_data,
      shared_from_this ());
}

/* Follows the real track, to know where it ends. */
GstPadProbeReturn
RealTrack::on_real_data (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  RealTrack &real = probe_object<RealTrack> (data);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
    if (!GST_BUFFER_PTS_IS_VALID (buffer))
      return GST_PAD_PROBE_OK;
    GstClockTime end = running_time (pad, GST_BUFFER_PTS (buffer) +
        (GST_BUFFER_DURATION_IS_VALID (buffer) ?
        GST_BUFFER_DURATION (buffer) : 0));
    std::lock_guard<std::mutex> lock (real.lock_);
    if (GST_CLOCK_TIME_IS_VALID (end))
      real.end_ = std::max (real.end_, end);
    real.progress_.notify_all ();
    return GST_PAD_PROBE_OK;
  }
  std::lock_guard<std::mutex> lock (real.lock_);
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    GST_DEBUG ("real track ended at %" GST_TIME_FORMAT,
        GST_TIME_ARGS (real.end_));
    real.ended_ = true;
    real.progress_.notify_all ();
  }
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn
RealTrack::on_generated_data (GstPad *pad, GstPadProbeInfo *info,
    gpointer data)
{
  RealTrack &real = probe_object<RealTrack> (data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  if (!GST_BUFFER_PTS_IS_VALID (buffer))
    return GST_PAD_PROBE_OK;
  GstClockTime position = running_time (pad, GST_BUFFER_PTS (buffer));
  {
    std::unique_lock<std::mutex> lock (real.lock_);
    /* Polled for flushing: a state change does not signal. */
    while (!real.ended_ && position > real.end_ && !GST_PAD_IS_FLUSHING (pad))
      real.progress_.wait_for (lock, std::chrono::milliseconds (50));
    if (!real.ended_ || position < real.end_)
      return GST_PAD_PROBE_OK;
  }
  if (!GST_PAD_IS_EOS (pad)) {
    GST_DEBUG_OBJECT (pad, "generated track ends with the real one");
    gst_pad_push_event (pad, gst_event_new_eos ());
  }
  return GST_PAD_PROBE_DROP;
}

void
add_generated_track (GstElement *bin, GstElement *mux,
    const EncodeSettings &s, bool video, std::shared_ptr<RealTrack> real)
{
  std::string description;
  if (!video) {
    description = std::string (SILENCE_SOURCE) + " ! " + audio_description (s);
  } else {
    description = BLACK_SOURCE;
    if (!s.placeholder_image.empty ()) {
      description += printf_string (" ! video/x-raw,width=%d,height=%d ! "
          "videoconvert ! ", s.width, s.height) + printf_string (IMAGE_OVERLAY,
          s.placeholder_image.c_str (), s.width, s.height);
    }
    description += " ! " + video_transcode_description (s);
  }
  /* A source: started only once it is linked. */
  GstElement *track = add_bin (bin, description, false);
  /* Generated tracks are not paced by messages: linked without audio-lag. */
  if (!track || !link_elements (bin, track, "src", mux, video ? "video" :
          "audio"))
    return;
  g_autoptr (GstPad) output = gst_element_get_static_pad (track, "src");
  real->pace (output);
  gst_element_sync_state_with_parent (track);
}

}  // namespace wsrtmp
