/* flvsplice's Settings and its runtime State, in parts with their own
 * bookkeeping: the output mode, the output timeline (where the output has
 * come to, its frame rate, the clock it is tied to), the running slate's
 * schedule, the sequence headers in effect, the inputs (sink pads). No
 * pushing, no posting. Settings sit behind the settings_lock (SettingsLock)
 * and are copied out whole; State has no lock of its own: the splicer's
 * state_lock guards all of it (flvsplicer.h; the lock order is
 * plugin.cpp's).
 *
 * Output times are milliseconds, as in FLV tags.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "flvoutput.h"
#include "flvslate.h"
#include "gstflvsplicepad.h"
#include "stallwatch.h"

#include <gst/gst.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace wsrtmp {

using Clock = std::chrono::steady_clock;

constexpr guint DEFAULT_TIMEOUT = 60;
/* A browser sends a MediaRecorder chunk every 250-300 ms: through
 * flvencodebin, tags came at most ~300 ms apart (1.2 s with 1000 ms chunks,
 * 1.5 s for Firefox's VP8 transcoded on a loaded machine; test_flvsplice's
 * test_no_stall_at_browser_pace prints them). A false stall costs up to a
 * keyframe interval of live picture, a late one only a longer burst. */
constexpr guint DEFAULT_STALL_TIMEOUT = 2000;
/* The output format's defaults (DEFAULT_WIDTH ... DEFAULT_AAC_CHANNELS)
 * are flvencodebin's: flvoutput.h. */

/* The properties that can be set. */
struct Settings {
  guint timeout = DEFAULT_TIMEOUT;
  guint stall_timeout = DEFAULT_STALL_TIMEOUT;
  std::string slate_location;
  int width = DEFAULT_WIDTH;
  int height = DEFAULT_HEIGHT;
  int fps_n = DEFAULT_FPS_N;
  int fps_d = DEFAULT_FPS_D;
  double keyframe_interval = DEFAULT_KEYFRAME_INTERVAL;

  /* The slate these ask for, its silence in the given AAC format. */
  SlateKey slate_key (int aac_rate, int aac_channels) const;
};

/* The settings behind their own lock, settings_lock: the first in
 * plugin.cpp's order. Copied out whole before state_lock is taken, never
 * under it. */
class SettingsLock {
 public:
  Settings copy () const
  {
    std::lock_guard<std::mutex> lock (lock_);
    return settings_;
  }
  /* Calls change with the settings, under the lock. */
  template <typename Change>
  void change (Change &&change)
  {
    std::lock_guard<std::mutex> lock (lock_);
    change (settings_);
  }

 private:
  mutable std::mutex lock_;     /* settings_lock */
  Settings settings_;           /* guarded by lock_ */
};

/* What the output is doing: one mode, changed under the state lock. */
enum class Output {
  /* Not between READY -> PAUSED and PAUSED -> READY (or the source pad
   * was deactivated): inputs flush, nothing goes out. */
  Stopped,
  /* Nothing pushed yet: the first input's stream-start, caps and segment
   * go out with its first buffer. */
  Unstarted,
  /* The active input's tags go out (the output waits while it has none). */
  Inputs,
  /* The slate task pushes the slate. */
  Slate,
  /* EOS went downstream. */
  Ended,
};

/* The last input's AAC format: the slate's silence has the same. */
struct AacFormat {
  int rate = DEFAULT_AAC_RATE;
  int channels = DEFAULT_AAC_CHANNELS;

  /* Takes an AAC sequence header tag's format, when the slate can have it
   * (header may be NULL). */
  void take_from (GstBuffer *header);
};

/* Where the output has come to, and "now" in output time. */
class Timeline {
 public:
  /* Output timestamps of the last video and audio frame, -1 for none; and
   * the latest presentation time of the video (tag timestamp + composition
   * offset: later than last_video when pictures are decoded ahead). What
   * follows is presented after it. */
  gint64 last_video = -1;
  gint64 last_audio = -1;
  gint64 last_video_presented = -1;

  /* READY -> PAUSED: nothing out yet, the clock not tied. */
  void reset ();
  bool empty () const { return last_video < 0 && last_audio < 0; }
  /* Bookkeeping for a tag about to be pushed; the first ties the clock. */
  void note (guint8 type, gint64 ts, gint32 composition_offset = 0);
  /* The duration (num/den ms) of a generated frame: at the output's recent
   * frame rate, in whole frames per second rounded down, at most
   * fps_n/fps_d. Never a higher rate than the input had: a player that
   * took the stream's frame rate from its start (ffmpeg does) would see two
   * frames in one frame's time. A still picture may be shown at any rate. */
  void frame_duration (int fps_n, int fps_d, gint64 *num, gint64 *den) const;
  /* Ties the clock for a slate from start: "now" is at least start, and at
   * most MAX_BURST_MS ahead of it. */
  void tie_clock_for_slate (gint64 start, Clock::time_point now);
  /* The monotonic clock's now in output time, and back (once tied). */
  gint64 now_ts (Clock::time_point now) const;
  Clock::time_point time_of (gint64 ts) const;

