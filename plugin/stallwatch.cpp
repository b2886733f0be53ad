/* flvsplice's stall watch (see stallwatch.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "stallwatch.h"

namespace wsrtmp {

namespace {

/* The watch looks at least this often (and twice per stall-timeout when
 * that is shorter): the settings and the state may change meanwhile. */
constexpr guint LOOK_MS = 1000;

}  // namespace

void
StallWatch::set_playing (bool playing, Clock::time_point now)
{
  playing_ = playing;
  if (playing)
    last_delivery_ = now;
}

bool
StallWatch::check (bool watching, guint stall_timeout, Clock::time_point now,
    Clock::time_point *next) const
{
  *next = now + std::chrono::milliseconds (MIN (stall_timeout > 0 ?
          stall_timeout : LOOK_MS, LOOK_MS) / 2);
  if (!playing_ || stall_timeout == 0 || !watching)
    return false;
  auto due = last_delivery_ + std::chrono::milliseconds (stall_timeout);
  if (now < due) {
    *next = due;
    return false;
  }
  return true;
}

void
StallWatch::schedule (Clock::time_point when, GstClockCallback callback,
    gpointer data, GDestroyNotify destroy)
{
  cancel ();
  GstClock *clock = gst_system_clock_obtain ();
  auto wait = std::chrono::duration_cast<std::chrono::nanoseconds> (when -
      Clock::now ()).count ();
  pending_ = gst_clock_new_single_shot_id (clock,
      gst_clock_get_time (clock) + GstClockTime (MAX (wait, 0)));
  gst_clock_id_wait_async (pending_, callback, data, destroy);
  gst_object_unref (clock);
}

void
StallWatch::cancel ()
{
  if (pending_) {
    gst_clock_id_unschedule (pending_);
    gst_clock_id_unref (pending_);
    pending_ = nullptr;
  }
}

}  // namespace wsrtmp
