/* flvencodebin: any browser recording in, FLV with H.264 + AAC out.
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

#include "flvoutput.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (gst_flv_encode_bin_debug);
#define GST_CAT_DEFAULT gst_flv_encode_bin_debug

/* The output format's defaults and encoders: flvoutput.h. */
using namespace wsrtmp;

namespace {

constexpr guint DEFAULT_AUDIO_CHANNELS = DEFAULT_AAC_CHANNELS;
constexpr gboolean DEFAULT_PASSTHROUGH = TRUE;
constexpr guint DEFAULT_CODEC_THREADS = 0;
/* How far behind a picture its audio may still come (see the property).
 * A Chromium message's muxed audio ends 45-70 ms before its last picture
 * (AAC's look-ahead and whole frames): 70 ms lets every picture of the
 * recordings in tests/data go with its message; each 10 ms more holds
 * about 10 ms more of each message's audio back until the next message. */
constexpr guint64 DEFAULT_AUDIO_LAG = 70 * GST_MSECOND;
constexpr guint64 MAX_AUDIO_LAG = 500 * GST_MSECOND;
/* Browsers asked for 2 s keyframes deliver them 2.05 s apart or so. */
constexpr double KEYFRAME_TOLERANCE = 1.1;

/* How much of a track may wait for the other: the muxer holds one track
 * back until the other has data up to its time, and an MP4 recorder writes
 * a fragment per keyframe interval (Safari and mobile browsers: up to
 * 10 s), all of one track's samples before the other's. flvmux's own pads
 * hold this much (its "latency"): the demuxer's thread (wsserversrc's)
 * carries passed-through video into flvmux itself, without a queue and a
 * thread in between. Only what such an input interleaves that far apart
 * waits: a browser's WebM interleaves every few frames. */
constexpr guint64 MUX_PAD_TIME = 15 * GST_SECOND;
/* A video transcode gets a queue and a thread: x264 and the decoder work
 * beside the demuxing. The audio is decoded and encoded in the demuxer's
 * thread: Opus -> AAC is light, and a thread of its own cost as much CPU in
 * hand-offs as it saved (bench/: 1.13-1.16 % of a core per stream with
 * it, 1.12-1.13 % without, at N=32) and one thread per stream. Audio the
 * demuxer puts out seconds ahead (an MP4 fragment's audio written before
 * its video) waits in flvmux's pads (MUX_PAD_TIME). */
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
constexpr const char *VIDEO_PASSTHROUGH =
    "h264parse ! capsfilter caps=video/x-h264,stream-format=avc,alignment=au";

constexpr const char *AUDIO_NORMALIZE =
    "audioconvert ! audioresample ! audio/x-raw,rate=%d,channels=%u";
/* AAC decoders play an encoder's priming samples as if they were audio,
 * and FLV cannot tell them how many to skip: the audio would come out that
 * much late. So the priming frames are dropped and the audio moved earlier
 * by as much (voaacenc primes with 2048 samples at 48 kHz). Delaying the
 * video instead would make flvmux hold every frame longer. */
constexpr GstClockTime AAC_PRIMING_DELAY = 2048 * GST_SECOND /
    DEFAULT_AAC_RATE;

/* flvmux takes raw AAC with codec_data (aacparse turns ADTS into that). */
constexpr const char *AUDIO_PASSTHROUGH =
    "aacparse ! capsfilter caps=audio/mpeg,mpegversion=4,stream-format=raw";

constexpr const char *SILENCE_SOURCE = "audiotestsrc wave=silence";
constexpr const char *BLACK_SOURCE = "videotestsrc pattern=black";
/* The image is drawn over black video. */
constexpr const char *IMAGE_OVERLAY =
    "gdkpixbufoverlay location=\"%s\" overlay-width=%d overlay-height=%d";

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

struct Settings {
  guint video_bitrate = DEFAULT_VIDEO_BITRATE;
  std::string speed_preset = DEFAULT_SPEED_PRESET;
  guint audio_bitrate = DEFAULT_AUDIO_BITRATE;
  guint audio_channels = DEFAULT_AUDIO_CHANNELS;
  int width = DEFAULT_WIDTH;
  int height = DEFAULT_HEIGHT;
  int fps_n = DEFAULT_FPS_N;
  int fps_d = DEFAULT_FPS_D;
  guint codec_threads = DEFAULT_CODEC_THREADS;
  double keyframe_interval = DEFAULT_KEYFRAME_INTERVAL;
  bool passthrough = DEFAULT_PASSTHROUGH;
  std::string placeholder_image;
  guint64 audio_lag = DEFAULT_AUDIO_LAG;
};

}  // namespace

/* Lock order: settings_lock, then state_lock. */
struct GstFlvEncodeBinPrivate {
  std::mutex settings_lock;
  Settings settings;

  /* Built once in _init, owned by the bin. */
  GstElement *parse = nullptr;
  GstElement *mux = nullptr;

  /* Stream state, guarded by state_lock; reset on READY -> PAUSED and
   * PAUSED -> READY. */
  std::mutex state_lock;
  bool have_video = false;
  bool have_audio = false;
  bool tracks_checked = false;
  /* The real stream's last element before the muxer, when there is only
   * one: its EOS ends the generated track. */
  GstElement *real_output = nullptr;
  std::string output_mode;
  /* Where the real track has come to, and whether it ended: a generated
   * track keeps pace with it (flvmux's pads would take seconds of it
   * ahead) and stops there. Signalled on progress. */
  GstClockTime real_end = 0;
  bool real_ended = false;
  std::condition_variable real_progress;
  /* Real streams (see release_empty_stream): how many, how many have had
   * data, and the outputs of those that ended without, waiting. */
  int streams_watched = 0;
  int streams_with_data = 0;
  std::vector<GstPad *> ended_empty;

