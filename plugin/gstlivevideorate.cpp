/* livevideorate: a constant frame rate without waiting for the next picture.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-livevideorate
 * @title: livevideorate
 *
 * Makes raw video a constant frame rate (#GstLiveVideoRate:framerate), as
 * videorate does, but puts each picture out as soon as it arrives.
 * videorate keeps every picture until the next one comes, to choose the
 * picture closest to each output time; when pictures come in bursts (a
 * browser's MediaRecorder chunk every 250 ms), the last picture of each
 * burst waits for the next burst, and everything behind it waits too.
 *
 * Output times lie on a grid of 1/framerate from the segment's start (or,
 * with #GstLiveVideoRate:skip-to-first, from the first picture). Each
 * picture takes the grid time nearest its own; the times it skipped since
 * the last one are filled with copies of the last picture first (a
 * slower camera), and a picture whose nearest time is already taken is
 * dropped (a faster one). The choice is made without look-ahead: when two
 * pictures are equally near a grid time, the earlier one gets it, where
 * videorate would pick either. A gap over 10 s is not filled: the grid
 * restarts at the picture after it.
 *
 * Copies share the picture's memory. #GstLiveVideoRate:duplicated and
 * #GstLiveVideoRate:dropped count what was filled and dropped.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=camera.webm ! matroskademux ! vp8dec ! \
 *     livevideorate framerate=30/1 ! x264enc tune=zerolatency ! \
 *     flvmux ! filesink location=out.flv
 * ]| A browser's variable frame rate recording as 30 fps H.264.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlivevideorate.h"

#include <atomic>
#include <deque>
#include <mutex>

GST_DEBUG_CATEGORY_STATIC (gst_live_video_rate_debug);
#define GST_CAT_DEFAULT gst_live_video_rate_debug

namespace {

constexpr gint DEFAULT_FPS_N = 30;
constexpr gint DEFAULT_FPS_D = 1;
constexpr gboolean DEFAULT_SKIP_TO_FIRST = FALSE;
/* Longer holes are not filled with copies: after a stream that stopped for
 * that long, a burst of copies would only delay what comes next. */
constexpr GstClockTime MAX_FILL = 10 * GST_SECOND;

enum {
  PROP_0,
  PROP_FRAMERATE,
  PROP_SKIP_TO_FIRST,
  PROP_DUPLICATED,
  PROP_DROPPED,
};

}  // namespace

/* The element's inside. Locking: plugin.cpp's order; this element has
 * only its settings_lock (the streaming state is the streaming thread's
 * alone, the counters are atomics). */
struct GstLiveVideoRatePrivate {
  /* Settings: set in NULL or READY, read when negotiating and streaming;
   * guarded by settings_lock. */
  std::mutex settings_lock;
  gint fps_n = DEFAULT_FPS_N;
  gint fps_d = DEFAULT_FPS_D;
  bool skip_to_first = DEFAULT_SKIP_TO_FIRST;

  /* Streaming thread only: no lock. */
  GstSegment segment;
  /* Time of grid slot 0; none until the first picture of a segment. */
  GstClockTime origin = GST_CLOCK_TIME_NONE;
  /* The first slot no picture has taken. */
  guint64 next_slot = 0;
  /* The last picture put out, for copies. */
  GstBuffer *last = nullptr;
  /* What the last input produced, for generate_output to hand out. */
  std::deque<GstBuffer *> ready;

  /* Statistics (properties): no lock, atomics. */
  std::atomic<guint64> duplicated { 0 };
  std::atomic<guint64> dropped { 0 };
};

struct _GstLiveVideoRate {
  GstBaseTransform parent;
  GstLiveVideoRatePrivate *priv;
};

G_DEFINE_TYPE (GstLiveVideoRate, gst_live_video_rate, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (livevideorate, "livevideorate", GST_RANK_NONE,
    GST_TYPE_LIVE_VIDEO_RATE);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw"));

static void gst_live_video_rate_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec);
static void gst_live_video_rate_get_property (GObject *object, guint prop_id,
    GValue *value, GParamSpec *pspec);
