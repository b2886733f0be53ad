/* flvsplice: one FLV output that outlives its inputs; a slate between them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-flvsplice
 * @title: flvsplice
 *
 * Keeps one FLV stream going while its inputs come and go: a browser's
 * WebSocket connection drops and comes back, or a newer connection takes
 * over. Each input is what flvmux (or flvencodebin) puts out, on a
 * `sink_%u` request pad; the output is one FLV stream with rising
 * timestamps, for rtmp2sink or a file, and its caps never change (rtmp2sink
 * would re-send its stream headers with timestamp 0 on a caps change).
 *
 * - The oldest input that has not ended is the active one; a newer input
 *   waits (its streaming thread blocks) until the older one has had EOS,
 *   then takes over at its first video keyframe (its tags before that are
 *   dropped). Its FLV file header and onMetaData are dropped; its AVC and
 *   AAC sequence headers go out in-band, right before that keyframe, and
 *   every tag's timestamp is rewritten so that its video continues right
 *   after the last output frame (or the slate) and its audio keeps its
 *   offset to the video. Pictures may carry a composition time offset
 *   (decoded ahead of their presentation, as flvencodebin's audio-lag
 *   makes them): what follows an input is presented after its last
 *   picture's presentation time, not only decoded after it.
 * - When the active input ends and no newer input is waiting, the element
 *   does not forward the EOS: it starts the *slate* at once, a picture
 *   (#GstFlvSplice:slate-location, or a plain dark card) with AAC silence,
 *   whose timestamps continue right after the last delivered tag; it bursts
 *   up to "now" (the output timestamps are tied to the monotonic clock at
 *   the first output tag), then runs in real time from a task on the source
 *   pad. The slate is encoded once per size/frame rate/keyframe interval/
 *   audio format and image, in the background when the first input's caps
 *   arrive, shared by every flvsplice in the process, and looped: a
 *   broadcast on slate encodes nothing.
 * - An active input that delivers nothing for #GstFlvSplice:stall-timeout
 *   milliseconds without ending (a half-open connection: the browser's
 *   network died and no FIN or RST came) is *stalled*: the slate starts as
 *   for an EOS, right after its last frame, so the output keeps real time.
 *   The input stays the active one: when it delivers again, it is spliced
 *   back in at its next keyframe like an input taking over; when it ends,
 *   a waiting newer input takes over from the slate.
 * - The "finish" action signal makes the active input's EOS go downstream
 *   (the broadcast is over, no slate). When no input takes over within
 *   #GstFlvSplice:timeout seconds of the slate starting, EOS goes
 *   downstream too. With timeout=0 there is no slate: an input's EOS is
 *   forwarded at once (unless a newer input is waiting to take over).
 *
 * Element messages (structure names; see gstflvsplice.h):
 * - `flvsplice-slate`: the slate started; "position" (guint64): when its
 *   first picture is presented (output time, nanoseconds); "reason"
 *   (string): "eos" (the input ended) or "stall" (it stopped delivering).
 * - `flvsplice-resumed`: an input took over from the slate (or a stalled
 *   one came back); "gap" (guint64): nanoseconds of slate.
 * - `flvsplice-input-ended`: a sink pad got EOS; "pad" (string): its name.
 * - `flvsplice-timeout`: no input took over within the timeout; EOS follows.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=a.webm ! flvencodebin ! s.sink_0 \
 *     flvsplice name=s timeout=5 ! filesink location=out.flv
 * ]| The recording, then 5 s of slate, then EOS.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstflvsplice.h"

#include "flvslate.h"
#include "flvtag.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

/* Not static: the slate's encoder (flvslate.cpp) logs in it too. */
GST_DEBUG_CATEGORY (gst_flv_splice_debug);
#define GST_CAT_DEFAULT gst_flv_splice_debug

namespace {

using Clock = std::chrono::steady_clock;

constexpr guint DEFAULT_TIMEOUT = 60;
/* A browser sends a MediaRecorder chunk every 250-300 ms: through
 * flvencodebin, tags came at most ~300 ms apart (1.2 s with 1000 ms chunks,
 * 1.5 s for Firefox's VP8 transcoded on a loaded machine; test_flvsplice's
 * test_no_stall_at_browser_pace prints them). A false stall costs up to a
 * keyframe interval of live picture, a late one only a longer burst. */
constexpr guint DEFAULT_STALL_TIMEOUT = 2000;
/* The same output format as flvencodebin's defaults. */
constexpr int DEFAULT_WIDTH = 1280;
constexpr int DEFAULT_HEIGHT = 720;
constexpr int DEFAULT_FPS_N = 30;
constexpr int DEFAULT_FPS_D = 1;
constexpr double DEFAULT_KEYFRAME_INTERVAL = 2.0;
/* Without an input's AAC sequence header. */
constexpr int DEFAULT_AAC_RATE = 48000;
constexpr int DEFAULT_AAC_CHANNELS = 2;
/* The slate catches up with "now" in a burst, but at most this far: input
 * timestamps that drifted from the clock over hours would otherwise become
 * a burst as long as the drift. */
constexpr gint64 MAX_BURST_MS = 30000;
/* While the slate is not encoded yet, look again this often. */
constexpr auto SLATE_POLL = std::chrono::milliseconds (50);
/* How long a takeover waits for the slate's silence to be encoded. */
constexpr auto SLATE_WAIT = std::chrono::seconds (10);
/* Video frames the output's frame rate is measured over. */
constexpr size_t RATE_WINDOW = 32;

enum {
  PROP_0,
  PROP_TIMEOUT,
  PROP_STALL_TIMEOUT,
  PROP_SLATE_LOCATION,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_FRAMERATE,
  PROP_KEYFRAME_INTERVAL,
  PROP_GAPS,
  PROP_SLATE_TIME,
  PROP_ON_SLATE,
};

enum {
  SIGNAL_FINISH,
  LAST_SIGNAL,
};

guint signals[LAST_SIGNAL];

struct Settings {
  guint timeout = DEFAULT_TIMEOUT;
  guint stall_timeout = DEFAULT_STALL_TIMEOUT;
  std::string slate_location;
  int width = DEFAULT_WIDTH;
  int height = DEFAULT_HEIGHT;
  int fps_n = DEFAULT_FPS_N;
  int fps_d = DEFAULT_FPS_D;
  double keyframe_interval = DEFAULT_KEYFRAME_INTERVAL;
};

std::string
printf_string (const char *format, ...) G_GNUC_PRINTF (1, 2);

std::string
printf_string (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  return text;
}

/* FLV tags: flvformat.h (the layout), flvtag.h (read and retimed). */
namespace flv = wsrtmp::flv;

/* The slate: flvslate.h. */
using wsrtmp::AAC_FRAME_SAMPLES;
using wsrtmp::Slate;
using wsrtmp::SlateKey;
using wsrtmp::aac_format_supported;
using wsrtmp::slate_for;

}  // namespace

/* ---- Sink pads ---- */

#define GST_TYPE_FLV_SPLICE_PAD (gst_flv_splice_pad_get_type ())
G_DECLARE_FINAL_TYPE (GstFlvSplicePad, gst_flv_splice_pad, GST, FLV_SPLICE_PAD,
    GstPad)

/* Every field is guarded by the element's state lock. */
struct _GstFlvSplicePad {
  GstPad parent;

  /* The streaming thread is in chain (pushing, or waiting to be active). */
  gboolean in_chain;
  gboolean waiting;
  gboolean flushing;
  /* Released by the application; ended when out of chain too. */
  gboolean released;
  /* EOS or released: never active again. */
  gboolean ended;
  /* Took over at a keyframe: tags go out at their timestamp + offset. */
  gboolean started;
  /* Active, but delivered nothing for stall-timeout: the slate runs, and
   * the input is spliced back in at its next keyframe. */
  gboolean stalled;
  gint64 offset;
  /* The latest AVC and AAC sequence header tags this input sent. */
  GstBuffer *video_header;
  GstBuffer *audio_header;
};

