/* flvsplice's settings and state bookkeeping (see flvsplicestate.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "flvsplicestate.h"

#include "flvtag.h"

#include <algorithm>
#include <utility>

namespace wsrtmp {

namespace {

/* The slate catches up with "now" in a burst, but at most this far: input
 * timestamps that drifted from the clock over hours would otherwise become
 * a burst as long as the drift. */
constexpr gint64 MAX_BURST_MS = 30000;
/* Video frames the output's frame rate is measured over. */
constexpr size_t RATE_WINDOW = 32;
/* A longer pause between two pictures starts the measure again. */
constexpr gint64 RATE_BREAK_MS = 200;

}  // namespace

SlateKey
Settings::slate_key (int aac_rate, int aac_channels) const
{
  return SlateKey { slate_location, width, height, fps_n, fps_d,
    MAX (1, int (keyframe_interval * fps_n / fps_d + 0.5)), aac_rate,
    aac_channels };
}

void
AacFormat::take_from (GstBuffer *header)
{
  int header_rate, header_channels;
  if (flv::aac_format (header, &header_rate, &header_channels) &&
      aac_format_supported (header_rate, header_channels)) {
    rate = header_rate;
    channels = header_channels;
  }
}

/* ---- Timeline ---- */

void
Timeline::reset ()
{
  last_video = last_audio = -1;
  last_video_presented = -1;
  recent_video_.clear ();
  clock_mapped_ = false;
}

void
Timeline::note (guint8 type, gint64 ts, gint32 composition_offset)
{
  if (!clock_mapped_) {
    clock_mapped_ = true;
    map_time_ = Clock::now ();
    map_ts_ = ts;
  }
  if (type == flv::TAG_VIDEO) {
    gint64 presented = ts + composition_offset;
    if (last_video_presented >= 0 &&
        presented - last_video_presented > RATE_BREAK_MS)
      recent_video_.clear ();
    recent_video_.push_back (presented);
    if (recent_video_.size () > RATE_WINDOW)
      recent_video_.pop_front ();
    last_video = ts;
    last_video_presented = MAX (last_video_presented, presented);
  } else if (type == flv::TAG_AUDIO) {
    last_audio = ts;
  }
}

void
Timeline::frame_duration (int fps_n, int fps_d, gint64 *num, gint64 *den)
    const
{
  *num = 1000 * fps_d;
  *den = fps_n;
  if (recent_video_.size () < 2)
    return;
  gint64 span = recent_video_.back () - recent_video_.front ();
  if (span <= 0)
    return;
  auto fps = gint64 (double (recent_video_.size () - 1) * 1000 / span + 0.05);
  if (fps >= 1 && fps * fps_d < fps_n) {
    *num = 1000;
    *den = fps;
  }
}

void
Timeline::tie_clock_for_slate (gint64 start, Clock::time_point now)
{
  if (!clock_mapped_ || now_ts (now) < start) {
    map_time_ = now;
    map_ts_ = start;
  } else if (now_ts (now) > start + MAX_BURST_MS) {
    map_time_ = now;
    map_ts_ = start + MAX_BURST_MS;
  }
  clock_mapped_ = true;
}

gint64
Timeline::now_ts (Clock::time_point now) const
{
  return map_ts_ + std::chrono::duration_cast<std::chrono::milliseconds> (
      now - map_time_).count ();
}

Clock::time_point
Timeline::time_of (gint64 ts) const
{
  return map_time_ + std::chrono::milliseconds (ts - map_ts_);
}

/* ---- SlateRun ---- */