static void gst_live_video_rate_finalize (GObject *object);
static GstCaps *gst_live_video_rate_transform_caps (GstBaseTransform *trans,
    GstPadDirection direction, GstCaps *caps, GstCaps *filter);
static gboolean gst_live_video_rate_sink_event (GstBaseTransform *trans,
    GstEvent *event);
static gboolean gst_live_video_rate_stop (GstBaseTransform *trans);
static GstFlowReturn gst_live_video_rate_submit_input_buffer (
    GstBaseTransform *trans, gboolean is_discont, GstBuffer *input);
static GstFlowReturn gst_live_video_rate_generate_output (
    GstBaseTransform *trans, GstBuffer **outbuf);

static void
gst_live_video_rate_class_init (GstLiveVideoRateClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const auto flags = static_cast<GParamFlags> (G_PARAM_READWRITE |
      G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  const auto read_only = static_cast<GParamFlags> (G_PARAM_READABLE |
      G_PARAM_STATIC_STRINGS);

  gobject_class->set_property = gst_live_video_rate_set_property;
  gobject_class->get_property = gst_live_video_rate_get_property;
  gobject_class->finalize = gst_live_video_rate_finalize;

  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Frame rate",
          "Output frame rate (the src caps' framerate); the input may have "
          "any, or a variable one (0/1)", 1, 1, 1000, 1,
          DEFAULT_FPS_N, DEFAULT_FPS_D, flags));
  g_object_class_install_property (gobject_class, PROP_SKIP_TO_FIRST,
      g_param_spec_boolean ("skip-to-first", "Skip to first",
          "Start the output at the first picture instead of filling from the "
          "segment's start with copies of it (for a stream joined midway)",
          DEFAULT_SKIP_TO_FIRST, flags));
  g_object_class_install_property (gobject_class, PROP_DUPLICATED,
      g_param_spec_uint64 ("duplicated", "Duplicated",
          "Copies put out to fill the grid", 0, G_MAXUINT64, 0, read_only));
  g_object_class_install_property (gobject_class, PROP_DROPPED,
      g_param_spec_uint64 ("dropped", "Dropped",
          "Pictures dropped because their grid time was taken", 0,
          G_MAXUINT64, 0, read_only));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Live video rate", "Filter/Effect/Video",
      "Constant frame rate by dropping and copying pictures, each put out "
      "as soon as it arrives",
      "wsrtmp");

  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_live_video_rate_transform_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_live_video_rate_sink_event);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_live_video_rate_stop);
  trans_class->submit_input_buffer =
      GST_DEBUG_FUNCPTR (gst_live_video_rate_submit_input_buffer);
  trans_class->generate_output =
      GST_DEBUG_FUNCPTR (gst_live_video_rate_generate_output);

  GST_DEBUG_CATEGORY_INIT (gst_live_video_rate_debug, "livevideorate", 0,
      "Constant frame rate without look-ahead");
}

static void
gst_live_video_rate_init (GstLiveVideoRate *self)
{
  self->priv = new GstLiveVideoRatePrivate ();
  gst_segment_init (&self->priv->segment, GST_FORMAT_TIME);
}

/* Forgets the grid: the next picture starts a new one. */
static void
reset_grid (GstLiveVideoRatePrivate *priv)
{
  priv->origin = GST_CLOCK_TIME_NONE;
  priv->next_slot = 0;
  gst_clear_buffer (&priv->last);
}

static void
drop_ready (GstLiveVideoRatePrivate *priv)
{
  for (GstBuffer *buffer : priv->ready)
    gst_buffer_unref (buffer);
  priv->ready.clear ();
}

static void
gst_live_video_rate_finalize (GObject *object)
{
  auto *self = GST_LIVE_VIDEO_RATE (object);
  reset_grid (self->priv);
  drop_ready (self->priv);
  delete self->priv;
  G_OBJECT_CLASS (gst_live_video_rate_parent_class)->finalize (object);
}