  /* H.264 passthrough watch (state_lock). */
  GstClockTime last_keyframe = GST_CLOCK_TIME_NONE;
  GstClockTime last_pts = GST_CLOCK_TIME_NONE;
  /* The input since its last keyframe: a decoder started at the switch
   * needs it to catch up. Only kept while passing through. */
  GstBufferList *gop = nullptr;
  bool switch_pending = false;
  bool transcoding = false;
  /* The latest picture passed through (PTS), and where in decoding order
   * the fallback takes over (DTS, or PTS without one). */
  GstClockTime passed_until = GST_CLOCK_TIME_NONE;
  GstClockTime switch_position = GST_CLOCK_TIME_NONE;
  /* The passthrough branch's ends, where the fallback is attached. */
  GstElement *h264_tee = nullptr;
  GstElement *h264_funnel = nullptr;
  /* The fallback's output, held back until the passthrough branch has put
   * out its last picture: the funnel must not interleave them. */
  GstPad *fallback_output = nullptr;
  gulong fallback_block = 0;
  bool passthrough_ended = false;
  std::string switch_reason;
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
static bool add_transcode_fallback (GstFlvEncodeBin *self, GstCaps *caps,
    GstBufferList *gop);
static GstPadProbeReturn report_input_not_live (GstPad *pad,
    GstPadProbeInfo *info, gpointer data);
static GstPadProbeReturn offer_push_mode_only (GstPad *pad,
    GstPadProbeInfo *info, gpointer data);
static void on_parser_added (GstBin *parse, GstElement *element, gpointer data);
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

  gst_pad_add_probe (parse_sink, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_QUERY_UPSTREAM | GST_PAD_PROBE_TYPE_PULL),
      report_input_not_live, nullptr, nullptr);
  gst_pad_add_probe (parse_sink, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_QUERY_UPSTREAM | GST_PAD_PROBE_TYPE_PUSH),
      offer_push_mode_only, nullptr, nullptr);
  g_signal_connect (priv->parse, "pad-added", G_CALLBACK (on_pad_added), self);
  g_signal_connect (priv->parse, "element-added", G_CALLBACK (on_parser_added),
      nullptr);
  /* Every muxer pad, wherever it is requested (a track, a generated one). */
  g_signal_connect (priv->mux, "pad-added", G_CALLBACK (on_mux_pad_added),
      nullptr);
}

/* Matroska (Chromium's H.264 recordings) carries H.264 as a byte stream,
 * one picture per block, but says nothing of the alignment: h264parse then
 * holds every picture until the next one's start code shows it complete,
 * and a message's last picture waits for the next message. Saying so lets
 * it go at once. */
static GstPadProbeReturn
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
static GstPadProbeReturn
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

static void
on_parser_added (GstBin *, GstElement *element, gpointer)
{
  GstElementFactory *factory = gst_element_get_factory (element);
  if (!factory || !g_str_equal (GST_OBJECT_NAME (factory), "h264parse"))
    return;
  g_autoptr (GstPad) sink = gst_element_get_static_pad (element, "sink");
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      declare_whole_pictures, nullptr, nullptr);
  g_autoptr (GstPad) src = gst_element_get_static_pad (element, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM, offer_avc_only,
      nullptr, nullptr);
}

/* ---- onMetaData ----
 *
 * Streamable flvmux writes a new onMetaData whenever a tag event has
 * reached any of its pads, and parsers send bitrate tags over and over
 * (aacparse and h264parse, as their estimate moves): a 30 s recording got
 * 16 (passthrough) to 58 (transcode) of them, which players take for a
 * data track (ffprobe: a subtitle stream). Of the tags, flvmux writes only
 * the title, the artist ("creator") and each pad's bitrate
 * (videodatarate, audiodatarate). So a muxer pad gets those tags only
 * until its first buffer (the header's onMetaData has them), again from a
 * caps change that starts a new stream until the next buffer, and
 * otherwise only when the title or artist changes. The new stream is the
 * switch from passthrough to transcode: flvmux (1.22) then only re-sends
 * the codec header, and the encoder's tags, which funnel forwards with
 * its caps, make it write an onMetaData with the new frame rate and
 * bitrate.
 *
 * A pad's state needs no lock: buffers and serialized events reach a sink
 * pad, and its probes, under the pad's stream lock only. */
struct MuxPadTags {
  /* A buffer went in since the stream started or changed. */
  bool flowing = false;
  /* What flvmux tells a new stream by (it re-sends the codec header), for
   * the H.264 and AAC it gets here: the codec and its codec_data. */
  std::string media;
  GstBuffer *codec_data = nullptr;
  /* As last forwarded. */
  std::string title, artist;

  ~MuxPadTags () { gst_clear_buffer (&codec_data); }

  /* Takes the caps; true when they start a new stream. */
  bool stream_changes (GstCaps *caps)
  {
    const GstStructure *s = gst_caps_get_structure (caps, 0);
    const GValue *value = gst_structure_get_value (s, "codec_data");
    GstBuffer *data = value && GST_VALUE_HOLDS_BUFFER (value) ?
        gst_value_get_buffer (value) : nullptr;
    bool changed = media != gst_structure_get_name (s);
    if (data && (!codec_data || gst_buffer_get_size (data) !=
            gst_buffer_get_size (codec_data) || !same_bytes (data)))
      changed = true;
    media = gst_structure_get_name (s);
    if (data)
      gst_buffer_replace (&codec_data, data);
    return changed;
  }

  bool same_bytes (GstBuffer *data) const
  {
    GstMapInfo map;
    if (!gst_buffer_map (data, &map, GST_MAP_READ))
      return false;
    bool same = gst_buffer_memcmp (codec_data, 0, map.data, map.size) == 0;
    gst_buffer_unmap (data, &map);
    return same;
  }