void
SlateRun::begin (std::shared_ptr<const Slate> encoded,
    const Timeline &timeline, guint timeout_s, Clock::time_point now)
{
  slate = std::move (encoded);
  const SlateKey &key = slate->key;
  /* The slate's format is the one encoded; the input's last frame duration
   * spaces the first slate frame from it. At a lower frame rate than
   * encoded, fewer of the GOP's frames are looped: the keyframes stay
   * keyframe-interval apart. */
  timeline.frame_duration (key.fps_n, key.fps_d, &frame_num, &frame_den);
  gint64 interval_ms = gint64 (key.gop_frames) * 1000 * key.fps_d / key.fps_n;
  loop_frames = MAX (1, interval_ms * frame_den / frame_num);
  rate = key.rate;
  gint64 last_video = timeline.last_video;
  gint64 last_audio = timeline.last_audio;
  lead = last_video >= 0 ?
      MAX (0, timeline.last_video_presented - last_video) : 0;
  video_base = last_video >= 0 ? last_video + frame_num / frame_den :
      MAX (last_audio, 0);
  audio_base = last_audio >= 0 ? last_audio + aac_frame_ms_ceil (rate) :
      video_base;
  video_count = audio_count = 0;
  start = video_base;
  headers_sent = false;
  deadline.reset ();
  if (timeout_s > 0)
    deadline = now + std::chrono::seconds (timeout_s);
}

gint64
SlateRun::video_ts (guint64 frame) const
{
  return video_base + gint64 ((frame * frame_num + frame_den / 2) /
      frame_den);
}

gint64
SlateRun::audio_ts (guint64 frame) const
{
  return aac_frame_ts (audio_base, frame, rate);
}

SlateRun::Due
SlateRun::next () const
{
  gint64 video = video_ts (video_count);
  gint64 audio = audio_ts (audio_count);
  return video <= audio ? Due { true, video } : Due { false, audio };
}

GstBuffer *
SlateRun::take (const Due &due, bool *keyframe)
{
  *keyframe = false;
  if (!due.video)
    return flv::retimed_copy (slate->audio[audio_count++ %
            slate->audio.size ()], due.ts);
  size_t frame = video_count++ % MIN (slate->video.size (), loop_frames);
  *keyframe = frame == 0;
  return flv::retimed_copy (slate->video[frame], due.ts, gint32 (lead));
}

/* ---- StreamHeaders ---- */

void
StreamHeaders::clear ()
{
  gst_clear_buffer (&video_);
  gst_clear_buffer (&audio_);
  just_sent_ = false;
}

void
StreamHeaders::set (GstBuffer *video, GstBuffer *audio)
{
  if (video)
    gst_buffer_replace (&video_, video);
  if (audio)
    gst_buffer_replace (&audio_, audio);
  just_sent_ = true;
}

void
StreamHeaders::for_keyframe (gint64 ts, gint64 last_audio, GstBuffer **video,
    GstBuffer **audio)
{
  *video = *audio = nullptr;
  if (just_sent_) {
    just_sent_ = false;
    return;
  }
  if (video_)
    *video = flv::retimed_copy (video_, ts);
  if (audio_)
    *audio = flv::retimed_copy (audio_, MAX (ts, last_audio));
}

/* ---- State ---- */

State::~State ()
{
  for (GstFlvSplicePad *pad : pads)
    gst_object_unref (pad);
  for (GstMessage *message : messages)
    gst_message_unref (message);
}

GstFlvSplicePad *
State::active_pad () const
{
  for (GstFlvSplicePad *pad : pads) {
    if (!pad->ended)
      return pad;
  }
  return nullptr;
}

void
State::forget_pad (GstFlvSplicePad *pad)
{
  auto found = std::find (pads.begin (), pads.end (), pad);
  if (found == pads.end ())
    return;
  pads.erase (found);
  if (header_owner == pad)
    header_owner = nullptr;
  gst_object_unref (pad);
}

void
State::reset ()
{
  output = Output::Unstarted;
  header_owner = nullptr;
  timeline.reset ();
  slate_run.deadline.reset ();
  gaps = 0;
  slate_ms = 0;
  warned.clear ();
  headers.clear ();
  for (GstFlvSplicePad *pad : pads)
    gst_flv_splice_pad_reset (pad);
}

}  // namespace wsrtmp