static void
gst_live_video_rate_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstLiveVideoRatePrivate *priv = GST_LIVE_VIDEO_RATE (object)->priv;
  std::lock_guard<std::mutex> lock (priv->settings_lock);
  switch (prop_id) {
    case PROP_FRAMERATE:
      priv->fps_n = gst_value_get_fraction_numerator (value);
      priv->fps_d = gst_value_get_fraction_denominator (value);
      break;
    case PROP_SKIP_TO_FIRST:
      priv->skip_to_first = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_live_video_rate_get_property (GObject *object, guint prop_id,
    GValue *value, GParamSpec *pspec)
{
  GstLiveVideoRatePrivate *priv = GST_LIVE_VIDEO_RATE (object)->priv;
  std::lock_guard<std::mutex> lock (priv->settings_lock);
  switch (prop_id) {
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, priv->fps_n, priv->fps_d);
      break;
    case PROP_SKIP_TO_FIRST:
      g_value_set_boolean (value, priv->skip_to_first);
      break;
    case PROP_DUPLICATED:
      g_value_set_uint64 (value, priv->duplicated);
      break;
    case PROP_DROPPED:
      g_value_set_uint64 (value, priv->dropped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* Downstream gets the configured frame rate; upstream may send any. */
static GstCaps *
gst_live_video_rate_transform_caps (GstBaseTransform *trans,
    GstPadDirection direction, GstCaps *caps, GstCaps *filter)
{
  GstLiveVideoRatePrivate *priv = GST_LIVE_VIDEO_RATE (trans)->priv;
  gint fps_n, fps_d;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    fps_n = priv->fps_n;
    fps_d = priv->fps_d;
  }

  GstCaps *result = gst_caps_copy (caps);
  for (guint i = 0; i < gst_caps_get_size (result); i++) {
    GstStructure *s = gst_caps_get_structure (result, i);
    if (direction == GST_PAD_SINK)
      gst_structure_set (s, "framerate", GST_TYPE_FRACTION, fps_n, fps_d,
          nullptr);
    else
      gst_structure_set (s, "framerate", GST_TYPE_FRACTION_RANGE, 0, 1,
          G_MAXINT, 1, nullptr);
  }
  result = gst_caps_simplify (result);
  if (filter) {
    GstCaps *intersection = gst_caps_intersect_full (filter, result,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (result);
    result = intersection;
  }
  return result;
}

static gboolean
gst_live_video_rate_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstLiveVideoRatePrivate *priv = GST_LIVE_VIDEO_RATE (trans)->priv;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &priv->segment);
      reset_grid (priv);
      break;
    case GST_EVENT_FLUSH_STOP:
      reset_grid (priv);
      drop_ready (priv);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (gst_live_video_rate_parent_class)->
      sink_event (trans, event);
}

static gboolean
gst_live_video_rate_stop (GstBaseTransform *trans)
{
  GstLiveVideoRatePrivate *priv = GST_LIVE_VIDEO_RATE (trans)->priv;
  reset_grid (priv);
  drop_ready (priv);
  gst_segment_init (&priv->segment, GST_FORMAT_TIME);
  return TRUE;
}

/* A picture put out at a grid time: its own buffer, or a copy sharing its
 * memory. */
static GstBuffer *
at_slot (GstBuffer *picture, GstClockTime time, GstClockTime duration,
    bool copy)
{
  GstBuffer *out = copy ? gst_buffer_copy (picture) : picture;
  GST_BUFFER_PTS (out) = time;
  GST_BUFFER_DTS (out) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (out) = duration;
  if (copy)
    GST_BUFFER_FLAG_UNSET (out, GST_BUFFER_FLAG_DISCONT);
  return out;
}

static GstFlowReturn
gst_live_video_rate_submit_input_buffer (GstBaseTransform *trans,
    gboolean is_discont, GstBuffer *input)
{
  GstLiveVideoRatePrivate *priv = GST_LIVE_VIDEO_RATE (trans)->priv;
  gint fps_n, fps_d;
  bool skip_to_first;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    fps_n = priv->fps_n;
    fps_d = priv->fps_d;
    skip_to_first = priv->skip_to_first;
  }
  auto slot_time = [&] (guint64 slot) {
    return priv->origin + gst_util_uint64_scale (slot,
        (guint64) fps_d * GST_SECOND, fps_n);
  };
  const GstClockTime period = gst_util_uint64_scale (1,
      (guint64) fps_d * GST_SECOND, fps_n);

  GstClockTime pts = GST_BUFFER_PTS (input);
  if (!GST_CLOCK_TIME_IS_VALID (pts))
    pts = GST_CLOCK_TIME_IS_VALID (priv->origin) ?
        slot_time (priv->next_slot) : priv->segment.start;

  if (GST_CLOCK_TIME_IS_VALID (priv->origin)) {
    GstClockTime next = slot_time (priv->next_slot);
    bool far_behind = pts + MAX_FILL < next;
    bool far_ahead = pts > next + MAX_FILL;
    if (far_behind || far_ahead) {
      GST_INFO_OBJECT (trans, "picture at %" GST_TIME_FORMAT " is over %"
          GST_TIME_FORMAT " from the next output time %" GST_TIME_FORMAT
          ": restarting the grid there", GST_TIME_ARGS (pts),
          GST_TIME_ARGS (MAX_FILL), GST_TIME_ARGS (next));
      reset_grid (priv);
      skip_to_first = true;
    }
  }
  if (!GST_CLOCK_TIME_IS_VALID (priv->origin)) {
    bool from_segment_start = !skip_to_first &&
        priv->segment.format == GST_FORMAT_TIME &&
        GST_CLOCK_TIME_IS_VALID (priv->segment.start) &&
        priv->segment.start <= pts && pts - priv->segment.start <= MAX_FILL;
    priv->origin = from_segment_start ? priv->segment.start : pts;
    priv->next_slot = 0;
  }

  /* The slot nearest the picture (ties go to the later slot). */
  if (pts + period / 2 < priv->origin) {
    priv->dropped++;
    gst_buffer_unref (input);
    return GST_FLOW_OK;
  }
  guint64 nearest = gst_util_uint64_scale (pts + period / 2 - priv->origin,
      fps_n, (guint64) fps_d * GST_SECOND);
  if (nearest < priv->next_slot) {
    GST_LOG_OBJECT (trans, "dropping the picture at %" GST_TIME_FORMAT
        ": its output time is taken", GST_TIME_ARGS (pts));
    priv->dropped++;
    /* Copies after it show the newest picture. */
    gst_buffer_replace (&priv->last, input);
    gst_buffer_unref (input);
    return GST_FLOW_OK;
  }

  GstBuffer *fill = priv->last ? priv->last : input;
  for (; priv->next_slot < nearest; priv->next_slot++) {
    priv->ready.push_back (at_slot (fill, slot_time (priv->next_slot),
            period, true));
    priv->duplicated++;
  }
  GstBuffer *out = at_slot (gst_buffer_make_writable (input),
      slot_time (nearest), period, false);
  if (is_discont)
    GST_BUFFER_FLAG_SET (out, GST_BUFFER_FLAG_DISCONT);
  gst_buffer_replace (&priv->last, out);
  priv->ready.push_back (out);
  priv->next_slot = nearest + 1;
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_live_video_rate_generate_output (GstBaseTransform *trans,
    GstBuffer **outbuf)
{
  GstLiveVideoRatePrivate *priv = GST_LIVE_VIDEO_RATE (trans)->priv;
  *outbuf = nullptr;
  if (!priv->ready.empty ()) {
    *outbuf = priv->ready.front ();
    priv->ready.pop_front ();
  }
  return GST_FLOW_OK;
}
