/* When to ask a WebRTC sender for a keyframe (see keyframe_pacer.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "keyframe_pacer.h"

#include <algorithm>

namespace wsrtmp {

void
KeyframePacer::keyframe (gint64 now_us)
{
  if (open_since_us_ != 0) {
    /* From the first request: a lost one counts as a slow answer. */
    gint64 answer = now_us - open_since_us_;
    if (answer >= 0 && answer <= LONGEST_ANSWER_US) {
      answers_us_[next_answer_] = answer;
      next_answer_ = (next_answer_ + 1) % answers_us_.size ();
    }
    open_since_us_ = 0;
  }
  last_keyframe_us_ = now_us;
}

gint64
KeyframePacer::answer_delay_us () const
{
  gint64 longest = *std::max_element (answers_us_.begin (), answers_us_.end ());
  return longest > 0 ? longest : FIRST_GUESS_US;
}

bool
KeyframePacer::due (gint64 now_us, gint64 interval_us) const
{
  if (last_keyframe_us_ == 0 || interval_us <= 0)
    return false;
  /* Ask early enough for the answer, never earlier than half the interval
   * (a sender that takes longer gets keyframes every half interval). */
  gint64 lead = std::min (answer_delay_us () + tick_us_, interval_us / 2);
  if (now_us - last_keyframe_us_ < interval_us - lead)
    return false;
  /* An open request is repeated only once it could have been answered. */
  return open_since_us_ == 0 ||
      now_us - last_request_us_ >= std::max (answer_delay_us (), tick_us_) * 2;
}

void
KeyframePacer::requested (gint64 now_us)
{
  last_request_us_ = now_us;
  if (open_since_us_ == 0)
    open_since_us_ = now_us;
}

}  // namespace wsrtmp
