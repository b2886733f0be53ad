/* flvencodebin: any browser recording in, FLV with H.264 + AAC out.
 *
 * The element: its properties and states, and the routing of the input's
 * streams (which track goes where, the generated track an input lacks,
 * streams that end without data). Its rooms: h264switch (H.264
 * passthrough with fallback), encodebranches (decoding and encoding
 * branches, the generated tracks, the links to flvmux), muxtags (the
 * onMetaData filter on flvmux's pads), parseinput (what parsebin and its
 * H.264 parsers are told); the output format both FLV elements produce is
 * flvoutput.h's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-flvencodebin
 * @title: flvencodebin
 *
 * Takes what a browser's MediaRecorder produces — WebM/Matroska (VP8, VP9,
 * AV1, H.264 with Opus) or fragmented MP4 (H.264/VP9 with Opus/AAC), as a
 * byte stream — and puts out a streamable FLV with what RTMP platforms
 * accept: H.264 and AAC-LC (what it encodes itself: H.264 Main and
 * AAC-LC at 48 kHz, stereo unless #GstFlvEncodeBin:audio-channels says mono).
 *
 * - H.264 input whose keyframes are at most #GstFlvEncodeBin:keyframe-interval
 *   apart, at the output size, is passed through: parsed and remuxed, never
 *   decoded. The output never has a keyframe gap over keyframe-interval + 10 %:
 *   when an input keyframe is late, it transcodes from that picture on (the
 *   decoder catches up from the last input keyframe, the encoder starts with a
 *   keyframe there, at the frame rate passed through when that is below
 *   #GstFlvEncodeBin:framerate); a size change switches at the keyframe that
 *   brings it. It says so (#GstFlvEncodeBin:output-mode and an element
 *   message named `flvencodebin-output`).
 * - Anything else is decoded, scaled to the fixed output size (aspect kept,
 *   letterboxed, so a mid-stream size change never reaches the encoder), made
 *   constant frame rate, and encoded with x264 (zerolatency).
 * - AAC-LC at 48 or 44.1 kHz with #GstFlvEncodeBin:audio-channels channels
 *   is passed through (parsed and remuxed); other audio (Opus, AAC with other
 *   channels, ...) is decoded and encoded to AAC (FLV cannot carry Opus).
 * - A missing track is generated: silence for video-only input, a black
 *   picture (or #GstFlvEncodeBin:placeholder-image) for audio-only input,
 *   because platforms reject streams without both.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 wsserversrc port=8080 ! flvencodebin ! rtmp2sink location=rtmp://127.0.0.1/live/key
 * gst-launch-1.0 filesrc location=browser.webm ! flvencodebin ! filesink location=out.flv
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstflvencodebin.h"

#include "encodebranches.h"
#include "h264switch.h"
#include "muxtags.h"
#include "parseinput.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

/* Not static: the rooms (encodebranches.cpp, h264switch.cpp) log in it
 * too. */
GST_DEBUG_CATEGORY (gst_flv_encode_bin_debug);
#define GST_CAT_DEFAULT gst_flv_encode_bin_debug

using wsrtmp::EncodeSettings;
using wsrtmp::H264Switch;
using wsrtmp::RealTrack;
/* The properties' defaults (flvoutput.h, encodebranches.h). */
using wsrtmp::DEFAULT_AUDIO_BITRATE;
using wsrtmp::DEFAULT_AUDIO_CHANNELS;
using wsrtmp::DEFAULT_AUDIO_LAG;
using wsrtmp::DEFAULT_CODEC_THREADS;
using wsrtmp::DEFAULT_FPS_D;
using wsrtmp::DEFAULT_FPS_N;
using wsrtmp::DEFAULT_HEIGHT;
using wsrtmp::DEFAULT_KEYFRAME_INTERVAL;
using wsrtmp::DEFAULT_PASSTHROUGH;
using wsrtmp::DEFAULT_SPEED_PRESET;
using wsrtmp::DEFAULT_VIDEO_BITRATE;
using wsrtmp::DEFAULT_WIDTH;
using wsrtmp::MAX_AUDIO_LAG;

