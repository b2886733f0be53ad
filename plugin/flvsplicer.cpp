/* The splice, flvsplice's inside (see flvsplicer.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "flvsplicer.h"

#include "flvtag.h"
#include "gstflvsplice.h"

#include <algorithm>
#include <chrono>

GST_DEBUG_CATEGORY_EXTERN (gst_flv_splice_debug);
#define GST_CAT_DEFAULT gst_flv_splice_debug

namespace wsrtmp {

namespace {

/* While the slate is not encoded yet, look again this often. */
constexpr auto SLATE_POLL = std::chrono::milliseconds (50);
/* How long a takeover waits for the slate's silence to be encoded. */
constexpr auto SLATE_WAIT = std::chrono::seconds (10);

/* Pushes the buffers in order (NULL ones skipped) while the flow is OK,
 * dropping the rest. Without state_lock. */
GstFlowReturn
push_in_order (GstPad *srcpad, std::initializer_list<GstBuffer *> buffers)
{
  GstFlowReturn ret = GST_FLOW_OK;
  for (GstBuffer *buffer : buffers) {
    if (buffer && ret == GST_FLOW_OK)
      ret = gst_pad_push (srcpad, buffer);
    else if (buffer)
      gst_buffer_unref (buffer);
  }
  return ret;
}

}  // namespace

Splicer::Splicer (GstElement *element, GstPad *srcpad,
    const SettingsLock &settings)
  : element_ (element), srcpad_ (srcpad), settings_ (settings)
{
}

/* ---- Helpers; state_lock_ is held unless said otherwise ---- */

void
Splicer::queue_message (GstStructure *structure)
{
  state_.messages.push_back (gst_message_new_element (GST_OBJECT (element_),
          structure));
}

/* Without state_lock_: a bus sync handler may call back into the element. */
void
Splicer::post_messages ()
{
  std::vector<GstMessage *> messages;
  {
    std::lock_guard<std::mutex> lock (state_lock_);
    messages.swap (state_.messages);
  }
  for (GstMessage *message : messages)
    gst_element_post_message (element_, message);
}

/* The slate for the settings and the last input's audio format, encoding
 * it in the background if nobody has yet. */
void
Splicer::request_slate (const Settings &s)
{
  state_.slate = slate_for (s.slate_key (state_.aac.rate,
          state_.aac.channels));
}

GstFlowReturn
Splicer::push (std::initializer_list<GstBuffer *> buffers, Lock &lock)
{
  lock.unlock ();
  GstFlowReturn ret = push_in_order (srcpad_, buffers);
  lock.lock ();
  return ret;
}

/* A keyframe tag, after the current headers if any. */
GstFlowReturn
Splicer::push_keyframe (GstBuffer *buffer, gint64 ts, Lock &lock)
{
  GstBuffer *video, *audio;
  state_.headers.for_keyframe (ts, state_.timeline.last_audio, &video,
      &audio);
  return push ({ video, audio, buffer }, lock);
}