  /* True when tags bring a title or artist other than the last ones. */
  bool names_change (const GstTagList *tags)
  {
    bool changed = false;
    for (auto [tag, last] : { std::pair<const char *, std::string *> {
             GST_TAG_TITLE, &title }, { GST_TAG_ARTIST, &artist } }) {
      g_autofree char *value = nullptr;
      if (gst_tag_list_get_string (tags, tag, &value) && *last != value) {
        *last = value;
        changed = true;
      }
    }
    return changed;
  }
};

/* The part of tags that flvmux writes, in their scope. */
static GstTagList *
muxed_tags (const GstTagList *tags)
{
  GstTagList *kept = gst_tag_list_new_empty ();
  gst_tag_list_set_scope (kept, gst_tag_list_get_scope (tags));
  for (const char *tag : { GST_TAG_TITLE, GST_TAG_ARTIST,
           GST_TAG_NOMINAL_BITRATE, GST_TAG_BITRATE }) {
    for (guint i = 0; i < gst_tag_list_get_tag_size (tags, tag); i++)
      gst_tag_list_add_value (kept, GST_TAG_MERGE_APPEND, tag,
          gst_tag_list_get_value_index (tags, tag, i));
  }
  return kept;
}

static GstPadProbeReturn
filter_mux_tags (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *state = static_cast<MuxPadTags *> (data);
  if (!(GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM)) {
    state->flowing = true;
    return GST_PAD_PROBE_OK;
  }
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    gst_event_parse_caps (event, &caps);
    if (state->stream_changes (caps))
      state->flowing = false;
    return GST_PAD_PROBE_OK;
  }
  if (GST_EVENT_TYPE (event) != GST_EVENT_TAG)
    return GST_PAD_PROBE_OK;

  GstTagList *tags;
  gst_event_parse_tag (event, &tags);
  GstTagList *kept = muxed_tags (tags);
  bool names_changed = state->names_change (kept);
  if (gst_tag_list_is_empty (kept) || (state->flowing && !names_changed)) {
    gst_tag_list_unref (kept);
    return GST_PAD_PROBE_DROP;
  }
  gst_event_unref (event);
  GST_PAD_PROBE_INFO_DATA (info) = gst_event_new_tag (kept);
  return GST_PAD_PROBE_OK;
}

static void
on_mux_pad_added (GstElement *, GstPad *pad, gpointer)
{
  if (!GST_PAD_IS_SINK (pad))
    return;
  gst_pad_add_probe (pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
          GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      filter_mux_tags, new MuxPadTags (),
      [] (gpointer state) { delete static_cast<MuxPadTags *> (state); });
}

/* A browser sends its recording in bursts (one MediaRecorder chunk every
 * ~250 ms). Behind a live source, flvmux (an aggregator) would mux on a
 * clock deadline and interleave late bursts wrongly or drop them. Reporting
 * the input as not live makes it wait until every stream has data: nothing
 * is dropped, and output is paced by the input alone. */
static GstPadProbeReturn
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

/* The input is a byte stream, pushed as a browser sends it, and a file is
 * read the same way. In pull mode qtdemux would read a whole MP4 header in
 * its own thread while parsebin brings it to PAUSED, and parsebin drops
 * the errors a child posts then: a header without media ("no playable
 * streams") would end in silence whenever qtdemux was that quick. Pushed,
 * qtdemux announces the streams and the bin decides (release_empty_stream). */
static GstPadProbeReturn
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

/* ---- helpers ---- */

static Settings
current_settings (GstFlvEncodeBin *self)
{
  std::lock_guard<std::mutex> lock (self->priv->settings_lock);
  return self->priv->settings;
}

/* A bin from a launch description, added to us and in our state. */
static GstElement *
add_bin (GstFlvEncodeBin *self, const std::string &description,
    bool start = true)
{
  g_autoptr (GError) error = nullptr;
  GstElement *bin = gst_parse_bin_from_description_full (description.c_str (),
      TRUE, nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (!bin) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
        ("Cannot build \"%s\": %s. Install the GStreamer plugins it needs.",
            description.c_str (), error->message), (nullptr));
    return nullptr;
  }
  GST_DEBUG_OBJECT (self, "adding %s", description.c_str ());
  gst_bin_add (GST_BIN (self), bin);
  if (start)
    gst_element_sync_state_with_parent (bin);
  return bin;
}

/* Highest-ranked software decoder for caps. A fixed decoder instead of
 * decodebin: decodebin changes state asynchronously until it has decoded
 * something, which would hold up the whole pipeline for a branch that only
 * starts on demand. */
static GstElement *
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
static void
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

/* [queue !] <decoder for caps> ! <after_decoding>. Returns the first
 * element (entry) and sets exit to the last. With own_thread, a queue in
 * front runs the branch in a thread of its own. */
static GstElement *
add_decode_branch (GstFlvEncodeBin *self, GstCaps *caps,
    const std::string &after_decoding, GstElement **exit, bool own_thread)
{
  GstElement *decoder = make_decoder (caps);
  if (!decoder) {
    g_autofree char *caps_str = gst_caps_to_string (caps);
    GST_ELEMENT_ERROR (self, STREAM, CODEC_NOT_FOUND,
        ("No decoder for %s: unsupported codec.", caps_str), (nullptr));
    return nullptr;
  }
  limit_decoder_threads (decoder, current_settings (self).codec_threads);
  GstElement *after = add_bin (self, after_decoding);
  GstElement *queue = own_thread ? gst_element_factory_make ("queue",
      nullptr) : nullptr;
  if (!after || (own_thread && !queue)) {
    gst_object_unref (decoder);
    gst_clear_object (&queue);
    return nullptr;
  }
  gst_bin_add (GST_BIN (self), decoder);
  gst_element_link (decoder, after);
  if (queue) {
    g_object_set (queue, "max-size-buffers", 0, "max-size-bytes", 0,
        "max-size-time", INPUT_QUEUE_TIME, nullptr);
    gst_bin_add (GST_BIN (self), queue);
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
static bool
link_pads (GstFlvEncodeBin *self, GstPad *src, GstPad *sink)
{
  GstPadLinkReturn ret = gst_pad_link_full (src, sink,
      GST_PAD_LINK_CHECK_HIERARCHY);
  if (ret != GST_PAD_LINK_OK) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (nullptr),
        ("cannot link %s:%s to %s:%s: %s", GST_DEBUG_PAD_NAME (src),
            GST_DEBUG_PAD_NAME (sink), gst_pad_link_get_name (ret)));
    return false;
  }
  return true;
}