G_DEFINE_TYPE (GstFlvSplicePad, gst_flv_splice_pad, GST_TYPE_PAD);

static void
gst_flv_splice_pad_finalize (GObject *object)
{
  auto *pad = GST_FLV_SPLICE_PAD (object);
  gst_clear_buffer (&pad->video_header);
  gst_clear_buffer (&pad->audio_header);
  G_OBJECT_CLASS (gst_flv_splice_pad_parent_class)->finalize (object);
}

static void
gst_flv_splice_pad_class_init (GstFlvSplicePadClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_flv_splice_pad_finalize;
}

static void
gst_flv_splice_pad_init (GstFlvSplicePad *)
{
}

/* ---- The element ---- */

/* Lock order: state `lock`, then `settings_lock`, then the slate cache's
 * lock; nothing is pushed or posted with `lock` held. Only one thread
 * pushes on the source pad at a time: the active input's streaming thread,
 * or the slate task while `on_slate`; the switch from the slate to an input
 * pauses the task (which waits for its current push) before the input
 * pushes. The stall watch starts the slate only while the active input's
 * thread is out of its chain (so not pushing), and never pushes itself. */
struct GstFlvSplicePrivate {
  GstPad *srcpad = nullptr;

  std::mutex settings_lock;
  Settings settings;

  std::mutex lock;
  std::condition_variable cond;
  /* Sink pads in request order, each with a reference. */
  std::vector<GstFlvSplicePad *> pads;
  guint next_pad_number = 0;
  /* From PAUSED -> READY until READY -> PAUSED. */
  bool stopping = true;
  bool finish = false;
  bool eos_sent = false;
  /* stream-start, caps and segment pushed; the input whose caps they are
   * passes its stream header buffers as they are. */
  bool output_started = false;
  GstFlvSplicePad *header_owner = nullptr;
  /* Output timestamps (ms) of the last video and audio frame, -1 for none;
   * and the latest presentation time of the video (tag timestamp +
   * composition offset: later than last_video when pictures are decoded
   * ahead). What follows is presented after it. */
  gint64 last_video = -1;
  gint64 last_audio = -1;
  gint64 last_video_presented = -1;
  /* The latest output video presentation times: the output's frame rate. */
  std::deque<gint64> recent_video;
  /* The monotonic clock's "now" in output time: map_ts at map_time. */
  bool clock_mapped = false;
  Clock::time_point map_time;
  gint64 map_ts = 0;
  /* The last input's AAC format: the slate's silence has the same. */
  int aac_rate = DEFAULT_AAC_RATE;
  int aac_channels = DEFAULT_AAC_CHANNELS;
  /* The slate for the next gap, and the one running. */
  std::shared_ptr<const Slate> slate;
  std::shared_ptr<const Slate> running_slate;
  /* The running slate's frame duration (ms, a fraction) and how many of
   * its GOP's frames are looped (keyframe-interval at that duration). */
  gint64 slate_frame_num = 1000 * DEFAULT_FPS_D;
  gint64 slate_frame_den = DEFAULT_FPS_N;
  size_t slate_loop_frames = 1;

  /* The stall watch: from READY -> PAUSED to PAUSED -> READY, a wake-up on
   * the system clock (whose one thread serves every element in the
   * process: no thread per broadcast) that starts the slate when, in
   * PLAYING, the active input's chain was last left stall-timeout ago. Not
   * in the chain: a stalled input never calls it. The pending wake-up. */
  GstClockID stall_check = nullptr;
  bool playing = false;
  Clock::time_point last_delivery;

  /* The slate while it runs. */
  bool on_slate = false;
  bool slate_headers_sent = false;
  /* Output timestamp of the slate's first picture, and how long after its
   * timestamp each of its pictures is presented: the last input's
   * composition offset, so that both decoding and presentation times go
   * on without a hole. */
  gint64 slate_start = 0;
  gint64 slate_lead = 0;
  gint64 slate_video_base = 0;
  gint64 slate_audio_base = 0;
  guint64 slate_video_count = 0;
  guint64 slate_audio_count = 0;
  int slate_rate = DEFAULT_AAC_RATE;
  bool has_deadline = false;
  Clock::time_point deadline;
  std::string warned;

  /* The sequence headers in effect since the first switch (the caps'
   * are the first input's): repeated before every keyframe, so that a
   * destination that (re)joins at a keyframe gets them. NULL before. */
  GstBuffer *current_video_header = nullptr;
  GstBuffer *current_audio_header = nullptr;
  /* They went out right before the coming keyframe already. */
  bool headers_just_sent = false;

  /* Statistics (properties). */
  guint gaps = 0;
  guint64 slate_ms = 0;

  /* Posted once `lock` is released (see post_messages). */
  std::vector<GstMessage *> messages;
};

struct _GstFlvSplice {
  GstElement parent;
  GstFlvSplicePrivate *priv;
};

