/* flvsplice's stall watch: notices that the input on air has delivered
 * nothing for stall-timeout without ending (a half-open connection: the
 * browser's network died and no FIN or RST came), so that the element can
 * start the slate. No thread per broadcast: a wake-up on the system clock,
 * whose one thread serves every element in the process. From READY ->
 * PAUSED to PAUSED -> READY the element keeps one wake-up pending; each
 * looks (check) and schedules the next.
 *
 * Part of the element's State: guarded by its state lock (plugin.cpp's
 * order). The clock's own lock, taken inside schedule and cancel, is a leaf.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <chrono>

namespace wsrtmp {

class StallWatch {
 public:
  using Clock = std::chrono::steady_clock;

  StallWatch () = default;
  ~StallWatch () { cancel (); }
  StallWatch (const StallWatch &) = delete;
  StallWatch &operator= (const StallWatch &) = delete;

  /* Only in PLAYING does the wall clock count; it starts there. */
  void set_playing (bool playing, Clock::time_point now);
  /* The input on air left its chain (it is waiting for data): the count
   * starts again. A stalled input never calls it. */
  void delivered (Clock::time_point now) { last_delivery_ = now; }
  /* True when the input counts as stalled now; else *next is when to look
   * again. watching: the element could call its input stalled now (an
   * input on air, out of its chain, not stalled already...). */
  bool check (bool watching, guint stall_timeout, Clock::time_point now,
      Clock::time_point *next) const;

  /* Replaces the pending wake-up by one at when: callback, in the system
   * clock's thread, with data; destroy (data) once it is done with. */
  void schedule (Clock::time_point when, GstClockCallback callback,
      gpointer data, GDestroyNotify destroy);
  /* Drops the pending wake-up. */
  void cancel ();
  /* id is the pending wake-up: not replaced or dropped meanwhile. */
  bool is_pending (GstClockID id) const { return id == pending_; }

 private:
  GstClockID pending_ = nullptr;
  bool playing_ = false;
  Clock::time_point last_delivery_;
};

}  // namespace wsrtmp