static bool
link_elements (GstFlvEncodeBin *self, GstElement *src, const char *src_pad,
    GstElement *sink, const char *sink_pad)
{
  g_autoptr (GstPad) srcpad = gst_element_get_static_pad (src, src_pad);
  if (!srcpad)
    srcpad = gst_element_request_pad_simple (src, src_pad);
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, sink_pad);
  if (!sinkpad)
    sinkpad = gst_element_request_pad_simple (sink, sink_pad);
  if (!srcpad || !sinkpad) {
    GST_ELEMENT_ERROR (self, CORE, PAD, (nullptr),
        ("no pad %s on %s or %s on %s", src_pad, GST_ELEMENT_NAME (src),
            sink_pad, GST_ELEMENT_NAME (sink)));
    return false;
  }
  return link_pads (self, srcpad, sinkpad);
}

/* Where a buffer comes in decoding order. */
static GstClockTime
decoding_position (GstBuffer *buffer)
{
  return GST_BUFFER_DTS_IS_VALID (buffer) ? GST_BUFFER_DTS (buffer) :
      GST_BUFFER_PTS (buffer);
}

/* flvmux writes tags in decoding-time order, and the muxed audio of a
 * browser's message ends short of its last picture (AAC's look-ahead needs
 * the start of the next message). Decoding each picture audio-lag before
 * its presentation (the FLV composition time offset, as with B-frames)
 * lets it go out once the audio up to that much before it is there;
 * presentation times, and so A/V sync, stay as they are. Decoding times
 * keep rising: the first pictures (within audio-lag of the start) are
 * decoded at the start, a millisecond apart (FLV's resolution). */
struct DecodeLead {
  GstClockTime lag;
  GstClockTime last = GST_CLOCK_TIME_NONE;  /* running time */
};

static GstPadProbeReturn
decode_ahead (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto *lead = static_cast<DecodeLead *> (data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime decoding = decoding_position (buffer);
  g_autoptr (GstEvent) event = gst_pad_get_sticky_event (pad,
      GST_EVENT_SEGMENT, 0);
  if (!event || !GST_CLOCK_TIME_IS_VALID (decoding))
    return GST_PAD_PROBE_OK;
  const GstSegment *segment;
  gst_event_parse_segment (event, &segment);
  GstClockTime running = gst_segment_to_running_time (segment,
      GST_FORMAT_TIME, decoding);
  if (!GST_CLOCK_TIME_IS_VALID (running))
    return GST_PAD_PROBE_OK;
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

/* Links a track's last element to the muxer's "video" or "audio" pad. */
static bool
link_to_mux (GstFlvEncodeBin *self, GstElement *last, const char *mux_pad)
{
  if (!link_elements (self, last, "src", self->priv->mux, mux_pad))
    return false;
  GstClockTime lag = current_settings (self).audio_lag;
  if (lag > 0 && g_str_equal (mux_pad, "video")) {
    g_autoptr (GstPad) src = gst_element_get_static_pad (last, "src");
    g_autoptr (GstPad) pad = gst_pad_get_peer (src);
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, decode_ahead,
        new DecodeLead { lag },
        [] (gpointer data) { delete static_cast<DecodeLead *> (data); });
  }
  return true;
}

static void
set_output_mode (GstFlvEncodeBin *self, const char *mode,
    const std::string &reason)
{
  {
    std::lock_guard<std::mutex> lock (self->priv->state_lock);
    if (self->priv->output_mode == mode)
      return;
    self->priv->output_mode = mode;
  }
  GST_INFO_OBJECT (self, "video output: %s (%s)", mode, reason.c_str ());
  g_object_notify (G_OBJECT (self), "output-mode");
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new (GST_FLV_ENCODE_BIN_MODE_MESSAGE_NAME,
              "mode", G_TYPE_STRING, mode,
              "reason", G_TYPE_STRING, reason.c_str (), nullptr)));
}

static std::string
video_transcode_description (const Settings &s, bool mid_stream = false)
{
  int key_int = std::max (1, (int) (s.keyframe_interval * s.fps_n / s.fps_d));
  return printf_string (VIDEO_NORMALIZE, mid_stream ? "true" : "false",
      s.fps_n, s.fps_d, s.width, s.height) +
      " ! " + h264_encode (printf_string (X264_OPTIONS, s.codec_threads,
      s.speed_preset.c_str (), s.video_bitrate, key_int));
}

static std::string
audio_description (const Settings &s)
{
  return printf_string (AUDIO_NORMALIZE, DEFAULT_AAC_RATE, s.audio_channels) +
      " ! " + aac_encode (printf_string ("bitrate=%u", s.audio_bitrate * 1000));
}

