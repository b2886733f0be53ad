/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "load_guard.h"

#include <algorithm>

namespace wsrtmp {

namespace {

/* Points under cpu_on_percent the CPU must fall before the guard turns
 * off. */
constexpr double CPU_CALM_MARGIN = 10;
/* Broadcasts that must run behind for the delay to count as the
 * machine's. */
constexpr size_t BEHIND_AT_LEAST = 2;

gint64
median (std::vector<gint64> values)
{
  if (values.empty ())
    return 0;
  auto middle = values.begin () + values.size () / 2;
  std::nth_element (values.begin (), middle, values.end ());
  return *middle;
}

}  // namespace

bool
LoadGuard::cpu_over_limit () const
{
  return (settings_.cpu_on_percent > 0 &&
          cpu_percent_ >= settings_.cpu_on_percent) ||
      (settings_.machine_on_percent > 0 &&
          machine_percent_ >= settings_.machine_on_percent);
}

bool
LoadGuard::over_limit () const
{
  return (settings_.delay_on_ms > 0 && delay_ms_ >= settings_.delay_on_ms &&
          behind_ >= BEHIND_AT_LEAST) ||
      busy_in_a_row_ >= settings_.busy_samples;
}

bool
LoadGuard::calm () const
{
  return (settings_.delay_on_ms <= 0 ||
          delay_ms_ < settings_.delay_on_ms / 2) &&
      (settings_.cpu_on_percent <= 0 ||
          cpu_percent_ < settings_.cpu_on_percent - CPU_CALM_MARGIN) &&
      (settings_.machine_on_percent <= 0 ||
          machine_percent_ < settings_.machine_on_percent - CPU_CALM_MARGIN);
}

bool
LoadGuard::update (const LoadSample &sample)
{
  delay_ms_ = median (sample.delays_ms);
  cpu_percent_ = sample.cpu_percent;
  machine_percent_ = sample.machine_percent;
  behind_ = settings_.delay_on_ms > 0 ? std::count_if (
      sample.delays_ms.begin (), sample.delays_ms.end (),
      [this] (gint64 delay) { return delay >= settings_.delay_on_ms; }) : 0;
  busy_in_a_row_ = cpu_over_limit () ? busy_in_a_row_ + 1 : 0;
  const bool was = at_risk_;
  if (over_limit ()) {
    at_risk_ = true;
    calm_in_a_row_ = 0;
  } else if (at_risk_) {
    calm_in_a_row_ = calm () ? calm_in_a_row_ + 1 : 0;
    if (calm_in_a_row_ >= settings_.calm_samples) {
      at_risk_ = false;
      calm_in_a_row_ = 0;
    }
  }
  return at_risk_ != was;
}

std::string
LoadGuard::figures () const
{
  auto limit = [] (gint64 value, const char *unit) {
    return value > 0 ? std::to_string (value) + unit : std::string ("none");
  };
  g_autofree char *cpu = g_strdup_printf ("%.0f", cpu_percent_);
  g_autofree char *machine = g_strdup_printf ("%.0f", machine_percent_);
  return "output delay (median) " + std::to_string (delay_ms_) +
      " ms, limit " + limit (settings_.delay_on_ms, " ms") + "; CPU " + cpu +
      " % of the cores, limit " + limit (settings_.cpu_on_percent, " %") +
      "; machine " + machine + " %, limit " +
      limit (settings_.machine_on_percent, " %");
}

}  // namespace wsrtmp