namespace {

/* How much of a track may wait for the other: the muxer holds one track
 * back until the other has data up to its time, and an MP4 recorder writes
 * a fragment per keyframe interval (Safari and mobile browsers: up to
 * 10 s), all of one track's samples before the other's. flvmux's own pads
 * hold this much (its "latency"): the demuxer's thread (wsserversrc's)
 * carries passed-through video into flvmux itself, without a queue and a
 * thread in between. Only what such an input interleaves that far apart
 * waits: a browser's WebM interleaves every few frames. */
constexpr guint64 MUX_PAD_TIME = 15 * GST_SECOND;
/* flvmux takes raw AAC with codec_data (aacparse turns ADTS into that). */
constexpr const char *AUDIO_PASSTHROUGH =
    "aacparse ! capsfilter caps=audio/mpeg,mpegversion=4,stream-format=raw";

enum {
  PROP_0,
  PROP_VIDEO_BITRATE,
  PROP_SPEED_PRESET,
  PROP_AUDIO_BITRATE,
  PROP_AUDIO_CHANNELS,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_FRAMERATE,
  PROP_CODEC_THREADS,
  PROP_KEYFRAME_INTERVAL,
  PROP_PASSTHROUGH,
  PROP_PLACEHOLDER_IMAGE,
  PROP_AUDIO_LAG,
  PROP_OUTPUT_MODE,
};

/* One run's routing of the input's streams (READY -> PAUSED to PAUSED ->
 * READY): which tracks the input has, what the video does, which streams
 * ended without data. */
struct State {
  State () = default;
  ~State () { reset (); }
  State (const State &) = delete;
  State &operator= (const State &) = delete;

  bool have_video = false;
  bool have_audio = false;
  bool tracks_checked = false;
  /* The real stream's last element before the muxer, when there is only
   * one: its EOS ends the generated track. */
  GstElement *real_output = nullptr;
  std::string output_mode;
  /* Real streams (see release_empty_stream): how many, how many have had
   * data, and the outputs of those that ended without, waiting. */
  int streams_watched = 0;
  int streams_with_data = 0;
  std::vector<GstPad *> ended_empty;
  /* The H.264 passthrough switch, when the video is passed through. */
  std::shared_ptr<H264Switch> h264;

  /* Drops what the run holds: a new run. */
  void reset ();
};

void
State::reset ()
{
  have_video = have_audio = tracks_checked = false;
  real_output = nullptr;
  output_mode.clear ();
  streams_watched = streams_with_data = 0;
  for (GstPad *output : ended_empty)
    gst_object_unref (output);
  ended_empty.clear ();
  if (h264)
    h264->clear ();
  h264.reset ();
}

}  // namespace

/* The element's inside. Locking: plugin.cpp's order, settings_lock, then
 * state_lock; the settings are copied out (current_settings) before
 * state_lock is taken. The rooms' own locks (H264Switch's, RealTrack's)
 * are leaves. */
struct GstFlvEncodeBinPrivate {
  /* Built once in _init, then constant; owned by the bin. */
  GstElement *parse = nullptr;
  GstElement *mux = nullptr;

  std::mutex settings_lock;
  EncodeSettings settings;      /* guarded by settings_lock */

  std::mutex state_lock;
  State state;                  /* guarded by state_lock */
};

struct _GstFlvEncodeBin {
  GstBin parent;
  GstFlvEncodeBinPrivate *priv;
};

#define gst_flv_encode_bin_parent_class parent_class
G_DEFINE_TYPE (GstFlvEncodeBin, gst_flv_encode_bin, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (flvencodebin, "flvencodebin", GST_RANK_NONE,
    GST_TYPE_FLV_ENCODE_BIN);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-flv"));

static void gst_flv_encode_bin_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec);
static void gst_flv_encode_bin_get_property (GObject *object, guint prop_id,
    GValue *value, GParamSpec *pspec);
static void gst_flv_encode_bin_finalize (GObject *object);
static GstStateChangeReturn gst_flv_encode_bin_change_state (
    GstElement *element, GstStateChange transition);
static void on_pad_added (GstElement *parse, GstPad *pad,
    GstFlvEncodeBin *self);
static void add_missing_tracks (GstFlvEncodeBin *self, bool have_video,
    bool have_audio);
static void on_parser_added (GstBin *parse, GstElement *element,
    gpointer data);
static void on_mux_pad_added (GstElement *mux, GstPad *pad, gpointer data);

