/* Feeds the overload guard (load_guard.h): once a second it samples the
 * process's CPU (getrusage), the machine's (/proc/stat) and every
 * broadcast's output delay, updates
 * the guard, sets the metrics, and logs when the guard turns on or off,
 * with the figures that turned it.
 *
 * Lives on the main thread; the Server owns it and asks at_risk () when it
 * admits a broadcast or answers /healthz.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "load_guard.h"
#include "metrics.h"

#include <glib.h>

#include <functional>
#include <vector>

namespace wsrtmp {

class LoadWatch {
 public:
  /* The output delay of each broadcast now, ms (-1: no output since the
   * last call). */
  using DelaySource = std::function<std::vector<gint64> ()>;

  LoadWatch (LoadGuardSettings settings, Metrics &metrics,
      DelaySource delays);
  ~LoadWatch ();
  LoadWatch (const LoadWatch &) = delete;
  LoadWatch &operator= (const LoadWatch &) = delete;

  bool at_risk () const { return guard_.at_risk (); }

 private:
  static gboolean on_tick (gpointer data);
  void sample ();
  /* The process's CPU time so far, µs (user + system). */
  static gint64 cpu_time_us ();
  static double usable_cores ();
  /* The machine's busy and total CPU time so far, in ticks (/proc/stat's
   * first line; false where there is none). */
  static bool machine_ticks (guint64 &busy, guint64 &total);

  LoadGuard guard_;
  Metrics &metrics_;
  DelaySource delays_;
  guint timer_ = 0;
  /* The previous sample's monotonic time and CPU time, µs. */
  gint64 last_wall_us_ = 0;
  gint64 last_cpu_us_ = 0;
  guint64 last_machine_busy_ = 0, last_machine_total_ = 0;
  /* The cores this process may run on (its affinity). */
  double cores_ = 1;
};

}  // namespace wsrtmp
