/* flvencodebin's H.264 passthrough with fallback (see h264switch.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "h264switch.h"

#include <algorithm>
#include <utility>
#include <vector>

#define GST_CAT_DEFAULT gst_flv_encode_bin_debug

namespace wsrtmp {

namespace {

constexpr const char *VIDEO_PASSTHROUGH =
    "h264parse ! capsfilter caps=video/x-h264,stream-format=avc,alignment=au";

/* A picture's time: its PTS, or its DTS without one. */
GstClockTime
picture_time (GstBuffer *buffer)
{
  return GST_BUFFER_PTS_IS_VALID (buffer) ? GST_BUFFER_PTS (buffer) :
      GST_BUFFER_DTS (buffer);
}

/* Holds the fallback's output until gate_passthrough_output releases it. */
GstPadProbeReturn
hold_fallback_output (GstPad *, GstPadProbeInfo *, gpointer)
{
  return GST_PAD_PROBE_OK;
}

}  // namespace

int
passed_frame_rate (GstBufferList *gop, int fps_n, int fps_d)
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
  return fps >= 1 && (gint64) fps * fps_d < fps_n ? fps : 0;
}

/* ---- The rule */

H264SwitchDecision::H264SwitchDecision (int width, int height,
    double keyframe_interval)
  : width_ (width), height_ (height), keyframe_interval_ (keyframe_interval),
    max_gap_ ((GstClockTime) (keyframe_interval * KEYFRAME_TOLERANCE *
            GST_SECOND))
{
}

std::string
H264SwitchDecision::size_reason (int width, int height, int out_width,
    int out_height)
{
  return printf_string ("input size %dx%d is not the output size %dx%d",
      width, height, out_width, out_height);
}

void
H264SwitchDecision::input_size (int width, int height)
{
  if (width == 0 || height == 0 || transcoding_ || switch_pending_)
    return;
  /* Passing through keeps the input size: only the output size will do,
   * for the whole broadcast. */
  if (width != width_ || height != height_) {
    switch_pending_ = true;
    switch_reason_ = size_reason (width, height, width_, height_);
  }
}

H264SwitchDecision::Verdict
H264SwitchDecision::picture (GstBuffer *buffer)
{
  Verdict verdict;
  if (transcoding_)
    return verdict;
  GstClockTime pts = picture_time (buffer);
  bool keyframe = !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  /* The next picture is expected a frame later: as far as this one came
   * after the previous one, or its duration if that is longer. */
  GstClockTime frame = GST_BUFFER_DURATION_IS_VALID (buffer) ?
      GST_BUFFER_DURATION (buffer) : 0;
  if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (last_pts_) &&
      pts > last_pts_)
    frame = std::max (frame, pts - last_pts_);

  if (keyframe) {
    if (switch_pending_) {
      transcoding_ = verdict.now = true;
      verdict.reason = switch_reason_;
    } else {
      /* A new picture group: what came before is no longer needed. */
      gst_clear_buffer_list (&gop_);
      gop_ = gst_buffer_list_new ();
    }
    last_keyframe_ = pts;
  } else if (!switch_pending_ && GST_CLOCK_TIME_IS_VALID (pts)) {
    if (!GST_CLOCK_TIME_IS_VALID (last_keyframe_)) {
      last_keyframe_ = pts;
    } else if (pts + frame > last_keyframe_ + max_gap_) {
      /* The next picture would come too late: this one is the last that
       * keeps the gap short enough, and the first one transcoded. */
      transcoding_ = verdict.now = verdict.keyframe_late = true;
      verdict.gop = std::exchange (gop_, nullptr);
      verdict.reason = printf_string ("input keyframes are more than "
          "%.1f s apart", keyframe_interval_);
    }
  }
  if (transcoding_) {
    switch_position_ = decoding_position (buffer);
    gst_clear_buffer_list (&gop_);
  } else {
    if (gop_)
      gst_buffer_list_add (gop_, gst_buffer_ref (buffer));
    if (GST_CLOCK_TIME_IS_VALID (pts) && (!GST_CLOCK_TIME_IS_VALID (
                passed_until_) || pts > passed_until_))
      passed_until_ = pts;
  }
  if (GST_CLOCK_TIME_IS_VALID (pts))
    last_pts_ = pts;
  return verdict;
}

/* ---- The switch in the pipeline */