static void
gst_flv_encode_bin_class_init (GstFlvEncodeBinClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const auto flags = static_cast<GParamFlags> (G_PARAM_READWRITE |
      G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  gobject_class->set_property = gst_flv_encode_bin_set_property;
  gobject_class->get_property = gst_flv_encode_bin_get_property;
  gobject_class->finalize = gst_flv_encode_bin_finalize;

  g_object_class_install_property (gobject_class, PROP_VIDEO_BITRATE,
      g_param_spec_uint ("video-bitrate", "Video bitrate",
          "H.264 bitrate in kbit/s when the video is encoded", 100, 50000,
          DEFAULT_VIDEO_BITRATE, flags));
  g_object_class_install_property (gobject_class, PROP_SPEED_PRESET,
      g_param_spec_string ("speed-preset", "x264 speed preset",
          "x264 preset when the video is encoded (ultrafast, superfast, "
          "veryfast, faster, fast, medium, ...)", DEFAULT_SPEED_PRESET, flags));
  g_object_class_install_property (gobject_class, PROP_AUDIO_BITRATE,
      g_param_spec_uint ("audio-bitrate", "Audio bitrate",
          "AAC bitrate in kbit/s when the audio is encoded", 32, 320,
          DEFAULT_AUDIO_BITRATE, flags));
  /* Browsers record mono from most microphones; AAC encoding costs about
   * as much per channel (voaacenc: 0.46 % of a core in stereo, 0.23 % in
   * mono), and relays built on ffmpeg keep the input's channels. */
  g_object_class_install_property (gobject_class, PROP_AUDIO_CHANNELS,
      g_param_spec_uint ("audio-channels", "Audio channels",
          "AAC channels: 2 (stereo, what most platforms ask for; mono input "
          "is heard on both) or 1 (mono: half the audio encoder's CPU; "
          "stereo input is mixed down). AAC input with another channel "
          "count is re-encoded", 1, 2, DEFAULT_AUDIO_CHANNELS, flags));
  g_object_class_install_property (gobject_class, PROP_WIDTH,
      g_param_spec_int ("width", "Width",
          "Output width for the whole broadcast; other input sizes are scaled "
          "and letterboxed", 16, 7680, DEFAULT_WIDTH, flags));
  g_object_class_install_property (gobject_class, PROP_HEIGHT,
      g_param_spec_int ("height", "Height",
          "Output height for the whole broadcast", 16, 4320, DEFAULT_HEIGHT,
          flags));
  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Frame rate",
          "Constant output frame rate when the video is encoded (a "
          "transcode that takes over from passthrough mid-stream keeps the "
          "lower rate passed through until then)", 1, 1, 120, 1,
          DEFAULT_FPS_N, DEFAULT_FPS_D, flags));
  g_object_class_install_property (gobject_class, PROP_CODEC_THREADS,
      g_param_spec_uint ("codec-threads", "Codec threads",
          "Threads each decoder and x264 may use when transcoding; 0 lets "
          "them choose (about one per core). A server transcoding many "
          "streams at once spends least CPU with 1: every core is busy "
          "anyway, and sliced or frame threads cost a fifth to a third more "
          "CPU per frame (frame threads also add a frame of delay each)", 0, 64,
          DEFAULT_CODEC_THREADS, flags));
  g_object_class_install_property (gobject_class, PROP_KEYFRAME_INTERVAL,
      g_param_spec_double ("keyframe-interval", "Keyframe interval",
          "Seconds between keyframes when encoding, and the longest interval "
          "(plus 10 % for browser jitter) H.264 input may have to be passed "
          "through: the moment a gap would grow longer, the rest is "
          "transcoded", 0.5, 10.0, DEFAULT_KEYFRAME_INTERVAL, flags));
  g_object_class_install_property (gobject_class, PROP_PASSTHROUGH,
      g_param_spec_boolean ("passthrough", "Passthrough",
          "Pass suitable input through without re-encoding: H.264 at the "
          "output size while its keyframes are at most keyframe-interval "
          "(+10 %) apart, and "
          "AAC-LC at 48 or 44.1 kHz with audio-channels channels (FALSE "
          "always transcodes)",
          DEFAULT_PASSTHROUGH, flags));
  g_object_class_install_property (gobject_class, PROP_PLACEHOLDER_IMAGE,
      g_param_spec_string ("placeholder-image", "Placeholder image",
          "Picture (PNG/JPEG file) shown when the input has no video; empty "
          "= black", "", flags));
  g_object_class_install_property (gobject_class, PROP_AUDIO_LAG,
      g_param_spec_uint64 ("audio-lag", "Audio lag",
          "How far (ns) behind a picture its audio may be muxed. flvmux "
          "writes every tag in timestamp order, so a picture waits until the "
          "audio up to its time is encoded, and the AAC encoder's look-ahead "
          "is the start of the browser's next message: the last picture of "
          "every message would wait for the next message. Every picture is "
          "decoded this much before it is presented (the FLV composition "
          "time offset, as with B-frames; presentation times and A/V sync "
          "stay), so it goes out once the audio up to that much before it "
          "is there. The audio after the last picture's decoding time waits "
          "instead: measured with Chromium's messages, the last 15 ms of "
          "each message's audio go with the next message with 0, the last "
          "40 ms with 70 ms (which lets every picture of Chromium's and "
          "Firefox's 250 ms messages go with its message). 0 = pictures "
          "wait for their audio", 0,
          MAX_AUDIO_LAG, DEFAULT_AUDIO_LAG,
          flags));
  g_object_class_install_property (gobject_class, PROP_OUTPUT_MODE,
      g_param_spec_string ("output-mode", "Output mode",
          "How the video is produced right now: \"passthrough\", "
          "\"transcode\", or \"\" before it is known", "",
          static_cast<GParamFlags> (G_PARAM_READABLE |
              G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "FLV encode bin for browser recordings", "Codec/Muxer/Bin",
      "Turns a browser's WebM/Matroska/MP4 recording into FLV with H.264 and "
      "AAC, passing H.264 through when it can", "wsrtmp developers");

  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_flv_encode_bin_change_state);

  GST_DEBUG_CATEGORY_INIT (gst_flv_encode_bin_debug, "flvencodebin", 0,
      "FLV encode bin");
}

