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

#include "flvsplicer.h"
#include "flvsplicestate.h"
#include "gstflvsplicepad.h"

/* Not static: the splice (flvsplicer.cpp) and the slate's encoder
 * (flvslate.cpp) log in it too. */
GST_DEBUG_CATEGORY (gst_flv_splice_debug);
#define GST_CAT_DEFAULT gst_flv_splice_debug

using wsrtmp::Settings;
using wsrtmp::SettingsLock;
using wsrtmp::Splicer;
/* The properties' defaults. */
using wsrtmp::DEFAULT_FPS_D;
using wsrtmp::DEFAULT_FPS_N;
using wsrtmp::DEFAULT_HEIGHT;
using wsrtmp::DEFAULT_KEYFRAME_INTERVAL;
using wsrtmp::DEFAULT_STALL_TIMEOUT;
using wsrtmp::DEFAULT_TIMEOUT;
using wsrtmp::DEFAULT_WIDTH;

namespace {

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

}  // namespace

/* The element's inside. Locking: plugin.cpp's order, settings, then the
 * splicer's state_lock (flvsplicer.h says how it keeps it). */
struct GstFlvSplicePrivate {
  explicit GstFlvSplicePrivate (GstFlvSplice *self);

  GstPad *srcpad;               /* set in _init, then constant */
  SettingsLock settings;        /* guarded by its own lock, settings_lock */
  Splicer splicer;              /* guarded by its own lock, state_lock */
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

GstFlvSplicePrivate::GstFlvSplicePrivate (GstFlvSplice *self)
  : srcpad (gst_pad_new_from_static_template (&src_template, "src")),
    splicer (GST_ELEMENT (self), srcpad, settings)
{
}

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
  auto *priv = new GstFlvSplicePrivate (self);
  self->priv = priv;
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
  self->priv->splicer.stop_stall_watch ();
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_flv_splice_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  auto *self = GST_FLV_SPLICE (object);
  self->priv->settings.change ([&] (Settings &s) {
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
  });
}

static void
gst_flv_splice_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  auto *self = GST_FLV_SPLICE (object);
  Splicer &splicer = self->priv->splicer;
  Settings s = self->priv->settings.copy ();
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
    case PROP_GAPS:
      g_value_set_uint (value, splicer.gaps ());
      break;
    case PROP_SLATE_TIME:
      g_value_set_uint64 (value, splicer.slate_time_ns ());
      break;
    case PROP_ON_SLATE:
      g_value_set_boolean (value, splicer.on_slate ());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static GstFlowReturn
gst_flv_splice_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  return GST_FLV_SPLICE (parent)->priv->splicer.chain (
      GST_FLV_SPLICE_PAD (pad), buffer);
}

static gboolean
gst_flv_splice_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  Splicer &splicer = GST_FLV_SPLICE (parent)->priv->splicer;
  auto *spad = GST_FLV_SPLICE_PAD (pad);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      splicer.caps (spad, caps);
      break;
    }
    case GST_EVENT_EOS:
      splicer.eos (spad);
      break;
    case GST_EVENT_FLUSH_START:
      splicer.flush (spad, true);
      break;
    case GST_EVENT_FLUSH_STOP:
      splicer.flush (spad, false);
      break;
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
  GST_FLV_SPLICE (parent)->priv->splicer.stop ();
  return gst_pad_stop_task (pad);
}

static void
gst_flv_splice_finish (GstFlvSplice *self)
{
  self->priv->splicer.finish ();
}

static GstPad *
gst_flv_splice_request_new_pad (GstElement *element, GstPadTemplate *templ,
    const gchar *name, const GstCaps *)
{
  Splicer &splicer = GST_FLV_SPLICE (element)->priv->splicer;
  g_autofree gchar *pad_name = splicer.new_pad_name (name);
  if (!pad_name)
    return nullptr;
  GstPad *pad = GST_PAD (g_object_new (GST_TYPE_FLV_SPLICE_PAD, "name",
          pad_name, "direction", GST_PAD_SINK, "template", templ, nullptr));
  gst_pad_set_chain_function (pad, GST_DEBUG_FUNCPTR (gst_flv_splice_chain));
  gst_pad_set_event_function (pad,
      GST_DEBUG_FUNCPTR (gst_flv_splice_sink_event));
  splicer.add_pad (GST_FLV_SPLICE_PAD (pad));
  gst_element_add_pad (element, pad);
  return pad;
}

static void
gst_flv_splice_release_pad (GstElement *element, GstPad *pad)
{
  GST_FLV_SPLICE (element)->priv->splicer.release_pad (
      GST_FLV_SPLICE_PAD (pad));
  gst_element_remove_pad (element, pad);
}

static GstStateChangeReturn
gst_flv_splice_change_state (GstElement *element, GstStateChange transition)
{
  Splicer &splicer = GST_FLV_SPLICE (element)->priv->splicer;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      splicer.reset ();
      break;
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
      splicer.set_playing (true);
      break;
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      splicer.set_playing (false);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* Before the pads are deactivated: wakes blocked inputs. */
      splicer.end_run ();
      break;
    default:
      break;
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY ||
      transition == GST_STATE_CHANGE_READY_TO_NULL)
    splicer.stop_stall_watch ();
  /* Deactivating the source pad stops the slate task. */
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED &&
      ret != GST_STATE_CHANGE_FAILURE)
    splicer.start_stall_watch ();
  return ret;
}