/* ---- H.264 passthrough with fallback ----
 *
 *   parsed H.264 ─ tee ─ queue ! h264parse ─────────────────── funnel ─ mux.video
 *                     └ queue ! decoder ! ... ! x264enc ! h264parse ┘
 *
 * A probe on the tee's input watches keyframes and keeps the input since
 * the last one. When the next picture would leave a keyframe gap over
 * keyframe-interval + 10 %, the probe switches right there: it adds the
 * decoding branch and feeds it the kept pictures so the decoder catches
 * up. The new branch drops what it decodes up to the last picture passed
 * through, so its encoder starts with a keyframe at the switch picture;
 * the passthrough branch drops everything from the switch picture on. The
 * new branch's output waits until the passthrough branch has put out its
 * last picture; funnel then re-sends the new branch's caps, and streamable
 * flvmux re-sends the codec headers. A size change switches at the
 * keyframe that brings it. */

static GstPadProbeReturn
watch_h264_input (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto *self = GST_FLV_ENCODE_BIN (data);
  GstFlvEncodeBinPrivate *priv = self->priv;
  Settings settings = current_settings (self);
  std::string switched_reason;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      int width = 0, height = 0;
      GstStructure *s = gst_caps_get_structure (caps, 0);
      gst_structure_get_int (s, "width", &width);
      gst_structure_get_int (s, "height", &height);
      std::lock_guard<std::mutex> lock (priv->state_lock);
      if (width == 0 || height == 0 || priv->transcoding ||
          priv->switch_pending)
        return GST_PAD_PROBE_OK;
      /* Passing through keeps the input size: only the output size will
       * do, for the whole broadcast. */
      if (width != settings.width || height != settings.height) {
        priv->switch_pending = true;
        priv->switch_reason = printf_string ("input size %dx%d is not the "
            "output size %dx%d", width, height, settings.width,
            settings.height);
      }
    }
    return GST_PAD_PROBE_OK;
  }

  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime pts = GST_BUFFER_PTS_IS_VALID (buffer) ?
      GST_BUFFER_PTS (buffer) : GST_BUFFER_DTS (buffer);
  bool keyframe = !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  GstClockTime max_gap = (GstClockTime) (settings.keyframe_interval *
      KEYFRAME_TOLERANCE * GST_SECOND);
  GstBufferList *gop = nullptr;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    if (priv->transcoding)
      return GST_PAD_PROBE_OK;
    /* The next picture is expected a frame later: as far as this one came
     * after the previous one, or its duration if that is longer. */
    GstClockTime frame = GST_BUFFER_DURATION_IS_VALID (buffer) ?
        GST_BUFFER_DURATION (buffer) : 0;
    if (GST_CLOCK_TIME_IS_VALID (pts) &&
        GST_CLOCK_TIME_IS_VALID (priv->last_pts) && pts > priv->last_pts)
      frame = std::max (frame, pts - priv->last_pts);

    if (keyframe) {
      if (priv->switch_pending) {
        priv->transcoding = true;
        switched_reason = priv->switch_reason;
      } else {
        /* A new picture group: what came before is no longer needed. */
        gst_clear_buffer_list (&priv->gop);
        priv->gop = gst_buffer_list_new ();
      }
      priv->last_keyframe = pts;
    } else if (!priv->switch_pending && GST_CLOCK_TIME_IS_VALID (pts)) {
      if (!GST_CLOCK_TIME_IS_VALID (priv->last_keyframe)) {
        priv->last_keyframe = pts;
      } else if (pts + frame > priv->last_keyframe + max_gap) {
        /* The next picture would come too late: this one is the last that
         * keeps the gap short enough, and the first one transcoded. */
        priv->transcoding = true;
        gop = priv->gop;
        priv->gop = nullptr;
        switched_reason = printf_string ("input keyframes are more than "
            "%.1f s apart", settings.keyframe_interval);
        GST_WARNING_OBJECT (self, "%s: transcoding from %" GST_TIME_FORMAT
            " on", switched_reason.c_str (), GST_TIME_ARGS (pts));
      }
    }
    if (priv->transcoding) {
      priv->switch_position = decoding_position (buffer);
      gst_clear_buffer_list (&priv->gop);
    } else {
      if (priv->gop)
        gst_buffer_list_add (priv->gop, gst_buffer_ref (buffer));
      if (GST_CLOCK_TIME_IS_VALID (pts) && (!GST_CLOCK_TIME_IS_VALID (
                  priv->passed_until) || pts > priv->passed_until))
        priv->passed_until = pts;
    }
    if (GST_CLOCK_TIME_IS_VALID (pts))
      priv->last_pts = pts;
  }
  if (!switched_reason.empty ()) {
    g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
    if (!caps || !add_transcode_fallback (self, caps, gop))
      return GST_PAD_PROBE_DROP;  /* an error is posted */
    set_output_mode (self, "transcode", switched_reason);
  }
  return GST_PAD_PROBE_OK;
}

/* Lets the fallback's output go (see hold_fallback_output). */
static void
release_fallback_output (GstFlvEncodeBinPrivate *priv)
{
  GstPad *output;
  gulong block;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    output = priv->fallback_output;
    block = priv->fallback_block;
    priv->fallback_output = nullptr;
    priv->fallback_block = 0;
  }
  if (output) {
    gst_pad_remove_probe (output, block);
    gst_object_unref (output);
  }
}

/* The passthrough branch's output: everything until the switch. The
 * buffer after its last picture (or its EOS) releases the fallback; caps
 * after that belong to a stream it no longer carries. */
static GstPadProbeReturn
gate_passthrough_output (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *priv = static_cast<GstFlvEncodeBinPrivate *> (data);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
      release_fallback_output (priv);
    } else if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      std::lock_guard<std::mutex> lock (priv->state_lock);
      if (priv->passthrough_ended)
        return GST_PAD_PROBE_DROP;
    }
    return GST_PAD_PROBE_OK;
  }
  GstClockTime position = decoding_position (GST_PAD_PROBE_INFO_BUFFER (info));
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    if (!priv->transcoding || !GST_CLOCK_TIME_IS_VALID (position) ||
        position < priv->switch_position)
      return GST_PAD_PROBE_OK;
    priv->passthrough_ended = true;
  }
  release_fallback_output (priv);
  return GST_PAD_PROBE_DROP;
}