bool
H264Switch::possible (const EncodeSettings &s, GstCaps *caps,
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
    why_not = H264SwitchDecision::size_reason (width, height, s.width,
        s.height);
    return false;
  }
  return true;
}

H264Switch::H264Switch (GstElement *bin, EncodeSettings settings,
    ModeChanged mode_changed)
  : bin_ (bin), settings_ (std::move (settings)),
    mode_changed_ (std::move (mode_changed)),
    decision_ (settings_.width, settings_.height, settings_.keyframe_interval)
{
}

std::shared_ptr<H264Switch>
H264Switch::build (GstElement *bin, EncodeSettings settings,
    ModeChanged mode_changed, GstElement **entry, GstElement **exit)
{
  GstElement *tee = gst_element_factory_make ("tee", nullptr);
  GstElement *funnel = gst_element_factory_make ("funnel", nullptr);
  if (!tee || !funnel) {
    gst_clear_object (&tee);
    gst_clear_object (&funnel);
    GST_ELEMENT_ERROR (bin, CORE, MISSING_PLUGIN,
        ("tee and funnel (GStreamer core) are missing."), (nullptr));
    return nullptr;
  }
  gst_bin_add_many (GST_BIN (bin), tee, funnel, nullptr);
  gst_element_sync_state_with_parent (tee);
  gst_element_sync_state_with_parent (funnel);

  GstElement *pass = add_bin (bin, VIDEO_PASSTHROUGH);
  if (!pass)
    return nullptr;

  g_autoptr (GstPad) tee_sink = gst_element_get_static_pad (tee, "sink");
  if (!link_elements (bin, tee, "src_%u", pass, "sink") ||
      !link_elements (bin, pass, "src", funnel, "sink_%u"))
    return nullptr;
  auto h264 = std::make_shared<H264Switch> (bin, std::move (settings),
      std::move (mode_changed));
  h264->tee_ = tee;
  h264->funnel_ = funnel;

  add_probe_with (tee_sink, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      watch_input, h264);
  g_autoptr (GstPad) pass_src = gst_element_get_static_pad (pass, "src");
  add_probe_with (pass_src, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      gate_passthrough_output, h264);
  *entry = tee;
  *exit = funnel;
  return h264;
}

void
H264Switch::clear ()
{
  GstPad *output;
  {
    std::lock_guard<std::mutex> lock (lock_);
    decision_.clear ();
    output = std::exchange (fallback_output_, nullptr);
    fallback_block_ = 0;
  }
  gst_clear_object (&output);
}

/* The tee's input: the rule, and the switch when it says so. */
GstPadProbeReturn
H264Switch::watch_input (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  H264Switch &self = probe_object<H264Switch> (data);

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      int width = 0, height = 0;
      GstStructure *s = gst_caps_get_structure (caps, 0);
      gst_structure_get_int (s, "width", &width);
      gst_structure_get_int (s, "height", &height);
      std::lock_guard<std::mutex> lock (self.lock_);
      self.decision_.input_size (width, height);
    }
    return GST_PAD_PROBE_OK;
  }

  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  H264SwitchDecision::Verdict verdict;
  {
    std::lock_guard<std::mutex> lock (self.lock_);
    verdict = self.decision_.picture (buffer);
  }
  if (!verdict.now)
    return GST_PAD_PROBE_OK;
  if (verdict.keyframe_late)
    GST_WARNING_OBJECT (self.bin_, "%s: transcoding from %" GST_TIME_FORMAT
        " on", verdict.reason.c_str (), GST_TIME_ARGS (picture_time (buffer)));
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (!caps) {
    gst_clear_buffer_list (&verdict.gop);
    return GST_PAD_PROBE_DROP;
  }
  if (!self.add_fallback (caps, verdict.gop))
    return GST_PAD_PROBE_DROP;  /* an error is posted */
  self.mode_changed_ ("transcode", verdict.reason);
  return GST_PAD_PROBE_OK;
}

/* Lets the fallback's output go (see hold_fallback_output). */
void
H264Switch::release_fallback_output ()
{
  GstPad *output;
  gulong block;
  {
    std::lock_guard<std::mutex> lock (lock_);
    output = std::exchange (fallback_output_, nullptr);
    block = std::exchange (fallback_block_, 0);
  }
  if (output) {
    gst_pad_remove_probe (output, block);
    gst_object_unref (output);
  }
}