#define gst_flv_splice_parent_class parent_class
G_DEFINE_TYPE (GstFlvSplice, gst_flv_splice, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (flvsplice, "flvsplice", GST_RANK_NONE,
    GST_TYPE_FLV_SPLICE);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink_%u",
    GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS ("video/x-flv"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-flv"));

using Lock = std::unique_lock<std::mutex>;

static void gst_flv_splice_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec);
static void gst_flv_splice_get_property (GObject *object, guint prop_id,
    GValue *value, GParamSpec *pspec);
static void gst_flv_splice_finalize (GObject *object);
static GstStateChangeReturn gst_flv_splice_change_state (GstElement *element,
    GstStateChange transition);
static GstPad *gst_flv_splice_request_new_pad (GstElement *element,
    GstPadTemplate *templ, const gchar *name, const GstCaps *caps);
static void gst_flv_splice_release_pad (GstElement *element, GstPad *pad);
static void gst_flv_splice_finish (GstFlvSplice *self);
static GstFlowReturn gst_flv_splice_chain (GstPad *pad, GstObject *parent,
    GstBuffer *buffer);
static gboolean gst_flv_splice_sink_event (GstPad *pad, GstObject *parent,
    GstEvent *event);
static gboolean gst_flv_splice_src_event (GstPad *pad, GstObject *parent,
    GstEvent *event);
static gboolean gst_flv_splice_src_activate_mode (GstPad *pad,
    GstObject *parent, GstPadMode mode, gboolean active);
static void slate_loop (gpointer data);
static void start_stall_watch (GstFlvSplice *self);
static void stop_stall_watch (GstFlvSplice *self);

static void
gst_flv_splice_class_init (GstFlvSpliceClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const auto flags = static_cast<GParamFlags> (G_PARAM_READWRITE |
      G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  const auto read_only = static_cast<GParamFlags> (G_PARAM_READABLE |
      G_PARAM_STATIC_STRINGS);

  gobject_class->set_property = gst_flv_splice_set_property;
  gobject_class->get_property = gst_flv_splice_get_property;
  gobject_class->finalize = gst_flv_splice_finalize;

  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "Seconds the slate runs waiting for an input to take over before "
          "EOS goes downstream (the broadcast is over; the element message "
          "flvsplice-timeout says so first). Read when the slate starts. 0: "
          "no slate, an input's EOS is forwarded at once unless a newer "
          "input waits to take over", 0, 7 * 24 * 3600,
          DEFAULT_TIMEOUT, flags));
  g_object_class_install_property (gobject_class, PROP_STALL_TIMEOUT,
      g_param_spec_uint ("stall-timeout", "Stall timeout",
          "Milliseconds the input on air may deliver nothing (wall clock, in "
          "PLAYING) before it counts as stalled: a connection that stopped "
          "without ending (a half-open TCP connection). The slate starts "
          "right after its last frame as for an EOS (flvsplice-slate with "
          "\"reason\" \"stall\"), and timeout counts from there; when the input "
          "delivers again it is spliced back in at its next keyframe "
          "(flvsplice-resumed), mapped to the slate's position. A newer "
          "input still waits for its EOS. The default leaves margin over a "
          "browser's bursts through flvencodebin (tags ~300 ms apart with "
          "250 ms MediaRecorder chunks, 1.2 s with 1000 ms chunks, up to 1.5 s "
          "transcoding on a loaded machine). 0: off; no effect with "
          "timeout=0", 0, 600000, DEFAULT_STALL_TIMEOUT, flags));
  g_object_class_install_property (gobject_class, PROP_SLATE_LOCATION,
      g_param_spec_string ("slate-location", "Slate location",
          "PNG or JPEG file shown while no input is active, scaled and "
          "letterboxed to width x height; empty: a plain dark card. Read "
          "when an input's caps arrive (the slate is encoded then)", "",
          flags));
  g_object_class_install_property (gobject_class, PROP_WIDTH,
      g_param_spec_int ("width", "Width",
          "Slate width: the output size of the inputs (flvencodebin's width)",
          16, 7680, DEFAULT_WIDTH, flags));
  g_object_class_install_property (gobject_class, PROP_HEIGHT,
      g_param_spec_int ("height", "Height",
          "Slate height (flvencodebin's height)", 16, 4320, DEFAULT_HEIGHT,
          flags));
  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Frame rate",
          "Slate frame rate (flvencodebin's framerate)", 1, 1, 120, 1,
          DEFAULT_FPS_N, DEFAULT_FPS_D, flags));
  g_object_class_install_property (gobject_class, PROP_KEYFRAME_INTERVAL,
      g_param_spec_double ("keyframe-interval", "Keyframe interval",
          "Seconds between the slate's keyframes (flvencodebin's "
          "keyframe-interval)", 0.5, 10.0, DEFAULT_KEYFRAME_INTERVAL, flags));
  g_object_class_install_property (gobject_class, PROP_GAPS,
      g_param_spec_uint ("gaps", "Gaps",
          "How many times the slate started since PAUSED. Each start posts "
          "the element message flvsplice-slate (\"position\": guint64 ns, its "
          "first output timestamp); an input taking over from it posts "
          "flvsplice-resumed (\"gap\": guint64 ns of slate)", 0, G_MAXUINT, 0,
          read_only));
  g_object_class_install_property (gobject_class, PROP_SLATE_TIME,
      g_param_spec_uint64 ("slate-time", "Slate time",
          "Nanoseconds of slate output since PAUSED (the running slate "
          "included)", 0, G_MAXUINT64, 0, read_only));
  g_object_class_install_property (gobject_class, PROP_ON_SLATE,
      g_param_spec_boolean ("on-slate", "On slate",
          "TRUE while the slate is the output", FALSE, read_only));

  /**
   * GstFlvSplice::finish:
   *
   * The broadcast ends with the active input: its EOS goes downstream after
   * its data, with no slate. While the slate runs, the input that takes over
   * next ends it so (and with no input pad left, EOS goes downstream at
   * once). Thread-safe; call it before the input's EOS reaches the element.
   */
  signals[SIGNAL_FINISH] = g_signal_new_class_handler ("finish",
      G_TYPE_FROM_CLASS (klass), static_cast<GSignalFlags> (G_SIGNAL_RUN_LAST |
          G_SIGNAL_ACTION), G_CALLBACK (gst_flv_splice_finish), nullptr,
      nullptr, nullptr, G_TYPE_NONE, 0);

  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &sink_template, GST_TYPE_FLV_SPLICE_PAD);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "FLV splice with slate", "Generic/Muxer",
      "Keeps one FLV stream going while its FLV inputs come and go: the "
      "newest takes over at a keyframe, a slate with silence fills the "
      "gaps. Posts flvsplice-input-ended (\"pad\": string) when a sink pad "
      "gets EOS", "wsrtmp developers");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_flv_splice_change_state);
  element_class->request_new_pad =
      GST_DEBUG_FUNCPTR (gst_flv_splice_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_flv_splice_release_pad);

  gst_type_mark_as_plugin_api (GST_TYPE_FLV_SPLICE_PAD,
      static_cast<GstPluginAPIFlags> (0));
  GST_DEBUG_CATEGORY_INIT (gst_flv_splice_debug, "flvsplice", 0,
      "FLV splice with slate");
}

static void
gst_flv_splice_init (GstFlvSplice *self)
{
  auto *priv = new GstFlvSplicePrivate ();
  self->priv = priv;
  priv->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_event_function (priv->srcpad,
      GST_DEBUG_FUNCPTR (gst_flv_splice_src_event));
  gst_pad_set_activatemode_function (priv->srcpad,
      GST_DEBUG_FUNCPTR (gst_flv_splice_src_activate_mode));
  gst_pad_use_fixed_caps (priv->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), priv->srcpad);
}

