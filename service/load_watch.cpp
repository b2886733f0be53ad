/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "load_watch.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstring>

namespace wsrtmp {

namespace {

constexpr guint SAMPLE_INTERVAL_MS = 1000;

}  // namespace

LoadWatch::LoadWatch (LoadGuardSettings settings, Metrics &metrics,
    DelaySource delays)
    : guard_ (settings), metrics_ (metrics), delays_ (std::move (delays)),
      last_wall_us_ (g_get_monotonic_time ()), last_cpu_us_ (cpu_time_us ()),
      cores_ (usable_cores ())
{
  machine_ticks (last_machine_busy_, last_machine_total_);
  if (settings.delay_on_ms > 0 || settings.cpu_on_percent > 0 ||
      settings.machine_on_percent > 0)
    timer_ = g_timeout_add (SAMPLE_INTERVAL_MS, &LoadWatch::on_tick, this);
}

LoadWatch::~LoadWatch ()
{
  if (timer_)
    g_source_remove (timer_);
}

gint64
LoadWatch::cpu_time_us ()
{
  struct rusage usage;
  if (getrusage (RUSAGE_SELF, &usage) != 0)
    return 0;
  return (gint64 (usage.ru_utime.tv_sec) + usage.ru_stime.tv_sec) *
      G_USEC_PER_SEC + usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

/* The cores the process may run on: its affinity (what
 * g_get_num_processors counts), or fewer when its cgroup (v2: a container,
 * a systemd CPUQuota=) allows less time than that: "200000 100000" in
 * cpu.max is two cores. */
double
LoadWatch::usable_cores ()
{
  double cores = MAX (1u, g_get_num_processors ());
  g_autofree char *cgroup = nullptr;
  if (!g_file_get_contents ("/proc/self/cgroup", &cgroup, nullptr, nullptr))
    return cores;
  /* "0::/system.slice/wsrtmpd.service" under cgroup v2. */
  const char *path = g_strstr_len (cgroup, -1, "0::");
  if (!path)
    return cores;
  g_autofree char *relative = g_strndup (path + 3, strcspn (path + 3, "\n"));
  g_autofree char *file = g_build_filename ("/sys/fs/cgroup", relative,
      "cpu.max", nullptr);
  g_autofree char *quota = nullptr;
  gint64 max_us = 0, period_us = 0;
  if (g_file_get_contents (file, &quota, nullptr, nullptr) &&
      std::sscanf (quota, "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &max_us,
          &period_us) == 2 && max_us > 0 && period_us > 0)
    cores = MIN (cores, MAX (0.1, double (max_us) / double (period_us)));
  return cores;
}

bool
LoadWatch::machine_ticks (guint64 &busy, guint64 &total)
{
  g_autofree char *stat = nullptr;
  if (!g_file_get_contents ("/proc/stat", &stat, nullptr, nullptr))
    return false;
  /* cpu  user nice system idle iowait irq softirq steal ... */
  guint64 field[8] = { 0 };
  if (std::sscanf (stat, "cpu %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
          " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
          " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
          &field[0], &field[1], &field[2], &field[3], &field[4], &field[5],
          &field[6], &field[7]) < 4)
    return false;
  total = 0;
  for (guint64 value : field)
    total += value;
  /* Idle and waiting for I/O are not busy. */
  busy = total - field[3] - field[4];
  return true;
}

gboolean
LoadWatch::on_tick (gpointer data)
{
  static_cast<LoadWatch *> (data)->sample ();
  return G_SOURCE_CONTINUE;
}

void
LoadWatch::sample ()
{
  const gint64 now = g_get_monotonic_time ();
  const gint64 cpu = cpu_time_us ();
  LoadSample sample;
  /* Over the time that really passed: a late tick is a longer interval. */
  if (now > last_wall_us_)
    sample.cpu_percent = 100.0 * (cpu - last_cpu_us_) /
        (double (now - last_wall_us_) * cores_);
  last_wall_us_ = now;
  last_cpu_us_ = cpu;
  guint64 busy = 0, total = 0;
  if (machine_ticks (busy, total) && total > last_machine_total_)
    sample.machine_percent = 100.0 * double (busy - last_machine_busy_) /
        double (total - last_machine_total_);
  last_machine_busy_ = busy;
  last_machine_total_ = total;
  const std::vector<gint64> delays = delays_ ();
  for (gint64 delay : delays) {
    if (delay >= 0)
      sample.delays_ms.push_back (delay);
  }
  if (guard_.update (sample)) {
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
        "MESSAGE", "overload guard %s: %s; %zu broadcasts (%zu with output "
        "in the last second)", guard_.at_risk () ?
        "on, refusing new broadcasts (kind capacity)" :
        "off, admitting new broadcasts again", guard_.figures ().c_str (),
        delays.size (), sample.delays_ms.size ());
  }
  metrics_.set_load (guard_.at_risk (), guard_.delay_ms (),
      guard_.cpu_percent (), guard_.machine_percent ());
}

}  // namespace wsrtmp