/* The passthrough branch's output: everything until the switch. The
 * buffer after its last picture (or its EOS) releases the fallback; caps
 * after that belong to a stream it no longer carries. */
GstPadProbeReturn
H264Switch::gate_passthrough_output (GstPad *, GstPadProbeInfo *info,
    gpointer data)
{
  H264Switch &self = probe_object<H264Switch> (data);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
      self.release_fallback_output ();
    } else if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      std::lock_guard<std::mutex> lock (self.lock_);
      if (self.passthrough_ended_)
        return GST_PAD_PROBE_DROP;
    }
    return GST_PAD_PROBE_OK;
  }
  GstClockTime position = decoding_position (GST_PAD_PROBE_INFO_BUFFER (info));
  {
    std::lock_guard<std::mutex> lock (self.lock_);
    if (!self.decision_.transcoding () ||
        !GST_CLOCK_TIME_IS_VALID (position) ||
        position < self.decision_.switch_position ())
      return GST_PAD_PROBE_OK;
    self.passthrough_ended_ = true;
  }
  self.release_fallback_output ();
  return GST_PAD_PROBE_DROP;
}

/* The decoder catches up from the last keyframe: what was passed through
 * goes no further. Decoded pictures come in presentation order, so the
 * first one after that starts the rest. */
GstPadProbeReturn
H264Switch::drop_passed_pictures (GstPad *, GstPadProbeInfo *info,
    gpointer data)
{
  H264Switch &self = probe_object<H264Switch> (data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  std::lock_guard<std::mutex> lock (self.lock_);
  GstClockTime passed_until = self.decision_.passed_until ();
  if (GST_CLOCK_TIME_IS_VALID (passed_until) &&
      GST_BUFFER_PTS_IS_VALID (buffer) &&
      GST_BUFFER_PTS (buffer) <= passed_until)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_REMOVE;
}

/* The fallback: decoder and encoder. Runs in the streaming thread, before
 * the tee pushes the switch picture, so the new branch receives it after
 * the kept ones (gop, taken). It encodes at the frame rate passed through
 * so far when that is lower than the settings': a player takes the rate
 * from the stream's start, and a 20 fps stream that went on at 30 made
 * ffmpeg warn of repeated timestamps. */
bool
H264Switch::add_fallback (GstCaps *caps, GstBufferList *gop)
{
  EncodeSettings settings = settings_;
  if (int fps = passed_frame_rate (gop, settings.fps_n, settings.fps_d)) {
    GST_INFO_OBJECT (bin_, "transcoding at the %d fps passed through so far",
        fps);
    settings.fps_n = fps;
    settings.fps_d = 1;
  }
  GstElement *encoded = nullptr;
  GstElement *entry = add_decode_branch (bin_, caps,
      video_transcode_description (settings, true), settings.codec_threads,
      &encoded, true);
  if (!entry) {
    gst_clear_buffer_list (&gop);
    return false;
  }
  GST_DEBUG_OBJECT (bin_, "the decoder catches up with %u pictures",
      gop ? gst_buffer_list_length (gop) : 0);

  g_autoptr (GstPad) decoded = gst_element_get_static_pad (encoded, "sink");
  add_probe_with (decoded, GST_PAD_PROBE_TYPE_BUFFER, drop_passed_pictures,
      shared_from_this ());
  GstPad *output = gst_element_get_static_pad (encoded, "src");
  gulong block = gst_pad_add_probe (output,
      GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM, hold_fallback_output, nullptr,
      nullptr);
  {
    std::lock_guard<std::mutex> lock (lock_);
    fallback_output_ = output;
    fallback_block_ = block;
  }

  g_autoptr (GstPad) tee_src = gst_element_request_pad_simple (tee_, "src_%u");
  g_autoptr (GstPad) entry_sink = gst_element_get_static_pad (entry, "sink");
  if (!link_elements (bin_, encoded, "src", funnel_, "sink_%u") ||
      !link_pads (bin_, tee_src, entry_sink)) {
    gst_clear_buffer_list (&gop);
    return false;
  }
  /* The tee gave its new pad the stream's sticky events; they go first. */
  return !gop || gst_pad_push_list (tee_src, gop) >= GST_FLOW_OK;
}

}  // namespace wsrtmp