static void
gst_flv_encode_bin_init (GstFlvEncodeBin *self)
{
  GstFlvEncodeBinPrivate *priv = new GstFlvEncodeBinPrivate ();
  self->priv = priv;

  priv->parse = gst_element_factory_make ("parsebin", "parse");
  priv->mux = gst_element_factory_make ("flvmux", "mux");
  if (!priv->parse || !priv->mux) {
    /* Reported when the element is used (see change_state). */
    g_clear_object (&priv->parse);
    g_clear_object (&priv->mux);
    return;
  }
  g_object_set (priv->mux, "streamable", TRUE, "latency", MUX_PAD_TIME,
      nullptr);
  gst_bin_add_many (GST_BIN (self), priv->parse, priv->mux, nullptr);

  g_autoptr (GstPad) parse_sink = gst_element_get_static_pad (priv->parse,
      "sink");
  g_autoptr (GstPad) mux_src = gst_element_get_static_pad (priv->mux, "src");
  /* The class's templates (transfer none): a template made here with
   * gst_static_pad_template_get would be one more object per instance,
   * never freed. */
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  gst_element_add_pad (GST_ELEMENT (self), gst_ghost_pad_new_from_template (
          "sink", parse_sink, gst_element_class_get_pad_template (klass,
              "sink")));
  gst_element_add_pad (GST_ELEMENT (self), gst_ghost_pad_new_from_template (
          "src", mux_src, gst_element_class_get_pad_template (klass, "src")));

  wsrtmp::prepare_parse_input (parse_sink);
  g_signal_connect (priv->parse, "pad-added", G_CALLBACK (on_pad_added), self);
  g_signal_connect (priv->parse, "element-added", G_CALLBACK (on_parser_added),
      self);
  /* Every muxer pad, wherever it is requested (a track, a generated one). */
  g_signal_connect (priv->mux, "pad-added", G_CALLBACK (on_mux_pad_added),
      nullptr);
}

/* What the input's parsers put out (parseinput.h). */
static void
on_parser_added (GstBin *, GstElement *element, gpointer data)
{
  wsrtmp::prepare_parser (element, GST_ELEMENT (data));
}