static void
gst_flv_splice_finalize (GObject *object)
{
  auto *self = GST_FLV_SPLICE (object);
  stop_stall_watch (self);
  for (GstFlvSplicePad *pad : self->priv->pads)
    gst_object_unref (pad);
  for (GstMessage *message : self->priv->messages)
    gst_message_unref (message);
  gst_clear_buffer (&self->priv->current_video_header);
  gst_clear_buffer (&self->priv->current_audio_header);
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static Settings
current_settings (GstFlvSplice *self)
{
  std::lock_guard<std::mutex> lock (self->priv->settings_lock);
  return self->priv->settings;
}

static void
gst_flv_splice_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  auto *self = GST_FLV_SPLICE (object);
  std::lock_guard<std::mutex> lock (self->priv->settings_lock);
  Settings &s = self->priv->settings;
  switch (prop_id) {
    case PROP_TIMEOUT:
      s.timeout = g_value_get_uint (value);
      break;
    case PROP_STALL_TIMEOUT:
      s.stall_timeout = g_value_get_uint (value);
      break;
    case PROP_SLATE_LOCATION:
      s.slate_location = g_value_get_string (value) ?
          g_value_get_string (value) : "";
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
    case PROP_KEYFRAME_INTERVAL:
      s.keyframe_interval = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_flv_splice_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  auto *self = GST_FLV_SPLICE (object);
  auto *priv = self->priv;
  switch (prop_id) {
    case PROP_GAPS: {
      std::lock_guard<std::mutex> lock (priv->lock);
      g_value_set_uint (value, priv->gaps);
      return;
    }
    case PROP_SLATE_TIME: {
      std::lock_guard<std::mutex> lock (priv->lock);
      guint64 ms = priv->slate_ms;
      if (priv->on_slate && priv->last_video > priv->slate_start)
        ms += priv->last_video - priv->slate_start;
      g_value_set_uint64 (value, ms * GST_MSECOND);
      return;
    }
    case PROP_ON_SLATE: {
      std::lock_guard<std::mutex> lock (priv->lock);
      g_value_set_boolean (value, priv->on_slate);
      return;
    }
    default:
      break;
  }
  Settings s = current_settings (self);
  switch (prop_id) {
    case PROP_TIMEOUT:
      g_value_set_uint (value, s.timeout);
      break;
    case PROP_STALL_TIMEOUT:
      g_value_set_uint (value, s.stall_timeout);
      break;
    case PROP_SLATE_LOCATION:
      g_value_set_string (value, s.slate_location.c_str ());
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
    case PROP_KEYFRAME_INTERVAL:
      g_value_set_double (value, s.keyframe_interval);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* ---- Helpers; the state lock is held unless said otherwise ---- */

static void
queue_message (GstFlvSplice *self, GstStructure *structure)
{
  self->priv->messages.push_back (gst_message_new_element (GST_OBJECT (self),
          structure));
}

/* Posts the queued messages. Without the state lock: a bus sync handler
 * may call back into the element. */
static void
post_messages (GstFlvSplice *self)
{
  std::vector<GstMessage *> messages;
  {
    std::lock_guard<std::mutex> lock (self->priv->lock);
    messages.swap (self->priv->messages);
  }
  for (GstMessage *message : messages)
    gst_element_post_message (GST_ELEMENT (self), message);
}

/* The oldest input that has not ended. */
static GstFlvSplicePad *
active_pad (GstFlvSplicePrivate *priv)
{
  for (GstFlvSplicePad *pad : priv->pads) {
    if (!pad->ended)
      return pad;
  }
  return nullptr;
}

static void
forget_pad (GstFlvSplicePrivate *priv, GstFlvSplicePad *pad)
{
  auto found = std::find (priv->pads.begin (), priv->pads.end (), pad);
  if (found == priv->pads.end ())
    return;
  priv->pads.erase (found);
  if (priv->header_owner == pad)
    priv->header_owner = nullptr;
  gst_object_unref (pad);
}

static gint64
clock_now_ts (GstFlvSplicePrivate *priv, Clock::time_point now)
{
  return priv->map_ts + std::chrono::duration_cast<std::chrono::milliseconds> (
      now - priv->map_time).count ();
}

/* The duration (num/den ms) of a generated frame: at the output's recent
 * frame rate, in whole frames per second rounded down, at most fps_n/fps_d.
 * Never a higher rate than the input had: a player that took the stream's
 * frame rate from its start (ffmpeg does) would see two frames in one
 * frame's time. A still picture may be shown at any rate. */
static void
frame_duration (GstFlvSplicePrivate *priv, int fps_n, int fps_d, gint64 *num,
    gint64 *den)
{
  *num = 1000 * fps_d;
  *den = fps_n;
  if (priv->recent_video.size () < 2)
    return;
  gint64 span = priv->recent_video.back () - priv->recent_video.front ();
  if (span <= 0)
    return;
  auto fps = gint64 (double (priv->recent_video.size () - 1) * 1000 / span +
      0.05);
  if (fps >= 1 && fps * fps_d < fps_n) {
    *num = 1000;
    *den = fps;
  }
}

static gint64
slate_video_ts (GstFlvSplicePrivate *priv, guint64 frame)
{
  return priv->slate_video_base + gint64 ((frame * priv->slate_frame_num +
          priv->slate_frame_den / 2) / priv->slate_frame_den);
}

static gint64
slate_audio_ts (GstFlvSplicePrivate *priv, guint64 frame)
{
  return priv->slate_audio_base + gint64 ((frame * AAC_FRAME_SAMPLES * 1000 +
          priv->slate_rate / 2) / priv->slate_rate);
}

/* The slate for the current settings and the last input's audio format,
 * encoding it in the background if nobody has yet. */
static void
request_slate (GstFlvSplice *self)
{
  auto *priv = self->priv;
  Settings s = current_settings (self);
  SlateKey key { s.slate_location, s.width, s.height, s.fps_n, s.fps_d,
    MAX (1, int (s.keyframe_interval * s.fps_n / s.fps_d + 0.5)),
    priv->aac_rate, priv->aac_channels };
  priv->slate = slate_for (key);
}

static void
store_header (GstFlvSplicePad *pad, GstBuffer *tag, guint8 type)
{
  GstBuffer **header = type == flv::TAG_VIDEO ? &pad->video_header :
      &pad->audio_header;
  gst_buffer_replace (header, tag);
}

static void
use_audio_format_of (GstFlvSplicePrivate *priv, GstFlvSplicePad *pad)
{
  int rate, channels;
  if (flv::aac_format (pad->audio_header, &rate, &channels) &&
      aac_format_supported (rate, channels)) {
    priv->aac_rate = rate;
    priv->aac_channels = channels;
  }
}

/* Output bookkeeping for a tag about to be pushed. */
static void
note_output (GstFlvSplicePrivate *priv, guint8 type, gint64 ts,
    gint32 composition_offset = 0)
{
  if (!priv->clock_mapped) {
    priv->clock_mapped = true;
    priv->map_time = Clock::now ();
    priv->map_ts = ts;
  }
  if (type == flv::TAG_VIDEO) {
    gint64 presented = ts + composition_offset;
    if (priv->last_video_presented >= 0 &&
        presented - priv->last_video_presented > 200)
      priv->recent_video.clear ();
    priv->recent_video.push_back (presented);
    if (priv->recent_video.size () > RATE_WINDOW)
      priv->recent_video.pop_front ();
    priv->last_video = ts;
    priv->last_video_presented = MAX (priv->last_video_presented, presented);
  } else if (type == flv::TAG_AUDIO) {
    priv->last_audio = ts;
  }
}

/* The headers now in effect, after a switch (see current_video_header). */
static void
set_current_headers (GstFlvSplicePrivate *priv, GstBuffer *video,
    GstBuffer *audio)
{
  if (video)
    gst_buffer_replace (&priv->current_video_header, video);
  if (audio)
    gst_buffer_replace (&priv->current_audio_header, audio);
  priv->headers_just_sent = true;
}

/* Copies of the current headers to push right before a keyframe at ts, or
 * none (before the first switch, or sent for this keyframe already). */
static void
headers_for_keyframe (GstFlvSplicePrivate *priv, gint64 ts, GstBuffer **video,
    GstBuffer **audio)
{
  *video = *audio = nullptr;
  if (priv->headers_just_sent) {
    priv->headers_just_sent = false;
    return;
  }
  if (priv->current_video_header)
    *video = flv::retimed_copy (priv->current_video_header, ts);
  if (priv->current_audio_header)
    *audio = flv::retimed_copy (priv->current_audio_header,
        MAX (ts, priv->last_audio));
}

static GstFlowReturn
push (GstFlvSplice *self, GstBuffer *buffer, Lock &lock)
{
  lock.unlock ();
  GstFlowReturn ret = gst_pad_push (self->priv->srcpad, buffer);
  lock.lock ();
  return ret;
}

/* A keyframe tag, after the current headers if any. */
static GstFlowReturn
push_keyframe (GstFlvSplice *self, GstBuffer *buffer, gint64 ts, Lock &lock)
{
  GstBuffer *video, *audio;
  headers_for_keyframe (self->priv, ts, &video, &audio);
  GstFlowReturn ret = GST_FLOW_OK;
  if (video)
    ret = push (self, video, lock);
  if (audio && ret == GST_FLOW_OK)
    ret = push (self, audio, lock);
  else if (audio)
    gst_buffer_unref (audio);
  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buffer);
    return ret;
  }
  return push (self, buffer, lock);
}

/* stream-start, the first input's caps (never changed after), a segment. */
static GstFlowReturn
start_output (GstFlvSplice *self, GstFlvSplicePad *pad, Lock &lock)
{
  auto *priv = self->priv;
  GstCaps *caps = gst_pad_get_current_caps (GST_PAD (pad));
  if (!caps)
    return GST_FLOW_NOT_NEGOTIATED;
  priv->output_started = true;
  priv->header_owner = pad;
  lock.unlock ();
  /* Ours, not an input's: gst_pad_create_stream_id wants one sink pad. */
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *stream_id = g_strdup_printf ("flvsplice/%s", uuid);
  gst_pad_push_event (priv->srcpad, gst_event_new_stream_start (stream_id));
  gst_pad_push_event (priv->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (priv->srcpad, gst_event_new_segment (&segment));
  lock.lock ();
  return GST_FLOW_OK;
}

/* reason: "eos" (the input on air ended) or "stall" (it went silent). */
static void
start_slate (GstFlvSplice *self, const char *reason)
{
  auto *priv = self->priv;
  if (!priv->slate)
    request_slate (self);
  Settings s = current_settings (self);
  /* The slate's format is the one encoded; the input's last frame duration
   * spaces the first slate frame from it. */
  priv->running_slate = priv->slate;
  const SlateKey &key = priv->running_slate->key;
  /* At a lower frame rate than encoded, fewer of the GOP's frames are
   * looped: the keyframes stay keyframe-interval apart. */
  frame_duration (priv, key.fps_n, key.fps_d, &priv->slate_frame_num,
      &priv->slate_frame_den);
  gint64 interval_ms = gint64 (key.gop_frames) * 1000 * key.fps_d / key.fps_n;
  priv->slate_loop_frames = MAX (1, interval_ms * priv->slate_frame_den /
      priv->slate_frame_num);
  priv->slate_rate = key.rate;
  priv->slate_lead = priv->last_video >= 0 ?
      MAX (0, priv->last_video_presented - priv->last_video) : 0;
  priv->slate_video_base = priv->last_video >= 0 ? priv->last_video +
      priv->slate_frame_num / priv->slate_frame_den :
      MAX (priv->last_audio, 0);
  priv->slate_audio_base = priv->last_audio >= 0 ? priv->last_audio +
      (AAC_FRAME_SAMPLES * 1000 + priv->slate_rate - 1) / priv->slate_rate :
      priv->slate_video_base;
  priv->slate_video_count = priv->slate_audio_count = 0;
  priv->slate_start = priv->slate_video_base;
  priv->slate_headers_sent = false;

  /* "Now" is at least where the slate starts, and at most MAX_BURST_MS
   * ahead of it. */
  auto now = Clock::now ();
  gint64 start = MIN (priv->slate_video_base, priv->slate_audio_base);
  if (!priv->clock_mapped || clock_now_ts (priv, now) < start) {
    priv->map_time = now;
    priv->map_ts = start;
  } else if (clock_now_ts (priv, now) > start + MAX_BURST_MS) {
    priv->map_time = now;
    priv->map_ts = start + MAX_BURST_MS;
  }
  priv->clock_mapped = true;
  priv->has_deadline = s.timeout > 0;
  priv->deadline = now + std::chrono::seconds (s.timeout);
  priv->on_slate = true;
  priv->gaps++;
  GST_INFO_OBJECT (self, "slate (%s) from %" G_GINT64_FORMAT " ms (audio %"
      G_GINT64_FORMAT " ms), a frame every %" G_GINT64_FORMAT "/%"
      G_GINT64_FORMAT " ms, now is %" G_GINT64_FORMAT " ms", reason,
      priv->slate_video_base, priv->slate_audio_base, priv->slate_frame_num,
      priv->slate_frame_den, clock_now_ts (priv, now));
  queue_message (self, gst_structure_new (GST_FLV_SPLICE_SLATE_MESSAGE_NAME,
          "position", G_TYPE_UINT64, guint64 (priv->slate_start +
              priv->slate_lead) * GST_MSECOND,
          "reason", G_TYPE_STRING, reason, nullptr));
  gst_pad_start_task (priv->srcpad, slate_loop, self, nullptr);
}

/* Stops the slate task (waiting for its push) and returns how long the
 * slate ran, in output milliseconds. Unlocks meanwhile. */
static gint64
stop_slate (GstFlvSplice *self, Lock &lock)
{
  auto *priv = self->priv;
  priv->on_slate = false;
  priv->cond.notify_all ();
  lock.unlock ();
  gst_pad_pause_task (priv->srcpad);
  lock.lock ();
  gint64 gap = slate_video_ts (priv, priv->slate_video_count) -
      priv->slate_start;
  priv->slate_ms += gap;
  return gap;
}

static void
send_eos (GstFlvSplice *self, Lock &lock)
{
  auto *priv = self->priv;
  priv->eos_sent = true;
  if (priv->on_slate)
    stop_slate (self, lock);
  priv->cond.notify_all ();
  GST_INFO_OBJECT (self, "the broadcast is over: EOS");
  lock.unlock ();
  gst_pad_push_event (priv->srcpad, gst_event_new_eos ());
  lock.lock ();
}

/* An input is over (EOS, or its pad released). If it was the active one:
 * the broadcast ends (finish, or timeout=0), a waiting input takes over,
 * or the slate starts. */
static void
end_input (GstFlvSplice *self, GstFlvSplicePad *pad, Lock &lock)
{
  auto *priv = self->priv;
  if (pad->ended)
    return;
  bool was_active = active_pad (priv) == pad;
  pad->ended = TRUE;
  if (!was_active || priv->eos_sent || priv->stopping)
    return;
  GstFlvSplicePad *next = active_pad (priv);
  if (priv->finish) {
    send_eos (self, lock);
  } else if (next && next->waiting) {
    GST_INFO_OBJECT (self, "%s takes over from %s", GST_PAD_NAME (next),
        GST_PAD_NAME (pad));
    priv->cond.notify_all ();
  } else if (!priv->output_started || current_settings (self).timeout == 0) {
    send_eos (self, lock);
  } else if (!priv->on_slate) {
    start_slate (self, "eos");
  }
}

/* A takeover without the slate: the older input's audio often ended before
 * its video (a connection cut mid-recording). The slate's silence fills the
 * audio up to the newer input's start, so no hole opens there. */
static GstFlowReturn
fill_audio_gap (GstFlvSplice *self, gint64 until, Lock &lock)
{
  auto *priv = self->priv;
  std::shared_ptr<const Slate> slate = priv->slate;
  if (priv->last_audio < 0 || !slate)
    return GST_FLOW_OK;
  /* Encoded since the first input's caps came: seldom still under way. */
  auto give_up = Clock::now () + SLATE_WAIT;
  while (!slate->ready && !priv->stopping && Clock::now () < give_up)
    priv->cond.wait_for (lock, SLATE_POLL);
  if (!slate->ready || !slate->error.empty ())
    return GST_FLOW_OK;
  int rate = slate->key.rate;
  gint64 base = priv->last_audio + (AAC_FRAME_SAMPLES * 1000 + rate - 1) /
      rate;
  if (until - base <= AAC_FRAME_SAMPLES * 1000 / rate)
    return GST_FLOW_OK;
  GST_DEBUG_OBJECT (self, "silence from %" G_GINT64_FORMAT " to %"
      G_GINT64_FORMAT " ms", base, until);
  GstFlowReturn ret = push (self, flv::retimed_copy (slate->audio_header,
          base), lock);
  for (guint64 n = 0; ret == GST_FLOW_OK; n++) {
    gint64 ts = base + gint64 ((n * AAC_FRAME_SAMPLES * 1000 + rate / 2) /
        rate);
    if (ts >= until)
      break;
    note_output (priv, flv::TAG_AUDIO, ts);
    ret = push (self, flv::retimed_copy (
            slate->audio[n % slate->audio.size ()], ts), lock);
  }
  return ret;
}

/* The pad's first keyframe: its timestamps from here on continue the
 * output (after the slate, or one frame after the last output frame), and
 * its sequence headers go out first. */
static GstFlowReturn
take_over (GstFlvSplice *self, GstFlvSplicePad *pad, gint64 keyframe_ts,
    gint32 keyframe_offset, Lock &lock)
{
  auto *priv = self->priv;
  /* Decoded after the last picture, presented when the next slate picture
   * would have been, or a frame after the last picture; the audio goes on
   * with silence up to that picture. */
  gint64 position;
  if (priv->on_slate) {
    gint64 gap = stop_slate (self, lock);
    position = MAX (priv->last_video + 1,
        priv->slate_start + gap + priv->slate_lead - keyframe_offset);
    queue_message (self, gst_structure_new (
            GST_FLV_SPLICE_RESUMED_MESSAGE_NAME, "gap", G_TYPE_UINT64,
            guint64 (gap) * GST_MSECOND, nullptr));
    if (priv->stopping || pad->flushing || pad->released)
      return GST_FLOW_FLUSHING;
    if (priv->eos_sent)
      return GST_FLOW_EOS;
  } else {
    Settings s = current_settings (self);
    gint64 num, den;
    frame_duration (priv, s.fps_n, s.fps_d, &num, &den);
    position = priv->last_video >= 0 ? MAX (priv->last_video + 1,
        priv->last_video_presented + num / den - keyframe_offset) :
        priv->last_audio + 1;
  }
  GstFlowReturn filled = fill_audio_gap (self, position + keyframe_offset,
      lock);
  if (filled != GST_FLOW_OK)
    return filled;
  pad->offset = position - keyframe_ts;
  pad->started = TRUE;
  GST_INFO_OBJECT (pad, "%s at %" G_GINT64_FORMAT " ms (its %"
      G_GINT64_FORMAT " ms)", pad->stalled ? "back from its stall" :
      "takes over", position, keyframe_ts);
  pad->stalled = FALSE;
  use_audio_format_of (priv, pad);
  request_slate (self);

  GstBuffer *video = pad->video_header ?
      flv::retimed_copy (pad->video_header, position) : nullptr;
  GstBuffer *audio = pad->audio_header ? flv::retimed_copy (pad->audio_header,
      MAX (position, priv->last_audio)) : nullptr;
  set_current_headers (priv, pad->video_header, pad->audio_header);
  GstFlowReturn ret = GST_FLOW_OK;
  if (video)
    ret = push (self, video, lock);
  if (audio && ret == GST_FLOW_OK)
    ret = push (self, audio, lock);
  else if (audio)
    gst_buffer_unref (audio);
  return ret;
}

/* One buffer of the active input. Takes the buffer. */
static GstFlowReturn
handle_buffer (GstFlvSplice *self, GstFlvSplicePad *pad, GstBuffer *buffer,
    Lock &lock)
{
  auto *priv = self->priv;
  GstFlowReturn ret;
  if (!priv->output_started &&
      (ret = start_output (self, pad, lock)) != GST_FLOW_OK) {
    gst_buffer_unref (buffer);
    return ret;
  }
  flv::Tag tag = flv::parse (buffer);

  /* The first input's stream header (file header, onMetaData, sequence
   * headers) is the output's, as it is. */
  if (pad == priv->header_owner && !pad->started &&
      GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_HEADER)) {
    if (tag.complete && tag.sequence_header)
      store_header (pad, buffer, tag.type);
    return push (self, buffer, lock);
  }
  if (tag.file_header || (tag.complete && (tag.type == flv::TAG_SCRIPT ||
              tag.end_of_sequence))) {
    /* A later input's file header and onMetaData: the first input's stand
     * for the whole output. An input's end of sequence is not the
     * output's. */
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  if (!tag.complete || (tag.type != flv::TAG_VIDEO &&
          tag.type != flv::TAG_AUDIO)) {
    GST_WARNING_OBJECT (pad, "dropping a buffer that is not one FLV audio or "
        "video tag (%" G_GSIZE_FORMAT " bytes)", gst_buffer_get_size (buffer));
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  if (tag.sequence_header) {
    store_header (pad, buffer, tag.type);
    if (!pad->started || pad->stalled) {
      /* Sent right before this input's first keyframe. */
      gst_buffer_unref (buffer);
      return GST_FLOW_OK;
    }
    /* A new decoder configuration mid-stream goes out in-band. */
    gint64 ts = MAX (0, MAX (tag.timestamp + pad->offset,
            tag.type == flv::TAG_VIDEO ? priv->last_video : priv->last_audio));
    set_current_headers (priv, tag.type == flv::TAG_VIDEO ? buffer : nullptr,
        tag.type == flv::TAG_AUDIO ? buffer : nullptr);
    return push (self, flv::retime (buffer, ts), lock);
  }

  /* A stalled input comes back like a newer one taking over. */
  if (!pad->started || pad->stalled) {
    if (!pad->started && priv->last_video < 0 && priv->last_audio < 0 &&
        !priv->on_slate) {
      /* The first input: its timestamps are the output's. */
      pad->started = TRUE;
      pad->offset = 0;
      use_audio_format_of (priv, pad);
    } else if (tag.keyframe) {
      ret = take_over (self, pad, tag.timestamp, tag.composition_offset,
          lock);
      if (ret != GST_FLOW_OK) {
        gst_buffer_unref (buffer);
        return ret;
      }
    } else {
      GST_LOG_OBJECT (pad, "dropping a tag before the first keyframe");
      gst_buffer_unref (buffer);
      return GST_FLOW_OK;
    }
  }

  gint64 ts = tag.timestamp + pad->offset;
  if (tag.type == flv::TAG_AUDIO && (ts < 0 || ts <= priv->last_audio)) {
    GST_LOG_OBJECT (pad, "dropping audio at %" G_GINT64_FORMAT " ms, not "
        "after %" G_GINT64_FORMAT " ms", ts, priv->last_audio);
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  if (tag.type == flv::TAG_VIDEO && ts <= priv->last_video)
    ts = priv->last_video + 1;
  note_output (priv, tag.type, ts, tag.composition_offset);
  if (ts == tag.timestamp) {
    /* Passing through: no need to touch the tag's bytes. */
    buffer = gst_buffer_make_writable (buffer);
    GST_BUFFER_PTS (buffer) = GST_BUFFER_DTS (buffer) = ts * GST_MSECOND;
  } else {
    buffer = flv::retime (buffer, ts);
  }
  if (tag.keyframe)
    return push_keyframe (self, buffer, ts, lock);
  return push (self, buffer, lock);
}

/* Blocks a newer input until it is the active one. */
static GstFlowReturn
wait_for_turn (GstFlvSplice *self, GstFlvSplicePad *pad, Lock &lock)
{
  auto *priv = self->priv;
  while (true) {
    if (priv->stopping || pad->flushing || pad->released)
      return GST_FLOW_FLUSHING;
    if (priv->eos_sent || pad->ended)
      return GST_FLOW_EOS;
    if (active_pad (priv) == pad)
      break;
    if (!pad->waiting)
      GST_DEBUG_OBJECT (pad, "waiting for the older input to end");
    pad->waiting = TRUE;
    priv->cond.wait (lock);
  }
  pad->waiting = FALSE;
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_flv_splice_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  auto *self = GST_FLV_SPLICE (parent);
  auto *priv = self->priv;
  auto *spad = GST_FLV_SPLICE_PAD (pad);
  Lock lock (priv->lock);
  spad->in_chain = TRUE;
  GstFlowReturn ret = wait_for_turn (self, spad, lock);
  if (ret == GST_FLOW_OK) {
    ret = handle_buffer (self, spad, buffer, lock);
    /* The stall watch counts from here: the input is waiting for data. */
    priv->last_delivery = Clock::now ();
  } else {
    gst_buffer_unref (buffer);
  }
  spad->in_chain = FALSE;
  spad->waiting = FALSE;
  if (spad->released) {
    /* Released while in here (see release_pad). */
    end_input (self, spad, lock);
    forget_pad (priv, spad);
  }
  lock.unlock ();
  post_messages (self);
  return ret;
}

/* The AVC and AAC sequence headers in the caps' streamheader. */
static void
store_stream_headers (GstFlvSplicePad *pad, GstCaps *caps)
{
  const GValue *headers = gst_structure_get_value (
      gst_caps_get_structure (caps, 0), "streamheader");
  if (!headers || !GST_VALUE_HOLDS_ARRAY (headers))
    return;
  for (guint i = 0; i < gst_value_array_get_size (headers); i++) {
    const GValue *value = gst_value_array_get_value (headers, i);
    if (!GST_VALUE_HOLDS_BUFFER (value))
      continue;
    GstBuffer *buffer = gst_value_get_buffer (value);
    flv::Tag tag = flv::parse (buffer);
    if (tag.complete && tag.sequence_header)
      store_header (pad, buffer, tag.type);
  }
}

static gboolean
gst_flv_splice_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  auto *self = GST_FLV_SPLICE (parent);
  auto *priv = self->priv;
  auto *spad = GST_FLV_SPLICE_PAD (pad);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      Lock lock (priv->lock);
      store_stream_headers (spad, caps);
      /* The slate is encoded now, before it is needed. */
      if (!priv->slate) {
        use_audio_format_of (priv, spad);
        request_slate (self);
      }
      break;
    }
    case GST_EVENT_EOS: {
      GST_INFO_OBJECT (pad, "EOS");
      /* Before anything it causes (EOS downstream, the slate). */
      gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (
              GST_OBJECT (self), gst_structure_new (
                  GST_FLV_SPLICE_INPUT_ENDED_MESSAGE_NAME, "pad",
                  G_TYPE_STRING, GST_PAD_NAME (pad), nullptr)));
      Lock lock (priv->lock);
      end_input (self, spad, lock);
      lock.unlock ();
      post_messages (self);
      break;
    }
    case GST_EVENT_FLUSH_START: {
      Lock lock (priv->lock);
      spad->flushing = TRUE;
      priv->cond.notify_all ();
      break;
    }
    case GST_EVENT_FLUSH_STOP: {
      Lock lock (priv->lock);
      spad->flushing = FALSE;
      break;
    }
    default:
      /* stream-start, segment, tags...: the output has its own. */
      break;
  }
  gst_event_unref (event);
  return TRUE;
}