/* Holds the fallback's output until gate_passthrough_output releases it. */
static GstPadProbeReturn
hold_fallback_output (GstPad *, GstPadProbeInfo *, gpointer)
{
  return GST_PAD_PROBE_OK;
}

/* The decoder catches up from the last keyframe: what was passed through
 * goes no further. Decoded pictures come in presentation order, so the
 * first one after that starts the rest. */
static GstPadProbeReturn
drop_passed_pictures (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *priv = static_cast<GstFlvEncodeBinPrivate *> (data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  std::lock_guard<std::mutex> lock (priv->state_lock);
  if (GST_CLOCK_TIME_IS_VALID (priv->passed_until) &&
      GST_BUFFER_PTS_IS_VALID (buffer) &&
      GST_BUFFER_PTS (buffer) <= priv->passed_until)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_REMOVE;
}

/* The passed-through pictures' frame rate, from the median interval
 * between the kept ones (whole frames per second), when it is below the
 * settings' (0 otherwise, or when there are too few to tell). */
static int
passed_frame_rate (GstBufferList *gop, const Settings &s)
{
  std::vector<GstClockTime> times;
  for (guint i = 0; gop && i < gst_buffer_list_length (gop); i++) {
    GstBuffer *picture = gst_buffer_list_get (gop, i);
    if (GST_BUFFER_PTS_IS_VALID (picture))
      times.push_back (GST_BUFFER_PTS (picture));
  }
  std::sort (times.begin (), times.end ());
  std::vector<GstClockTime> intervals;
  for (size_t i = 1; i < times.size (); i++)
    if (times[i] > times[i - 1])
      intervals.push_back (times[i] - times[i - 1]);
  if (intervals.size () < 4)
    return 0;
  std::nth_element (intervals.begin (),
      intervals.begin () + intervals.size () / 2, intervals.end ());
  GstClockTime median = intervals[intervals.size () / 2];
  int fps = (int) ((GST_SECOND + median / 2) / median);
  return fps >= 1 && (gint64) fps * s.fps_d < s.fps_n ? fps : 0;
}

/* The fallback: decoder and encoder, added only when needed (an idle
 * decoder per stream costs memory and a thread). Runs in the streaming
 * thread, before the tee pushes the switch picture, so the new branch
 * receives it after the kept ones (gop, taken). It encodes at the frame
 * rate passed through so far when that is lower than the settings': a
 * player takes the rate from the stream's start, and a 20 fps stream
 * that went on at 30 made ffmpeg warn of repeated timestamps. */
static bool
add_transcode_fallback (GstFlvEncodeBin *self, GstCaps *caps,
    GstBufferList *gop)
{
  GstFlvEncodeBinPrivate *priv = self->priv;
  GstElement *tee, *funnel;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    tee = priv->h264_tee;
    funnel = priv->h264_funnel;
  }
  Settings settings = current_settings (self);
  if (int fps = passed_frame_rate (gop, settings)) {
    GST_INFO_OBJECT (self, "transcoding at the %d fps passed through so far",
        fps);
    settings.fps_n = fps;
    settings.fps_d = 1;
  }
  GstElement *encoded = nullptr;
  GstElement *entry = add_decode_branch (self, caps,
      video_transcode_description (settings, true), &encoded, true);
  if (!entry) {
    gst_clear_buffer_list (&gop);
    return false;
  }
  GST_DEBUG_OBJECT (self, "the decoder catches up with %u pictures",
      gop ? gst_buffer_list_length (gop) : 0);

  g_autoptr (GstPad) decoded = gst_element_get_static_pad (encoded, "sink");
  gst_pad_add_probe (decoded, GST_PAD_PROBE_TYPE_BUFFER, drop_passed_pictures,
      priv, nullptr);
  GstPad *output = gst_element_get_static_pad (encoded, "src");
  gulong block = gst_pad_add_probe (output,
      GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM, hold_fallback_output, nullptr,
      nullptr);
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    priv->fallback_output = output;
    priv->fallback_block = block;
  }

  g_autoptr (GstPad) tee_src = gst_element_request_pad_simple (tee, "src_%u");
  g_autoptr (GstPad) entry_sink = gst_element_get_static_pad (entry, "sink");
  if (!link_elements (self, encoded, "src", funnel, "sink_%u") ||
      !link_pads (self, tee_src, entry_sink)) {
    gst_clear_buffer_list (&gop);
    return false;
  }
  /* The tee gave its new pad the stream's sticky events; they go first. */
  return !gop || gst_pad_push_list (tee_src, gop) >= GST_FLOW_OK;
}

static GstElement *
build_h264_video (GstFlvEncodeBin *self, GstElement **entry)
{
  GstElement *tee = gst_element_factory_make ("tee", nullptr);
  GstElement *funnel = gst_element_factory_make ("funnel", nullptr);
  if (!tee || !funnel) {
    gst_clear_object (&tee);
    gst_clear_object (&funnel);
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
        ("tee and funnel (GStreamer core) are missing."), (nullptr));
    return nullptr;
  }
  gst_bin_add_many (GST_BIN (self), tee, funnel, nullptr);
  gst_element_sync_state_with_parent (tee);
  gst_element_sync_state_with_parent (funnel);

  GstElement *pass = add_bin (self, VIDEO_PASSTHROUGH);
  if (!pass)
    return nullptr;

  g_autoptr (GstPad) tee_sink = gst_element_get_static_pad (tee, "sink");
  if (!link_elements (self, tee, "src_%u", pass, "sink") ||
      !link_elements (self, pass, "src", funnel, "sink_%u"))
    return nullptr;
  {
    std::lock_guard<std::mutex> lock (self->priv->state_lock);
    self->priv->h264_tee = tee;
    self->priv->h264_funnel = funnel;
  }

  gst_pad_add_probe (tee_sink, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      watch_h264_input, self, nullptr);
  g_autoptr (GstPad) pass_src = gst_element_get_static_pad (pass, "src");
  gst_pad_add_probe (pass_src, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      gate_passthrough_output, self->priv, nullptr);
  *entry = tee;
  return funnel;
}