/* onMetaData once (muxtags.h). */
static void
on_mux_pad_added (GstElement *, GstPad *pad, gpointer)
{
  if (GST_PAD_IS_SINK (pad))
    wsrtmp::filter_mux_pad_tags (pad);
}

/* ---- routing the input's streams ---- */

static EncodeSettings
current_settings (GstFlvEncodeBin *self)
{
  std::lock_guard<std::mutex> lock (self->priv->settings_lock);
  return self->priv->settings;
}

static void
set_output_mode (GstFlvEncodeBin *self, const char *mode,
    const std::string &reason)
{
  {
    std::lock_guard<std::mutex> lock (self->priv->state_lock);
    if (self->priv->state.output_mode == mode)
      return;
    self->priv->state.output_mode = mode;
  }
  GST_INFO_OBJECT (self, "video output: %s (%s)", mode, reason.c_str ());
  g_object_notify (G_OBJECT (self), "output-mode");
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new (GST_FLV_ENCODE_BIN_MODE_MESSAGE_NAME,
              "mode", G_TYPE_STRING, mode,
              "reason", G_TYPE_STRING, reason.c_str (), nullptr)));
}

/* Unlinks a stream that ended without data and releases its muxer pad. */
static void
release_mux_pad (GstFlvEncodeBin *self, GstPad *output)
{
  g_autoptr (GstPad) mux_pad = gst_pad_get_peer (output);
  if (!mux_pad)
    return;
  GST_INFO_OBJECT (self, "%s:%s ended without data: releasing its muxer pad",
      GST_DEBUG_PAD_NAME (output));
  gst_pad_unlink (output, mux_pad);
  gst_element_release_request_pad (self->priv->mux, mux_pad);
}

/* flvmux never finishes when one of its pads ends without any data (an
 * MP4 cut after its header, a track that never gets a frame): such a pad
 * is released, so the muxer goes on with the other track, but only once
 * another stream has data. flvmux must not lose its pads while none has
 * data: its aggregating thread then wakes up and reads the pad flvmux is
 * still forgetting (it crashed about once in 10,000 MP4 headers without
 * media). When every stream ends empty, no pad is released: there is
 * nothing to mux, and the input is an error. */
static GstPadProbeReturn
release_empty_stream (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto *self = GST_FLV_ENCODE_BIN (data);
  GstFlvEncodeBinPrivate *priv = self->priv;
  std::vector<GstPad *> ended_empty;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    {
      std::lock_guard<std::mutex> lock (priv->state_lock);
      priv->state.streams_with_data++;
      ended_empty.swap (priv->state.ended_empty);
    }
    for (GstPad *output : ended_empty) {
      release_mux_pad (self, output);
      gst_object_unref (output);
    }
    return GST_PAD_PROBE_REMOVE;
  }
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_EOS)
    return GST_PAD_PROBE_OK;

  bool release_now, all_empty = false;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    release_now = priv->state.streams_with_data > 0;
    if (!release_now) {
      priv->state.ended_empty.push_back (GST_PAD (gst_object_ref (pad)));
      all_empty = (int) priv->state.ended_empty.size () ==
          priv->state.streams_watched;
    }
  }
  if (release_now)
    release_mux_pad (self, pad);
  if (all_empty)
    GST_ELEMENT_ERROR (self, STREAM, DEMUX,
        ("The input ended without any audio or video data."), (nullptr));
  return GST_PAD_PROBE_DROP;
}

static void
watch_for_empty_stream (GstFlvEncodeBin *self, GstElement *last)
{
  {
    std::lock_guard<std::mutex> lock (self->priv->state_lock);
    self->priv->state.streams_watched++;
  }
  g_autoptr (GstPad) output = gst_element_get_static_pad (last, "src");
  gst_pad_add_probe (output, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      release_empty_stream, self, nullptr);
}