static gboolean
gst_flv_splice_src_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_SEEK) {
    gst_event_unref (event);
    return FALSE;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_flv_splice_src_activate_mode (GstPad *pad, GstObject *parent,
    GstPadMode mode, gboolean active)
{
  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (active)
    return TRUE;
  auto *priv = GST_FLV_SPLICE (parent)->priv;
  {
    std::lock_guard<std::mutex> lock (priv->lock);
    priv->stopping = true;
    priv->on_slate = false;
    priv->cond.notify_all ();
  }
  return gst_pad_stop_task (pad);
}

/* The slate task: one tag per iteration when it is due, else a wait until
 * it is (or until the timeout, or a change of state wakes it). */
static void
slate_loop (gpointer data)
{
  auto *self = GST_FLV_SPLICE (data);
  auto *priv = self->priv;
  Lock lock (priv->lock);
  if (!priv->on_slate || priv->stopping) {
    lock.unlock ();
    gst_pad_pause_task (priv->srcpad);
    return;
  }
  auto now = Clock::now ();
  bool timed_out = priv->has_deadline && now >= priv->deadline;
  if (timed_out || (priv->finish && !active_pad (priv))) {
    priv->on_slate = false;
    priv->eos_sent = true;
    priv->slate_ms += slate_video_ts (priv, priv->slate_video_count) -
        priv->slate_start;
    if (timed_out) {
      GST_INFO_OBJECT (self, "no input took over: EOS");
      queue_message (self, gst_structure_new_empty (
              GST_FLV_SPLICE_TIMEOUT_MESSAGE_NAME));
    }
    priv->cond.notify_all ();
    lock.unlock ();
    post_messages (self);
    gst_pad_push_event (priv->srcpad, gst_event_new_eos ());
    gst_pad_pause_task (priv->srcpad);
    return;
  }
  auto wake = priv->has_deadline ? priv->deadline : now + std::chrono::hours (1);
  /* Ours for this iteration: the lock is released to push. */
  std::shared_ptr<const Slate> slate = priv->running_slate;
  if (!slate->ready) {
    priv->cond.wait_until (lock, std::min (now + SLATE_POLL, wake));
    return;
  }
  if (!slate->error.empty ()) {
    priv->on_slate = false;
    lock.unlock ();
    GST_ELEMENT_ERROR (self, CORE, FAILED, ("Cannot make the slate: %s.",
            slate->error.c_str ()), (nullptr));
    gst_pad_pause_task (priv->srcpad);
    return;
  }

  GstFlowReturn ret;
  if (!priv->slate_headers_sent) {
    priv->slate_headers_sent = true;
    bool warn = !slate->warning.empty () && priv->warned != slate->warning;
    priv->warned = slate->warning;
    GstBuffer *video = flv::retimed_copy (slate->video_header,
        priv->slate_video_base);
    GstBuffer *audio = flv::retimed_copy (slate->audio_header,
        priv->slate_audio_base);
    set_current_headers (priv, slate->video_header, slate->audio_header);
    lock.unlock ();
    if (warn)
      GST_ELEMENT_WARNING (self, RESOURCE, READ, ("%s",
              slate->warning.c_str ()), (nullptr));
    ret = gst_pad_push (priv->srcpad, video);
    if (ret == GST_FLOW_OK)
      ret = gst_pad_push (priv->srcpad, audio);
    else
      gst_buffer_unref (audio);
  } else {
    gint64 video_ts = slate_video_ts (priv, priv->slate_video_count);
    gint64 audio_ts = slate_audio_ts (priv, priv->slate_audio_count);
    bool video = video_ts <= audio_ts;
    gint64 ts = video ? video_ts : audio_ts;
    if (ts > clock_now_ts (priv, now)) {
      auto due = priv->map_time + std::chrono::milliseconds (ts -
          priv->map_ts);
      priv->cond.wait_until (lock, std::min (due, wake));
      return;
    }
    GstBuffer *tag;
    GstBuffer *video_header = nullptr, *audio_header = nullptr;
    if (video) {
      size_t frame = priv->slate_video_count++ % MIN (slate->video.size (),
          priv->slate_loop_frames);
      tag = slate->video[frame];
      if (frame == 0)
        headers_for_keyframe (priv, ts, &video_header, &audio_header);
    } else {
      tag = slate->audio[priv->slate_audio_count++ % slate->audio.size ()];
    }
    gint32 lead = video ? gint32 (priv->slate_lead) : 0;
    GstBuffer *out = flv::retimed_copy (tag, ts, lead);
    note_output (priv, video ? flv::TAG_VIDEO : flv::TAG_AUDIO, ts, lead);
    lock.unlock ();
    ret = GST_FLOW_OK;
    for (GstBuffer *header : { video_header, audio_header }) {
      if (header && ret == GST_FLOW_OK)
        ret = gst_pad_push (priv->srcpad, header);
      else if (header)
        gst_buffer_unref (header);
    }
    if (ret == GST_FLOW_OK)
      ret = gst_pad_push (priv->srcpad, out);
    else
      gst_buffer_unref (out);
  }
  if (ret == GST_FLOW_FLUSHING) {
    /* Downstream flushed, or we are stopping (then the next iteration
     * pauses): the slate goes on, and so does its timeout. */
    lock.lock ();
    if (priv->on_slate && !priv->stopping)
      priv->cond.wait_for (lock, SLATE_POLL);
    return;
  }
  if (ret != GST_FLOW_OK) {
    GST_DEBUG_OBJECT (self, "slate paused: %s", gst_flow_get_name (ret));
    if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS)
      GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_pause_task (priv->srcpad);
  }
}

