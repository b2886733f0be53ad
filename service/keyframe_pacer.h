/* When to ask a WebRTC sender for a keyframe (PLI), so that the output's
 * keyframes stay within --keyframe-interval (the platforms want one every
 * 2 s; more than ~2.2 s apart and some refuse the stream). A sender answers
 * a PLI only after its capture, encoder, the network and our jitterbuffer:
 * hundreds of milliseconds, more on a busy machine. So the request goes out
 * that long before the interval is over, the delay learnt from the
 * sender's own answers (the longest of the last few), with a margin for
 * the daemon's timer.
 *
 * Pure: no clock, no I/O (times are given); tested in test_core.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <array>

namespace wsrtmp {

class KeyframePacer {
 public:
  /* tick_us: how often due () is looked at (its lateness is the margin). */
  explicit KeyframePacer (gint64 tick_us) : tick_us_ (tick_us) {}

  /* A video keyframe arrived at now_us. */
  void keyframe (gint64 now_us);
  /* A keyframe should be asked for now, to keep them interval_us apart. */
  bool due (gint64 now_us, gint64 interval_us) const;
  /* A keyframe was asked for at now_us (by due () or for another reason). */
  void requested (gint64 now_us);
  /* How long a request takes to be answered, as learnt. */
  gint64 answer_delay_us () const;

 private:
  /* Assumed until the sender answered once: Chromium answers in about
   * 150 ms here; a loaded machine or a long path takes longer. */
  static constexpr gint64 FIRST_GUESS_US = 500 * 1000;
  /* Answers slower than this are not the sender answering us (it ignores
   * requests, as OBS does, and made a keyframe of its own). */
  static constexpr gint64 LONGEST_ANSWER_US = 1500 * 1000;

  gint64 tick_us_;
  gint64 last_keyframe_us_ = 0;         /* 0: none yet */
  gint64 last_request_us_ = 0;          /* the last request; 0: none yet */
  gint64 open_since_us_ = 0;            /* the first request not answered
                                         * yet; 0: none open */
  std::array<gint64, 4> answers_us_ {}; /* the last answer delays, 0 = none */
  size_t next_answer_ = 0;
};

}  // namespace wsrtmp