static void
link_video (GstFlvEncodeBin *self, GstPad *pad, GstCaps *caps)
{
  GstFlvEncodeBinPrivate *priv = self->priv;
  GstElement *bin = GST_ELEMENT (self);
  EncodeSettings settings = current_settings (self);
  std::string why_not;
  GstElement *entry = nullptr, *last = nullptr;
  std::shared_ptr<H264Switch> h264;
  const char *mode;

  if (H264Switch::possible (settings, caps, why_not)) {
    h264 = H264Switch::build (bin, settings,
        [self] (const char *mode, const std::string &reason) {
          set_output_mode (self, mode, reason);
        }, &entry, &last);
    mode = "passthrough";
    why_not = "H.264 input";
  } else {
    entry = wsrtmp::add_decode_branch (bin, caps,
        wsrtmp::video_transcode_description (settings),
        settings.codec_threads, &last, true);
    mode = "transcode";
  }
  if (!entry || !last)
    return;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    priv->state.real_output = last;
    priv->state.h264 = h264;
  }
  /* Output side first: data may flow as soon as the input is linked. */
  g_autoptr (GstPad) sink = gst_element_get_static_pad (entry, "sink");
  watch_for_empty_stream (self, last);
  if (wsrtmp::link_to_mux (bin, priv->mux, last, "video", settings.audio_lag)
      && wsrtmp::link_pads (bin, pad, sink))
    set_output_mode (self, mode, why_not);
}

/* AAC-LC at 48 or 44.1 kHz (Safari; Chromium's MP4 with mp4a), with the
 * channels asked for, is already what the output needs: decoding and
 * encoding it again would only cost CPU, delay and quality. */
static bool
aac_passthrough_possible (const EncodeSettings &settings, GstCaps *caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  int version = 0, rate = 0, channels = 0;
  gst_structure_get_int (s, "mpegversion", &version);
  gst_structure_get_int (s, "rate", &rate);
  gst_structure_get_int (s, "channels", &channels);
  const char *profile = gst_structure_get_string (s, "profile");
  return settings.passthrough && gst_structure_has_name (s, "audio/mpeg") &&
      version == 4 && (rate == 48000 || rate == 44100) &&
      channels == (int) settings.audio_channels &&
      (!profile || g_str_equal (profile, "lc"));
}

static void
link_audio (GstFlvEncodeBin *self, GstPad *pad, GstCaps *caps)
{
  GstElement *bin = GST_ELEMENT (self);
  EncodeSettings settings = current_settings (self);
  GstElement *encoded = nullptr, *entry;
  bool passthrough = aac_passthrough_possible (settings, caps);
  if (passthrough) {
    entry = encoded = wsrtmp::add_bin (bin, AUDIO_PASSTHROUGH);
  } else {
    entry = wsrtmp::add_decode_branch (bin, caps,
        wsrtmp::audio_description (settings), settings.codec_threads,
        &encoded, false);
  }
  if (!entry)
    return;
  GST_INFO_OBJECT (self, "audio output: %s", passthrough ? "passthrough" :
      "transcode");
  {
    std::lock_guard<std::mutex> lock (self->priv->state_lock);
    self->priv->state.real_output = encoded;
  }
  /* Our own encoder's priming: passed-through audio keeps the source's
   * timing. */
  g_autoptr (GstPad) output = gst_element_get_static_pad (encoded, "src");
  if (!passthrough)
    wsrtmp::skip_aac_priming (output);
  watch_for_empty_stream (self, encoded);
  g_autoptr (GstPad) sink = gst_element_get_static_pad (entry, "sink");
  if (wsrtmp::link_to_mux (bin, self->priv->mux, encoded, "audio",
          settings.audio_lag))
    wsrtmp::link_pads (bin, pad, sink);
}