/* Starts the slate when the input on air has delivered nothing for
 * stall-timeout (see GstFlvSplicePrivate::stall_check); returns when to look
 * again. */
static Clock::time_point
check_stall (GstFlvSplice *self)
{
  auto *priv = self->priv;
  Settings s = current_settings (self);
  auto now = Clock::now ();
  /* At least this often: the settings and the state may change. */
  auto next = now + std::chrono::milliseconds (MIN (s.stall_timeout > 0 ?
          s.stall_timeout : 1000, 1000) / 2);
  GstFlvSplicePad *pad = active_pad (priv);
  /* Not while the input's thread is in its chain: blocked downstream is
   * no stall, and it may be pushing. Not before the first audio or video
   * tag (an input starting up: its encoder may take a while). After
   * finish, its EOS is coming. */
  if (!priv->playing || s.stall_timeout == 0 || s.timeout == 0 ||
      (priv->last_video < 0 && priv->last_audio < 0) || priv->on_slate ||
      priv->eos_sent || priv->finish || priv->stopping || !pad ||
      pad->in_chain || pad->stalled)
    return next;
  auto due = priv->last_delivery + std::chrono::milliseconds (s.stall_timeout);
  if (now < due)
    return due;
  GST_INFO_OBJECT (pad, "nothing for %u ms: stalled", s.stall_timeout);
  pad->stalled = TRUE;
  start_slate (self, "stall");
  return next;
}