static GstPadProbeReturn
skip_aac_priming (GstPad *, GstPadProbeInfo *info, gpointer)
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
      priv->streams_with_data++;
      ended_empty.swap (priv->ended_empty);
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
    release_now = priv->streams_with_data > 0;
    if (!release_now) {
      priv->ended_empty.push_back (GST_PAD (gst_object_ref (pad)));
      all_empty = (int) priv->ended_empty.size () == priv->streams_watched;
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
    self->priv->streams_watched++;
  }
  g_autoptr (GstPad) output = gst_element_get_static_pad (last, "src");
  gst_pad_add_probe (output, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      release_empty_stream, self, nullptr);
}

/* ---- streams ---- */

static bool
h264_passthrough_possible (const Settings &s, GstCaps *caps,
    std::string &why_not)
{
  GstStructure *structure = gst_caps_get_structure (caps, 0);
  if (!s.passthrough) {
    why_not = "passthrough disabled";
    return false;
  }
  if (!gst_structure_has_name (structure, "video/x-h264")) {
    why_not = printf_string ("input video is %s",
        gst_structure_get_name (structure));
    return false;
  }
  /* The size may only be known once the stream's headers are parsed; the
   * input watch checks it then. */
  int width = 0, height = 0;
  gst_structure_get_int (structure, "width", &width);
  gst_structure_get_int (structure, "height", &height);
  if (width && height && (width != s.width || height != s.height)) {
    why_not = printf_string ("input size %dx%d is not the output size %dx%d",
        width, height, s.width, s.height);
    return false;
  }
  return true;
}

static void
link_video (GstFlvEncodeBin *self, GstPad *pad, GstCaps *caps)
{
  GstFlvEncodeBinPrivate *priv = self->priv;
  Settings settings = current_settings (self);
  std::string why_not;
  GstElement *entry = nullptr, *last;
  const char *mode;

  if (h264_passthrough_possible (settings, caps, why_not)) {
    last = build_h264_video (self, &entry);
    mode = "passthrough";
    why_not = "H.264 input";
  } else {
    entry = add_decode_branch (self, caps,
        video_transcode_description (settings), &last, true);
    mode = "transcode";
  }
  if (!entry || !last)
    return;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    priv->real_output = last;
  }
  /* Output side first: data may flow as soon as the input is linked. */
  g_autoptr (GstPad) sink = gst_element_get_static_pad (entry, "sink");
  watch_for_empty_stream (self, last);
  if (link_to_mux (self, last, "video") &&
      link_pads (self, pad, sink))
    set_output_mode (self, mode, why_not);
}

/* AAC-LC at 48 or 44.1 kHz (Safari; Chromium's MP4 with mp4a), with the
 * channels asked for, is already what the output needs: decoding and
 * encoding it again would only cost CPU, delay and quality. */
static bool
aac_passthrough_possible (const Settings &settings, GstCaps *caps)
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
  GstElement *encoded = nullptr, *entry;
  bool passthrough = aac_passthrough_possible (current_settings (self), caps);
  if (passthrough) {
    entry = encoded = add_bin (self, AUDIO_PASSTHROUGH);
  } else {
    entry = add_decode_branch (self, caps,
        audio_description (current_settings (self)), &encoded, false);
  }
  if (!entry)
    return;
  GST_INFO_OBJECT (self, "audio output: %s", passthrough ? "passthrough" :
      "transcode");
  {
    std::lock_guard<std::mutex> lock (self->priv->state_lock);
    self->priv->real_output = encoded;
  }
  /* Our own encoder's priming: passed-through audio keeps the source's
   * timing. */
  g_autoptr (GstPad) output = gst_element_get_static_pad (encoded, "src");
  if (!passthrough)
    gst_pad_add_probe (output, GST_PAD_PROBE_TYPE_BUFFER, skip_aac_priming,
        nullptr, nullptr);
  watch_for_empty_stream (self, encoded);
  g_autoptr (GstPad) sink = gst_element_get_static_pad (entry, "sink");
  if (link_to_mux (self, encoded, "audio"))
    link_pads (self, pad, sink);
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
    std::lock_guard<std::mutex> lock (self->priv->state_lock);
    if (self->priv->tracks_checked)
      return GST_PAD_PROBE_REMOVE;
    self->priv->tracks_checked = true;
    have_video = self->priv->have_video;
    have_audio = self->priv->have_audio;
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
    if (is_video && !priv->have_video)
      first = priv->have_video = true;
    else if (is_audio && !priv->have_audio)
      first = priv->have_audio = true;
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

/* Running time of a timestamp on a pad: encoders such as x264enc move
 * their timestamps (by 1000 hours) and their segment together. */
static GstClockTime
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