static void
discard (GstFlvEncodeBin *self, GstPad *pad)
{
  GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
  g_object_set (sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add (GST_BIN (self), sink);
  gst_element_sync_state_with_parent (sink);
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_link (pad, sinkpad);
}

/* parsebin exposes all of a recording's streams before the first buffer
 * flows, so the first buffer tells which track is missing, early enough for
 * flvmux (it needs every pad before it writes its header). */
static GstPadProbeReturn
check_missing_tracks (GstPad *, GstPadProbeInfo *, gpointer data)
{
  auto *self = GST_FLV_ENCODE_BIN (data);
  bool have_video, have_audio;
  {
    State &state = self->priv->state;
    std::lock_guard<std::mutex> lock (self->priv->state_lock);
    if (state.tracks_checked)
      return GST_PAD_PROBE_REMOVE;
    state.tracks_checked = true;
    have_video = state.have_video;
    have_audio = state.have_audio;
  }
  add_missing_tracks (self, have_video, have_audio);
  return GST_PAD_PROBE_REMOVE;
}

static void
on_pad_added (GstElement *parse, GstPad *pad, GstFlvEncodeBin *self)
{
  GstFlvEncodeBinPrivate *priv = self->priv;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const char *media = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  GST_INFO_OBJECT (self, "input stream %s: %" GST_PTR_FORMAT,
      GST_PAD_NAME (pad), caps);

  bool is_video = g_str_has_prefix (media, "video/");
  bool is_audio = g_str_has_prefix (media, "audio/");
  bool first = false;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    if (is_video && !priv->state.have_video)
      first = priv->state.have_video = true;
    else if (is_audio && !priv->state.have_audio)
      first = priv->state.have_audio = true;
  }
  if (!first) {
    GST_INFO_OBJECT (self, "ignoring extra stream %s", GST_PAD_NAME (pad));
    discard (self, pad);
  } else if (is_video) {
    link_video (self, pad, caps);
  } else if (is_audio) {
    link_audio (self, pad, caps);
  } else {
    discard (self, pad);
  }

  if (first)
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, check_missing_tracks,
        self, nullptr);
}

/* Generates the track the input lacks. Runs once, at the first buffer of
 * any input stream, when parsebin has exposed all of them (see
 * check_missing_tracks): flvmux needs all its pads before it writes its
 * header. */
static void
add_missing_tracks (GstFlvEncodeBin *self, bool have_video, bool have_audio)
{
  GstFlvEncodeBinPrivate *priv = self->priv;
  EncodeSettings s = current_settings (self);
  if (!have_video && !have_audio) {
    GST_ELEMENT_ERROR (self, STREAM, DEMUX,
        ("The input has neither audio nor video."), (nullptr));
    return;
  }
  if (have_video && have_audio)
    return;

  /* Only one real stream: where it ends, the generated one ends. */
  GstPad *real_pad;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    real_pad = priv->state.real_output ?
        gst_element_get_static_pad (priv->state.real_output, "src") : nullptr;
  }
  auto real = std::make_shared<RealTrack> ();
  if (real_pad) {
    real->follow (real_pad);
    gst_object_unref (real_pad);
  }
  if (!have_audio) {
    GST_INFO_OBJECT (self, "no audio in the input: adding silence");
    wsrtmp::add_generated_track (GST_ELEMENT (self), priv->mux, s, false,
        real);
  } else {
    GST_INFO_OBJECT (self, "no video in the input: adding %s",
        s.placeholder_image.empty () ? "black video" : "a placeholder image");
    wsrtmp::add_generated_track (GST_ELEMENT (self), priv->mux, s, true,
        real);
    set_output_mode (self, "transcode", "input has no video");
  }
}

/* ---- element ---- */

static void
reset_stream_state (GstFlvEncodeBin *self)
{
  std::lock_guard<std::mutex> lock (self->priv->state_lock);
  self->priv->state.reset ();
}

/* Everything the input's streams made us add goes once they have stopped
 * (all children are in READY): the next run starts from parsebin and
 * flvmux alone, as a new element would. */
static void
remove_stream_branches (GstFlvEncodeBin *self)
{
  GstFlvEncodeBinPrivate *priv = self->priv;
  std::vector<GstElement *> added;
  GST_OBJECT_LOCK (self);
  for (GList *l = GST_BIN_CHILDREN (self); l; l = l->next) {
    if (l->data != priv->parse && l->data != priv->mux)
      added.push_back (GST_ELEMENT (gst_object_ref (l->data)));
  }
  GST_OBJECT_UNLOCK (self);
  for (GstElement *element : added) {
    gst_element_set_state (element, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (self), element);
    gst_object_unref (element);
  }

  std::vector<GstPad *> mux_pads;
  GST_OBJECT_LOCK (priv->mux);
  for (GList *l = GST_ELEMENT (priv->mux)->sinkpads; l; l = l->next)
    mux_pads.push_back (GST_PAD (gst_object_ref (l->data)));
  GST_OBJECT_UNLOCK (priv->mux);
  for (GstPad *pad : mux_pads) {
    gst_element_release_request_pad (priv->mux, pad);
    gst_object_unref (pad);
  }
  GST_DEBUG_OBJECT (self, "removed %zu elements and %zu muxer pads",
      added.size (), mux_pads.size ());
  reset_stream_state (self);
}