static gboolean on_stall_check (GstClock *clock, GstClockTime time,
    GstClockID id, gpointer data);

/* Drops the pending wake-up. Called with the lock. */
static void
cancel_stall_check (GstFlvSplicePrivate *priv)
{
  if (priv->stall_check) {
    gst_clock_id_unschedule (priv->stall_check);
    gst_clock_id_unref (priv->stall_check);
    priv->stall_check = nullptr;
  }
}

/* Replaces the pending wake-up. Called with the lock. */
static void
schedule_stall_check (GstFlvSplice *self, Clock::time_point when)
{
  auto *priv = self->priv;
  cancel_stall_check (priv);
  if (priv->stopping)
    return;
  GstClock *clock = gst_system_clock_obtain ();
  auto wait = std::chrono::duration_cast<std::chrono::nanoseconds> (when -
      Clock::now ()).count ();
  priv->stall_check = gst_clock_new_single_shot_id (clock,
      gst_clock_get_time (clock) + GstClockTime (MAX (wait, 0)));
  gst_clock_id_wait_async (priv->stall_check, on_stall_check,
      gst_object_ref (self), gst_object_unref);
  gst_object_unref (clock);
}

/* In the system clock's thread. */
static gboolean
on_stall_check (GstClock *, GstClockTime, GstClockID id, gpointer data)
{
  auto *self = GST_FLV_SPLICE (data);
  auto *priv = self->priv;
  {
    Lock lock (priv->lock);
    /* Replaced or stopped meanwhile. */
    if (priv->stall_check != id || priv->stopping)
      return TRUE;
    schedule_stall_check (self, check_stall (self));
  }
  post_messages (self);
  return TRUE;
}

