/* The overload guard's decision: whether the daemon is at risk of not
 * keeping up, from samples taken once a second (LoadWatch takes them).
 * Offered more than the machine carries, every broadcast falls behind
 * together; refusing the next streamer (kind "capacity", /healthz "full")
 * keeps the ones already live in real time.
 *
 * Three signals, any one turns the guard on:
 * - the output delay: how far each broadcast's output runs behind real
 *   time (its FLV timestamps against the monotonic clock, grown since the
 *   broadcast's best moment), the median over the broadcasts, and at least
 *   two broadcasts that far behind: a streamer's slow uplink is its own
 *   delay, not the machine's (alone, it would be the median);
 * - the process's CPU, in percent of the cores it may run on (affinity and
 *   the cgroup's CPU quota), over busy_samples seconds in a row: a busy
 *   process refuses before the delay grows, a one-second spike (a slate
 *   being encoded, transcoders starting) does not;
 * - the whole machine's CPU, likewise (off by default): on a dedicated
 *   node, other processes (nginx beside us) take what the broadcasts would
 *   need, which the process's own share cannot show; on a shared one (a
 *   developer's machine with browsers, a Kubernetes node whose /proc/stat
 *   is the host's) it would refuse streamers for others' work.
 * It turns off only after calm_samples samples in a row with the delay
 * under half its limit and both CPU figures 10 points under theirs, so
 * that it does not flap while the broadcasts it refused for would still
 * fit.
 *
 * Pure: no clock, no I/O; tested in tests/service/test_core.cpp.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace wsrtmp {

struct LoadGuardSettings {
  /* --overload-delay-ms: the median output delay that turns the guard on
   * (0: not watched). */
  gint64 delay_on_ms = 0;
  /* --overload-cpu-percent: the process's CPU, in percent of its cores,
   * that turns the guard on (0: not watched). */
  int cpu_on_percent = 0;
  /* --overload-machine-percent: the same for the whole machine. */
  int machine_on_percent = 0;
  /* Samples in a row over a CPU limit before the guard turns on. */
  int busy_samples = 2;
  /* Calm samples in a row before the guard turns off. */
  int calm_samples = 3;
};

struct LoadSample {
  /* The process's CPU over the last interval, percent of the cores it may
   * run on (100: all of them busy). */
  double cpu_percent = 0;
  /* The whole machine's CPU over the last interval, percent of all its
   * cores. */
  double machine_percent = 0;
  /* Each broadcast's output delay, ms (those with no output yet left
   * out). */
  std::vector<gint64> delays_ms;
};

class LoadGuard {
 public:
  explicit LoadGuard (LoadGuardSettings settings) : settings_ (settings) {}

  /* Takes one sample; true when at_risk () changed with it. */
  bool update (const LoadSample &sample);
  /* New broadcasts are to be refused. */
  bool at_risk () const { return at_risk_; }
  /* The last sample's figures: the median output delay (0 with no
   * broadcast), the process's and the machine's CPU. */
  gint64 delay_ms () const { return delay_ms_; }
  double cpu_percent () const { return cpu_percent_; }
  double machine_percent () const { return machine_percent_; }
  /* The figures and limits, for the log line when the guard turns. */
  std::string figures () const;

 private:
  bool cpu_over_limit () const;
  bool over_limit () const;
  bool calm () const;

  LoadGuardSettings settings_;
  bool at_risk_ = false;
  int calm_in_a_row_ = 0;
  int busy_in_a_row_ = 0;       /* samples in a row over a CPU limit */
  size_t behind_ = 0;           /* broadcasts at the delay limit or over */
  gint64 delay_ms_ = 0;
  double cpu_percent_ = 0;
  double machine_percent_ = 0;
};

}  // namespace wsrtmp