static GstStateChangeReturn
gst_flv_encode_bin_change_state (GstElement *element, GstStateChange transition)
{
  auto *self = GST_FLV_ENCODE_BIN (element);

  if (transition == GST_STATE_CHANGE_NULL_TO_READY &&
      (!self->priv->parse || !self->priv->mux)) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
        ("parsebin or flvmux is missing: install gstreamer1.0-plugins-base "
            "and gstreamer1.0-plugins-good."), (nullptr));
    return GST_STATE_CHANGE_FAILURE;
  }
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    reset_stream_state (self);

  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    remove_stream_branches (self);
  return ret;
}

static void
gst_flv_encode_bin_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  auto *self = GST_FLV_ENCODE_BIN (object);
  std::lock_guard<std::mutex> lock (self->priv->settings_lock);
  EncodeSettings &s = self->priv->settings;

  switch (prop_id) {
    case PROP_VIDEO_BITRATE:
      s.video_bitrate = g_value_get_uint (value);
      break;
    case PROP_SPEED_PRESET: {
      const char *preset = g_value_get_string (value);
      s.speed_preset = preset && *preset ? preset : DEFAULT_SPEED_PRESET;
      break;
    }
    case PROP_AUDIO_BITRATE:
      s.audio_bitrate = g_value_get_uint (value);
      break;
    case PROP_AUDIO_CHANNELS:
      s.audio_channels = g_value_get_uint (value);
      break;
    case PROP_WIDTH:
      s.width = g_value_get_int (value);
      break;
    case PROP_HEIGHT:
      s.height = g_value_get_int (value);
      break;
    case PROP_FRAMERATE:
      s.fps_n = gst_value_get_fraction_numerator (value);
      s.fps_d = gst_value_get_fraction_denominator (value);
      break;
    case PROP_CODEC_THREADS:
      s.codec_threads = g_value_get_uint (value);
      break;
    case PROP_KEYFRAME_INTERVAL:
      s.keyframe_interval = g_value_get_double (value);
      break;
    case PROP_PASSTHROUGH:
      s.passthrough = g_value_get_boolean (value);
      break;
    case PROP_PLACEHOLDER_IMAGE: {
      const char *image = g_value_get_string (value);
      s.placeholder_image = image ? image : "";
      break;
    }
    case PROP_AUDIO_LAG:
      s.audio_lag = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_flv_encode_bin_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  auto *self = GST_FLV_ENCODE_BIN (object);
  GstFlvEncodeBinPrivate *priv = self->priv;

  if (prop_id == PROP_OUTPUT_MODE) {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    g_value_set_string (value, priv->state.output_mode.c_str ());
    return;
  }

  std::lock_guard<std::mutex> lock (priv->settings_lock);
  const EncodeSettings &s = priv->settings;
  switch (prop_id) {
    case PROP_VIDEO_BITRATE:
      g_value_set_uint (value, s.video_bitrate);
      break;
    case PROP_SPEED_PRESET:
      g_value_set_string (value, s.speed_preset.c_str ());
      break;
    case PROP_AUDIO_BITRATE:
      g_value_set_uint (value, s.audio_bitrate);
      break;
    case PROP_AUDIO_CHANNELS:
      g_value_set_uint (value, s.audio_channels);
      break;
    case PROP_WIDTH:
      g_value_set_int (value, s.width);
      break;
    case PROP_HEIGHT:
      g_value_set_int (value, s.height);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, s.fps_n, s.fps_d);
      break;
    case PROP_CODEC_THREADS:
      g_value_set_uint (value, s.codec_threads);
      break;
    case PROP_KEYFRAME_INTERVAL:
      g_value_set_double (value, s.keyframe_interval);
      break;
    case PROP_PASSTHROUGH:
      g_value_set_boolean (value, s.passthrough);
      break;
    case PROP_PLACEHOLDER_IMAGE:
      g_value_set_string (value, s.placeholder_image.c_str ());
      break;
    case PROP_AUDIO_LAG:
      g_value_set_uint64 (value, s.audio_lag);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_flv_encode_bin_finalize (GObject *object)
{
  auto *self = GST_FLV_ENCODE_BIN (object);
  reset_stream_state (self);
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}