 private:
  /* The latest output video presentation times: the output's frame rate. */
  std::deque<gint64> recent_video_;
  /* The monotonic clock's "now" in output time: map_ts_ at map_time_. */
  bool clock_mapped_ = false;
  Clock::time_point map_time_;
  gint64 map_ts_ = 0;
};

/* The slate while it runs: its tags' output times, looping its GOP. */
struct SlateRun {
  std::shared_ptr<const Slate> slate;
  /* A frame's duration (ms, a fraction) and how many of the GOP's frames
   * are looped (keyframe-interval at that duration). */
  gint64 frame_num = 1000 * DEFAULT_FPS_D;
  gint64 frame_den = DEFAULT_FPS_N;
  size_t loop_frames = 1;
  /* Output timestamp of the first picture, and how long after its
   * timestamp each picture is presented: the last input's composition
   * offset, so that both decoding and presentation times go on without a
   * hole. */
  gint64 start = 0;
  gint64 lead = 0;
  gint64 video_base = 0;
  gint64 audio_base = 0;
  guint64 video_count = 0;
  guint64 audio_count = 0;
  int rate = DEFAULT_AAC_RATE;
  /* Where EOS goes downstream (timeout after the start); none: never. */
  std::optional<Clock::time_point> deadline;
  bool headers_sent = false;

  /* The next tag: a picture unless the audio is behind it. */
  struct Due {
    bool video;
    gint64 ts;
  };

  /* Starts slate right after the output so far, a frame at the output's
   * recent rate (see Timeline::frame_duration). */
  void begin (std::shared_ptr<const Slate> slate, const Timeline &timeline,
      guint timeout_s, Clock::time_point now);
  gint64 video_ts (guint64 frame) const;
  gint64 audio_ts (guint64 frame) const;
  /* Output ms of slate so far: up to its next picture. */
  gint64 elapsed () const { return video_ts (video_count) - start; }
  Due next () const;
  /* A copy of the tag due, retimed (a picture presented lead after its
   * timestamp), and counted; keyframe: the GOP starts again with it. */
  GstBuffer *take (const Due &due, bool *keyframe);
};

/* The sequence headers in effect since the first switch (the caps' are the
 * first input's): repeated before every keyframe, so that a destination
 * that (re)joins at a keyframe gets them. None before. */
class StreamHeaders {
 public:
  StreamHeaders () = default;
  ~StreamHeaders () { clear (); }
  StreamHeaders (const StreamHeaders &) = delete;
  StreamHeaders &operator= (const StreamHeaders &) = delete;

  void clear ();
  /* In effect from now (NULL: unchanged); they went out right before the
   * coming keyframe already. */
  void set (GstBuffer *video, GstBuffer *audio);
  /* Copies to push right before a keyframe at ts (the audio one not before
   * last_audio), or none: before the first switch, or sent already. */
  void for_keyframe (gint64 ts, gint64 last_audio, GstBuffer **video,
      GstBuffer **audio);

 private:
  GstBuffer *video_ = nullptr;
  GstBuffer *audio_ = nullptr;
  bool just_sent_ = false;
};

/* The runtime state: every field guarded by the splicer's state_lock. */
struct State {
  State () = default;
  ~State ();
  State (const State &) = delete;
  State &operator= (const State &) = delete;

  /* Sink pads in request order, each with a reference. */
  std::vector<GstFlvSplicePad *> pads;
  guint next_pad_number = 0;
  Output output = Output::Stopped;
  /* The finish signal came: the active input's EOS ends the broadcast. For
   * one run (PAUSED -> READY clears it); it may come before PLAYING. */
  bool finish = false;
  /* The input whose caps the output has: its stream header buffers pass as
   * they are. */
  GstFlvSplicePad *header_owner = nullptr;
  Timeline timeline;
  StreamHeaders headers;
  AacFormat aac;
  /* The slate for the next gap; the running one is slate_run's. */
  std::shared_ptr<const Slate> slate;
  SlateRun slate_run;
  /* The slate image warning last posted (once per image). */
  std::string warned;
  /* From READY -> PAUSED to PAUSED -> READY: starts the slate when, in
   * PLAYING, the active input's chain was last left stall-timeout ago. */
  StallWatch stall;
  /* Statistics (properties). */
  guint gaps = 0;
  guint64 slate_ms = 0;
  /* Element messages, posted once state_lock is released. */
  std::vector<GstMessage *> messages;

  /* The oldest input that has not ended. */
  GstFlvSplicePad *active_pad () const;
  /* Drops the pad and its reference. */
  void forget_pad (GstFlvSplicePad *pad);
  /* READY -> PAUSED: a new run. */
  void reset ();
};

}  // namespace wsrtmp