static void
start_stall_watch (GstFlvSplice *self)
{
  std::lock_guard<std::mutex> lock (self->priv->lock);
  schedule_stall_check (self, Clock::now ());
}

static void
stop_stall_watch (GstFlvSplice *self)
{
  auto *priv = self->priv;
  std::lock_guard<std::mutex> lock (priv->lock);
  priv->stopping = true;
  priv->cond.notify_all ();
  cancel_stall_check (priv);
}

static void
gst_flv_splice_finish (GstFlvSplice *self)
{
  auto *priv = self->priv;
  std::lock_guard<std::mutex> lock (priv->lock);
  GST_INFO_OBJECT (self, "finish: the active input's EOS ends the broadcast");
  priv->finish = true;
  priv->cond.notify_all ();
}

static GstPad *
gst_flv_splice_request_new_pad (GstElement *element, GstPadTemplate *templ,
    const gchar *name, const GstCaps *)
{
  auto *self = GST_FLV_SPLICE (element);
  auto *priv = self->priv;
  std::string pad_name;
  {
    std::lock_guard<std::mutex> lock (priv->lock);
    guint number;
    if (name && sscanf (name, "sink_%u", &number) == 1) {
      for (GstFlvSplicePad *pad : priv->pads) {
        if (g_str_equal (GST_PAD_NAME (pad), name))
          return nullptr;
      }
      priv->next_pad_number = MAX (priv->next_pad_number, number + 1);
    } else {
      number = priv->next_pad_number++;
    }
    pad_name = printf_string ("sink_%u", number);
  }
  GstPad *pad = GST_PAD (g_object_new (GST_TYPE_FLV_SPLICE_PAD, "name",
          pad_name.c_str (), "direction", GST_PAD_SINK, "template", templ,
          nullptr));
  gst_pad_set_chain_function (pad, GST_DEBUG_FUNCPTR (gst_flv_splice_chain));
  gst_pad_set_event_function (pad,
      GST_DEBUG_FUNCPTR (gst_flv_splice_sink_event));
  {
    std::lock_guard<std::mutex> lock (priv->lock);
    priv->pads.push_back (GST_FLV_SPLICE_PAD (gst_object_ref (pad)));
  }
  gst_element_add_pad (element, pad);
  return pad;
}

/* Works at any time: a pad blocked waiting for its turn returns FLUSHING;
 * one that is pushing ends its input when it returns. */
static void
gst_flv_splice_release_pad (GstElement *element, GstPad *pad)
{
  auto *self = GST_FLV_SPLICE (element);
  auto *priv = self->priv;
  auto *spad = GST_FLV_SPLICE_PAD (pad);
  {
    Lock lock (priv->lock);
    spad->released = TRUE;
    priv->cond.notify_all ();
    if (!spad->in_chain) {
      end_input (self, spad, lock);
      forget_pad (priv, spad);
    }
  }
  post_messages (self);
  gst_element_remove_pad (element, pad);
}

static GstStateChangeReturn
gst_flv_splice_change_state (GstElement *element, GstStateChange transition)
{
  auto *self = GST_FLV_SPLICE (element);
  auto *priv = self->priv;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED: {
      Settings s = current_settings (self);
      std::lock_guard<std::mutex> lock (priv->lock);
      priv->stopping = false;
      priv->eos_sent = false;
      priv->output_started = false;
      priv->header_owner = nullptr;
      priv->last_video = priv->last_audio = -1;
      priv->last_video_presented = -1;
      priv->recent_video.clear ();
      priv->clock_mapped = false;
      priv->on_slate = false;
      priv->has_deadline = false;
      priv->gaps = 0;
      priv->slate_ms = 0;
      priv->warned.clear ();
      gst_clear_buffer (&priv->current_video_header);
      gst_clear_buffer (&priv->current_audio_header);
      priv->headers_just_sent = false;
      for (GstFlvSplicePad *pad : priv->pads) {
        pad->waiting = pad->flushing = pad->started = pad->stalled = FALSE;
        pad->ended = pad->released;
        pad->offset = 0;
      }
      break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING: {
      std::lock_guard<std::mutex> lock (priv->lock);
      priv->playing = true;
      priv->last_delivery = Clock::now ();
      priv->cond.notify_all ();
      break;
    }
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED: {
      std::lock_guard<std::mutex> lock (priv->lock);
      priv->playing = false;
      break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_READY: {
      /* Before the pads are deactivated: wakes blocked inputs. */
      std::lock_guard<std::mutex> lock (priv->lock);
      priv->stopping = true;
      priv->on_slate = false;
      /* finish is for one run; it may be called before PLAYING. */
      priv->finish = false;
      priv->cond.notify_all ();
      break;
    }
    default:
      break;
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY ||
      transition == GST_STATE_CHANGE_READY_TO_NULL)
    stop_stall_watch (self);
  /* Deactivating the source pad stops the slate task. */
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED &&
      ret != GST_STATE_CHANGE_FAILURE)
    start_stall_watch (self);
  return ret;
}