/* stream-start, the first input's caps (never changed after), a segment. */
GstFlowReturn
Splicer::start_output (GstFlvSplicePad *pad, Lock &lock)
{
  GstCaps *caps = gst_pad_get_current_caps (GST_PAD (pad));
  if (!caps)
    return GST_FLOW_NOT_NEGOTIATED;
  state_.output = Output::Inputs;
  state_.header_owner = pad;
  lock.unlock ();
  /* Ours, not an input's: gst_pad_create_stream_id wants one sink pad. */
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *stream_id = g_strdup_printf ("flvsplice/%s", uuid);
  gst_pad_push_event (srcpad_, gst_event_new_stream_start (stream_id));
  gst_pad_push_event (srcpad_, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (srcpad_, gst_event_new_segment (&segment));
  lock.lock ();
  return GST_FLOW_OK;
}

/* reason: "eos" (the input on air ended) or "stall" (it went silent). */
void
Splicer::start_slate (const Settings &s, const char *reason)
{
  SlateRun &run = state_.slate_run;
  if (!state_.slate)
    request_slate (s);
  auto now = Clock::now ();
  run.begin (state_.slate, state_.timeline, s.timeout, now);
  state_.timeline.tie_clock_for_slate (MIN (run.video_base, run.audio_base),
      now);
  state_.output = Output::Slate;
  state_.gaps++;
  GST_INFO_OBJECT (element_, "slate (%s) from %" G_GINT64_FORMAT " ms (audio %"
      G_GINT64_FORMAT " ms), a frame every %" G_GINT64_FORMAT "/%"
      G_GINT64_FORMAT " ms, now is %" G_GINT64_FORMAT " ms", reason,
      run.video_base, run.audio_base, run.frame_num, run.frame_den,
      state_.timeline.now_ts (now));
  queue_message (gst_structure_new (GST_FLV_SPLICE_SLATE_MESSAGE_NAME,
          "position", G_TYPE_UINT64, guint64 (run.start + run.lead) *
          GST_MSECOND, "reason", G_TYPE_STRING, reason, nullptr));
  gst_pad_start_task (srcpad_, slate_loop, this, nullptr);
}

/* Ends the slate (the output goes on as next), stops its task (waiting for
 * its push) and returns how long the slate ran, in output milliseconds. */
gint64
Splicer::stop_slate (Output next, Lock &lock)
{
  state_.output = next;
  cond_.notify_all ();
  lock.unlock ();
  gst_pad_pause_task (srcpad_);
  lock.lock ();
  gint64 gap = state_.slate_run.elapsed ();
  state_.slate_ms += gap;
  return gap;
}

void
Splicer::send_eos (Lock &lock)
{
  bool on_slate = state_.output == Output::Slate;
  state_.output = Output::Ended;
  if (on_slate)
    stop_slate (Output::Ended, lock);
  cond_.notify_all ();
  GST_INFO_OBJECT (element_, "the broadcast is over: EOS");
  lock.unlock ();
  gst_pad_push_event (srcpad_, gst_event_new_eos ());
  lock.lock ();
}

/* An input is over (EOS, or its pad released). If it was the active one:
 * the broadcast ends (finish, or timeout=0), a waiting input takes over,
 * or the slate starts. */
void
Splicer::end_input (const Settings &s, GstFlvSplicePad *pad, Lock &lock)
{
  if (pad->ended)
    return;
  bool was_active = state_.active_pad () == pad;
  pad->ended = TRUE;
  if (!was_active || state_.output == Output::Ended ||
      state_.output == Output::Stopped)
    return;
  GstFlvSplicePad *next = state_.active_pad ();
  if (state_.finish) {
    send_eos (lock);
  } else if (next && next->waiting) {
    GST_INFO_OBJECT (element_, "%s takes over from %s", GST_PAD_NAME (next),
        GST_PAD_NAME (pad));
    cond_.notify_all ();
  } else if (state_.output == Output::Unstarted || s.timeout == 0) {
    send_eos (lock);
  } else if (state_.output != Output::Slate) {
    start_slate (s, "eos");
  }
}

/* A takeover without the slate: the older input's audio often ended before
 * its video (a connection cut mid-recording). The slate's silence fills the
 * audio up to the newer input's start, so no hole opens there. */
GstFlowReturn
Splicer::fill_audio_gap (gint64 until, Lock &lock)
{
  std::shared_ptr<const Slate> slate = state_.slate;
  if (state_.timeline.last_audio < 0 || !slate)
    return GST_FLOW_OK;
  /* Encoded since the first input's caps came: seldom still under way. */
  auto give_up = Clock::now () + SLATE_WAIT;
  while (!slate->ready && state_.output != Output::Stopped &&
      Clock::now () < give_up)
    cond_.wait_for (lock, SLATE_POLL);
  if (!slate->ready || !slate->error.empty ())
    return GST_FLOW_OK;
  int rate = slate->key.rate;
  gint64 base = state_.timeline.last_audio + aac_frame_ms_ceil (rate);
  if (until - base <= AAC_FRAME_SAMPLES * 1000 / rate)
    return GST_FLOW_OK;
  GST_DEBUG_OBJECT (element_, "silence from %" G_GINT64_FORMAT " to %"
      G_GINT64_FORMAT " ms", base, until);
  GstFlowReturn ret = push ({ flv::retimed_copy (slate->audio_header, base) },
      lock);
  for (guint64 n = 0; ret == GST_FLOW_OK; n++) {
    gint64 ts = aac_frame_ts (base, n, rate);
    if (ts >= until)
      break;
    state_.timeline.note (flv::TAG_AUDIO, ts);
    ret = push ({ flv::retimed_copy (slate->audio[n % slate->audio.size ()],
                ts) }, lock);
  }
  return ret;
}

/* The pad's first keyframe: its timestamps from here on continue the
 * output (after the slate, or one frame after the last output frame), and
 * its sequence headers go out first. */
GstFlowReturn
Splicer::take_over (const Settings &s, GstFlvSplicePad *pad,
    gint64 keyframe_ts, gint32 keyframe_offset, Lock &lock)
{
  const Timeline &timeline = state_.timeline;
  /* Decoded after the last picture, presented when the next slate picture
   * would have been, or a frame after the last picture; the audio goes on
   * with silence up to that picture. */
  gint64 position;
  if (state_.output == Output::Slate) {
    gint64 gap = stop_slate (Output::Inputs, lock);
    const SlateRun &run = state_.slate_run;
    position = MAX (timeline.last_video + 1,
        run.start + gap + run.lead - keyframe_offset);
    queue_message (gst_structure_new (GST_FLV_SPLICE_RESUMED_MESSAGE_NAME,
            "gap", G_TYPE_UINT64, guint64 (gap) * GST_MSECOND, nullptr));
    if (state_.output == Output::Stopped || pad->flushing || pad->released)
      return GST_FLOW_FLUSHING;
    if (state_.output == Output::Ended)
      return GST_FLOW_EOS;
  } else {
    gint64 num, den;
    timeline.frame_duration (s.fps_n, s.fps_d, &num, &den);
    position = timeline.last_video >= 0 ? MAX (timeline.last_video + 1,
        timeline.last_video_presented + num / den - keyframe_offset) :
        timeline.last_audio + 1;
  }
  GstFlowReturn filled = fill_audio_gap (position + keyframe_offset, lock);
  if (filled != GST_FLOW_OK)
    return filled;
  pad->offset = position - keyframe_ts;
  pad->started = TRUE;
  GST_INFO_OBJECT (pad, "%s at %" G_GINT64_FORMAT " ms (its %"
      G_GINT64_FORMAT " ms)", pad->stalled ? "back from its stall" :
      "takes over", position, keyframe_ts);
  pad->stalled = FALSE;
  state_.aac.take_from (pad->audio_header);
  request_slate (s);

  GstBuffer *video = pad->video_header ?
      flv::retimed_copy (pad->video_header, position) : nullptr;
  GstBuffer *audio = pad->audio_header ? flv::retimed_copy (pad->audio_header,
      MAX (position, timeline.last_audio)) : nullptr;
  state_.headers.set (pad->video_header, pad->audio_header);
  return push ({ video, audio }, lock);
}

/* One buffer of the active input. Takes the buffer. */
GstFlowReturn
Splicer::handle_buffer (const Settings &s, GstFlvSplicePad *pad,
    GstBuffer *buffer, Lock &lock)
{
  Timeline &timeline = state_.timeline;
  GstFlowReturn ret;
  if (state_.output == Output::Unstarted &&
      (ret = start_output (pad, lock)) != GST_FLOW_OK) {
    gst_buffer_unref (buffer);
    return ret;
  }
  flv::Tag tag = flv::parse (buffer);

  /* The first input's stream header (file header, onMetaData, sequence
   * headers) is the output's, as it is. */
  if (pad == state_.header_owner && !pad->started &&
      GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_HEADER)) {
    if (tag.complete && tag.sequence_header)
      gst_flv_splice_pad_store_header (pad, buffer, tag.type);
    return push ({ buffer }, lock);
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
    gst_flv_splice_pad_store_header (pad, buffer, tag.type);
    if (!pad->started || pad->stalled) {
      /* Sent right before this input's first keyframe. */
      gst_buffer_unref (buffer);
      return GST_FLOW_OK;
    }
    /* A new decoder configuration mid-stream goes out in-band. */
    gint64 ts = MAX (0, MAX (tag.timestamp + pad->offset,
            tag.type == flv::TAG_VIDEO ? timeline.last_video :
            timeline.last_audio));
    state_.headers.set (tag.type == flv::TAG_VIDEO ? buffer : nullptr,
        tag.type == flv::TAG_AUDIO ? buffer : nullptr);
    return push ({ flv::retime (buffer, ts) }, lock);
  }

  /* A stalled input comes back like a newer one taking over. */
  if (!pad->started || pad->stalled) {
    if (!pad->started && timeline.empty () &&
        state_.output != Output::Slate) {
      /* The first input: its timestamps are the output's. */
      pad->started = TRUE;
      pad->offset = 0;
      state_.aac.take_from (pad->audio_header);
    } else if (tag.keyframe) {
      ret = take_over (s, pad, tag.timestamp, tag.composition_offset, lock);
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
  if (tag.type == flv::TAG_AUDIO && (ts < 0 || ts <= timeline.last_audio)) {
    GST_LOG_OBJECT (pad, "dropping audio at %" G_GINT64_FORMAT " ms, not "
        "after %" G_GINT64_FORMAT " ms", ts, timeline.last_audio);
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  if (tag.type == flv::TAG_VIDEO && ts <= timeline.last_video)
    ts = timeline.last_video + 1;
  timeline.note (tag.type, ts, tag.composition_offset);
  if (ts == tag.timestamp) {
    /* Passing through: no need to touch the tag's bytes. */
    buffer = gst_buffer_make_writable (buffer);
    GST_BUFFER_PTS (buffer) = GST_BUFFER_DTS (buffer) = ts * GST_MSECOND;
  } else {
    buffer = flv::retime (buffer, ts);
  }
  if (tag.keyframe)
    return push_keyframe (buffer, ts, lock);
  return push ({ buffer }, lock);
}

/* Blocks a newer input until it is the active one; s is then the settings
 * as they are when its turn comes. */
GstFlowReturn
Splicer::wait_for_turn (GstFlvSplicePad *pad, Settings &s, Lock &lock)
{
  while (true) {
    if (state_.output == Output::Stopped || pad->flushing || pad->released)
      return GST_FLOW_FLUSHING;
    if (state_.output == Output::Ended || pad->ended)
      return GST_FLOW_EOS;
    if (state_.active_pad () == pad)
      break;
    if (!pad->waiting)
      GST_DEBUG_OBJECT (pad, "waiting for the older input to end");
    pad->waiting = TRUE;
    cond_.wait (lock);
    /* Never under state_lock_ (plugin.cpp); all is looked at again. */
    lock.unlock ();
    s = settings_.copy ();
    lock.lock ();
  }
  pad->waiting = FALSE;
  return GST_FLOW_OK;
}

/* ---- The sink pads' functions ---- */

GstFlowReturn
Splicer::chain (GstFlvSplicePad *pad, GstBuffer *buffer)
{
  Settings s = settings_.copy ();
  Lock lock (state_lock_);
  pad->in_chain = TRUE;
  GstFlowReturn ret = wait_for_turn (pad, s, lock);
  if (ret == GST_FLOW_OK) {
    ret = handle_buffer (s, pad, buffer, lock);
    /* The stall watch counts from here: the input is waiting for data. */
    state_.stall.delivered (Clock::now ());
  } else {
    gst_buffer_unref (buffer);
  }
  pad->in_chain = FALSE;
  pad->waiting = FALSE;
  if (pad->released) {
    /* Released while in here (see release_pad). */
    end_input (s, pad, lock);
    state_.forget_pad (pad);
  }
  lock.unlock ();
  post_messages ();
  return ret;
}

void
Splicer::caps (GstFlvSplicePad *pad, GstCaps *caps)
{
  Settings s = settings_.copy ();
  Lock lock (state_lock_);
  gst_flv_splice_pad_store_stream_headers (pad, caps);
  /* The slate is encoded now, before it is needed. */
  if (!state_.slate) {
    state_.aac.take_from (pad->audio_header);
    request_slate (s);
  }
}

void
Splicer::eos (GstFlvSplicePad *pad)
{
  GST_INFO_OBJECT (pad, "EOS");
  /* Before anything it causes (EOS downstream, the slate). */
  gst_element_post_message (element_, gst_message_new_element (
          GST_OBJECT (element_), gst_structure_new (
              GST_FLV_SPLICE_INPUT_ENDED_MESSAGE_NAME, "pad", G_TYPE_STRING,
              GST_PAD_NAME (pad), nullptr)));
  Settings s = settings_.copy ();
  Lock lock (state_lock_);
  end_input (s, pad, lock);
  lock.unlock ();
  post_messages ();
}

void
Splicer::flush (GstFlvSplicePad *pad, bool flushing)
{
  std::lock_guard<std::mutex> lock (state_lock_);
  pad->flushing = flushing;
  if (flushing)
    cond_.notify_all ();
}

/* ---- Request pads ---- */

gchar *
Splicer::new_pad_name (const gchar *name)
{
  std::lock_guard<std::mutex> lock (state_lock_);
  guint number;
  if (name && sscanf (name, "sink_%u", &number) == 1) {
    for (GstFlvSplicePad *pad : state_.pads) {
      if (g_str_equal (GST_PAD_NAME (pad), name))
        return nullptr;
    }
    state_.next_pad_number = MAX (state_.next_pad_number, number + 1);
  } else {
    number = state_.next_pad_number++;
  }
  return g_strdup_printf ("sink_%u", number);
}

void
Splicer::add_pad (GstFlvSplicePad *pad)
{
  std::lock_guard<std::mutex> lock (state_lock_);
  state_.pads.push_back (GST_FLV_SPLICE_PAD (gst_object_ref (pad)));
}

void
Splicer::release_pad (GstFlvSplicePad *pad)
{
  Settings s = settings_.copy ();
  {
    Lock lock (state_lock_);
    pad->released = TRUE;
    cond_.notify_all ();
    if (!pad->in_chain) {
      end_input (s, pad, lock);
      state_.forget_pad (pad);
    }
  }
  post_messages ();
}

/* ---- The element ---- */

void
Splicer::finish ()
{
  std::lock_guard<std::mutex> lock (state_lock_);
  GST_INFO_OBJECT (element_, "finish: the active input's EOS ends the "
      "broadcast");
  state_.finish = true;
  cond_.notify_all ();
}

void
Splicer::reset ()
{
  std::lock_guard<std::mutex> lock (state_lock_);
  state_.reset ();
}

void
Splicer::set_playing (bool playing)
{
  std::lock_guard<std::mutex> lock (state_lock_);
  state_.stall.set_playing (playing, Clock::now ());
  if (playing)
    cond_.notify_all ();
}

void
Splicer::stop ()
{
  std::lock_guard<std::mutex> lock (state_lock_);
  state_.output = Output::Stopped;
  cond_.notify_all ();
}

void
Splicer::end_run ()
{
  std::lock_guard<std::mutex> lock (state_lock_);
  state_.output = Output::Stopped;
  state_.finish = false;
  cond_.notify_all ();
}

/* ---- Read-only properties ---- */

guint
Splicer::gaps ()
{
  std::lock_guard<std::mutex> lock (state_lock_);
  return state_.gaps;
}

guint64
Splicer::slate_time_ns ()
{
  std::lock_guard<std::mutex> lock (state_lock_);
  guint64 ms = state_.slate_ms;
  gint64 start = state_.slate_run.start;
  if (state_.output == Output::Slate && state_.timeline.last_video > start)
    ms += state_.timeline.last_video - start;
  return ms * GST_MSECOND;
}

bool
Splicer::on_slate ()
{
  std::lock_guard<std::mutex> lock (state_lock_);
  return state_.output == Output::Slate;
}

/* ---- The slate task ---- */

/* The slate's end by itself: no input took over within the timeout, or
 * finish came and no input is left. Unlocks. */
void
Splicer::end_slate_with_eos (bool timed_out, Lock &lock)
{
  state_.output = Output::Ended;
  state_.slate_ms += state_.slate_run.elapsed ();
  if (timed_out) {
    GST_INFO_OBJECT (element_, "no input took over: EOS");
    queue_message (gst_structure_new_empty (
            GST_FLV_SPLICE_TIMEOUT_MESSAGE_NAME));
  }
  cond_.notify_all ();
  lock.unlock ();
  post_messages ();
  gst_pad_push_event (srcpad_, gst_event_new_eos ());
  gst_pad_pause_task (srcpad_);
}

/* The slate's sequence headers, first thing when it starts. Unlocks. */
GstFlowReturn
Splicer::push_slate_headers (const Slate &slate, Lock &lock)
{
  SlateRun &run = state_.slate_run;
  run.headers_sent = true;
  bool warn = !slate.warning.empty () && state_.warned != slate.warning;
  state_.warned = slate.warning;
  GstBuffer *video = flv::retimed_copy (slate.video_header, run.video_base);
  GstBuffer *audio = flv::retimed_copy (slate.audio_header, run.audio_base);
  state_.headers.set (slate.video_header, slate.audio_header);
  lock.unlock ();
  if (warn)
    GST_ELEMENT_WARNING (element_, RESOURCE, READ, ("%s",
            slate.warning.c_str ()), (nullptr));
  return push_in_order (srcpad_, { video, audio });
}

void
Splicer::slate_loop (gpointer data)
{
  static_cast<Splicer *> (data)->slate_iteration ();
}

/* One tag when it is due, else a wait until it is (or until the timeout,
 * or a change of state wakes the task). */
void
Splicer::slate_iteration ()
{
  SlateRun &run = state_.slate_run;
  Lock lock (state_lock_);
  if (state_.output != Output::Slate) {
    lock.unlock ();
    gst_pad_pause_task (srcpad_);
    return;
  }
  auto now = Clock::now ();
  bool timed_out = run.deadline && now >= *run.deadline;
  if (timed_out || (state_.finish && !state_.active_pad ())) {
    end_slate_with_eos (timed_out, lock);
    return;
  }
  auto wake = run.deadline ? *run.deadline : now + std::chrono::hours (1);
  /* Ours for this iteration: the lock is released to push. */
  std::shared_ptr<const Slate> slate = run.slate;
  if (!slate->ready) {
    cond_.wait_until (lock, std::min (now + SLATE_POLL, wake));
    return;
  }
  if (!slate->error.empty ()) {
    state_.output = Output::Inputs;
    lock.unlock ();
    GST_ELEMENT_ERROR (element_, CORE, FAILED, ("Cannot make the slate: %s.",
            slate->error.c_str ()), (nullptr));
    gst_pad_pause_task (srcpad_);
    return;
  }

  GstFlowReturn ret;
  if (!run.headers_sent) {
    ret = push_slate_headers (*slate, lock);
  } else {
    SlateRun::Due due = run.next ();
    if (due.ts > state_.timeline.now_ts (now)) {
      cond_.wait_until (lock, std::min (state_.timeline.time_of (due.ts),
              wake));
      return;
    }
    bool keyframe;
    GstBuffer *video_header = nullptr, *audio_header = nullptr;
    GstBuffer *out = run.take (due, &keyframe);
    if (keyframe)
      state_.headers.for_keyframe (due.ts, state_.timeline.last_audio,
          &video_header, &audio_header);
    state_.timeline.note (due.video ? flv::TAG_VIDEO : flv::TAG_AUDIO,
        due.ts, due.video ? gint32 (run.lead) : 0);
    lock.unlock ();
    ret = push_in_order (srcpad_, { video_header, audio_header, out });
  }
  if (ret == GST_FLOW_FLUSHING) {
    /* Downstream flushed, or we are stopping (then the next iteration
     * pauses): the slate goes on, and so does its timeout. */
    lock.lock ();
    if (state_.output == Output::Slate)
      cond_.wait_for (lock, SLATE_POLL);
    return;
  }
  if (ret != GST_FLOW_OK) {
    GST_DEBUG_OBJECT (element_, "slate paused: %s", gst_flow_get_name (ret));
    if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS)
      GST_ELEMENT_FLOW_ERROR (element_, ret);
    gst_pad_pause_task (srcpad_);
  }
}

/* ---- The stall watch ---- */

/* Starts the slate when the input on air has delivered nothing for
 * stall-timeout (see State::stall); returns when to look again. */
Clock::time_point
Splicer::check_stall (const Settings &s)
{
  GstFlvSplicePad *pad = state_.active_pad ();
  /* Not while the input's thread is in its chain: blocked downstream is
   * no stall, and it may be pushing. Not before the first audio or video
   * tag (an input starting up: its encoder may take a while). After
   * finish, its EOS is coming. */
  bool watching = s.timeout != 0 && !state_.timeline.empty () &&
      state_.output == Output::Inputs && !state_.finish && pad &&
      !pad->in_chain && !pad->stalled;
  Clock::time_point next;
  if (!state_.stall.check (watching, s.stall_timeout, Clock::now (), &next))
    return next;
  GST_INFO_OBJECT (pad, "nothing for %u ms: stalled", s.stall_timeout);
  pad->stalled = TRUE;
  start_slate (s, "stall");
  return next;
}

/* A pending wake-up's: the splicer, and a reference to its element (which
 * owns it) that keeps it alive until the wake-up is done with. */
struct Splicer::StallWakeup {
  Splicer *splicer;
  GstObject *element;

  static void destroy (gpointer data)
  {
    auto *wakeup = static_cast<StallWakeup *> (data);
    gst_object_unref (wakeup->element);
    delete wakeup;
  }
};

/* Replaces the pending wake-up, unless stopped. */
void
Splicer::schedule_stall_check (Clock::time_point when)
{
  if (state_.output == Output::Stopped)
    state_.stall.cancel ();
  else
    state_.stall.schedule (when, on_stall_check, new StallWakeup { this,
          GST_OBJECT (gst_object_ref (element_)) }, StallWakeup::destroy);
}

/* In the system clock's thread. */
gboolean
Splicer::on_stall_check (GstClock *, GstClockTime, GstClockID id,
    gpointer data)
{
  Splicer &self = *static_cast<StallWakeup *> (data)->splicer;
  Settings s = self.settings_.copy ();
  {
    Lock lock (self.state_lock_);
    /* Replaced or stopped meanwhile. */
    if (!self.state_.stall.is_pending (id) ||
        self.state_.output == Output::Stopped)
      return TRUE;
    self.schedule_stall_check (self.check_stall (s));
  }
  self.post_messages ();
  return TRUE;
}

void
Splicer::start_stall_watch ()
{
  std::lock_guard<std::mutex> lock (state_lock_);
  schedule_stall_check (Clock::now ());
}

void
Splicer::stop_stall_watch ()
{
  std::lock_guard<std::mutex> lock (state_lock_);
  state_.output = Output::Stopped;
  cond_.notify_all ();
  state_.stall.cancel ();
}

}  // namespace wsrtmp