/* Follows the real track, to know where it ends. */
static GstPadProbeReturn
track_real_end (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto *priv = GST_FLV_ENCODE_BIN (data)->priv;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
    if (!GST_BUFFER_PTS_IS_VALID (buffer))
      return GST_PAD_PROBE_OK;
    GstClockTime end = running_time (pad, GST_BUFFER_PTS (buffer) +
        (GST_BUFFER_DURATION_IS_VALID (buffer) ?
        GST_BUFFER_DURATION (buffer) : 0));
    std::lock_guard<std::mutex> lock (priv->state_lock);
    if (GST_CLOCK_TIME_IS_VALID (end))
      priv->real_end = std::max (priv->real_end, end);
    priv->real_progress.notify_all ();
    return GST_PAD_PROBE_OK;
  }
  std::lock_guard<std::mutex> lock (priv->state_lock);
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    GST_DEBUG ("real track ended at %" GST_TIME_FORMAT,
        GST_TIME_ARGS (priv->real_end));
    priv->real_ended = true;
    priv->real_progress.notify_all ();
  }
  return GST_PAD_PROBE_OK;
}

/* Keeps a generated track no further than the real one, and ends it
 * where the real one ended, from the generated track's own streaming
 * thread: it can neither run on (flvmux would mux silence or black past
 * the end) nor be stopped from outside while it pushes into flvmux. */
static GstPadProbeReturn
pace_filler_by_real_track (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto *priv = GST_FLV_ENCODE_BIN (data)->priv;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  if (!GST_BUFFER_PTS_IS_VALID (buffer))
    return GST_PAD_PROBE_OK;
  GstClockTime position = running_time (pad, GST_BUFFER_PTS (buffer));
  {
    std::unique_lock<std::mutex> lock (priv->state_lock);
    /* Polled for flushing: a state change does not signal. */
    while (!priv->real_ended && position > priv->real_end &&
        !GST_PAD_IS_FLUSHING (pad))
      priv->real_progress.wait_for (lock, std::chrono::milliseconds (50));
    if (!priv->real_ended || position < priv->real_end)
      return GST_PAD_PROBE_OK;
  }
  if (!GST_PAD_IS_EOS (pad)) {
    GST_DEBUG_OBJECT (pad, "generated track ends with the real one");
    gst_pad_push_event (pad, gst_event_new_eos ());
  }
  return GST_PAD_PROBE_DROP;
}

static void
add_filler (GstFlvEncodeBin *self, const std::string &description,
    const char *mux_pad)
{
  /* A source: started only once it is linked. */
  GstElement *bin = add_bin (self, description, false);
  /* Generated tracks are not paced by messages: linked without audio-lag. */
  if (!bin || !link_elements (self, bin, "src", self->priv->mux, mux_pad))
    return;
  g_autoptr (GstPad) output = gst_element_get_static_pad (bin, "src");
  gst_pad_add_probe (output, GST_PAD_PROBE_TYPE_BUFFER,
      pace_filler_by_real_track, self, nullptr);
  gst_element_sync_state_with_parent (bin);
}

/* Generates the track the input lacks. Runs once, at the first buffer of
 * any input stream, when parsebin has exposed all of them (see
 * check_missing_tracks): flvmux needs all its pads before it writes its
 * header. */
static void
add_missing_tracks (GstFlvEncodeBin *self, bool have_video, bool have_audio)
{
  GstFlvEncodeBinPrivate *priv = self->priv;
  Settings s = current_settings (self);
  if (!have_video && !have_audio) {
    GST_ELEMENT_ERROR (self, STREAM, DEMUX,
        ("The input has neither audio nor video."), (nullptr));
    return;
  }
  if (have_video && have_audio)
    return;

  /* Only one real stream: where it ends, the filler ends. */
  GstPad *real_pad;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    real_pad = priv->real_output ?
        gst_element_get_static_pad (priv->real_output, "src") : nullptr;
  }
  if (real_pad) {
    gst_pad_add_probe (real_pad, static_cast<GstPadProbeType> (
            GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
        track_real_end, self, nullptr);
    gst_object_unref (real_pad);
  }
  if (!have_audio) {
    GST_INFO_OBJECT (self, "no audio in the input: adding silence");
    add_filler (self, std::string (SILENCE_SOURCE) + " ! " +
        audio_description (s), "audio");
  } else {
    GST_INFO_OBJECT (self, "no video in the input: adding %s",
        s.placeholder_image.empty () ? "black video" : "a placeholder image");
    std::string source = BLACK_SOURCE;
    if (!s.placeholder_image.empty ()) {
      source += printf_string (" ! video/x-raw,width=%d,height=%d ! "
          "videoconvert ! ", s.width, s.height) + printf_string (IMAGE_OVERLAY,
          s.placeholder_image.c_str (), s.width, s.height);
    }
    add_filler (self, source + " ! " + video_transcode_description (s),
        "video");
    set_output_mode (self, "transcode", "input has no video");
  }

}

/* ---- element ---- */

static void
reset_stream_state (GstFlvEncodeBin *self)
{
  GstFlvEncodeBinPrivate *priv = self->priv;
  std::lock_guard<std::mutex> lock (priv->state_lock);
  priv->have_video = priv->have_audio = priv->tracks_checked = false;
  priv->real_output = nullptr;
  priv->output_mode.clear ();
  priv->real_end = 0;
  priv->real_ended = false;
  priv->streams_watched = priv->streams_with_data = 0;
  for (GstPad *output : priv->ended_empty)
    gst_object_unref (output);
  priv->ended_empty.clear ();
  priv->last_keyframe = priv->last_pts = GST_CLOCK_TIME_NONE;
  gst_clear_buffer_list (&priv->gop);
  priv->switch_pending = priv->transcoding = false;
  priv->passed_until = priv->switch_position = GST_CLOCK_TIME_NONE;
  priv->h264_tee = priv->h264_funnel = nullptr;
  gst_clear_object (&priv->fallback_output);
  priv->fallback_block = 0;
  priv->passthrough_ended = false;
  priv->switch_reason.clear ();
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
  Settings &s = self->priv->settings;

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
    g_value_set_string (value, priv->output_mode.c_str ());
    return;
  }

  std::lock_guard<std::mutex> lock (priv->settings_lock);
  const Settings &s = priv->settings;
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
