/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "load_guard.h"

#include <algorithm>
#include <cstdio>

namespace wsrtmp {

namespace {

/* Points under cpu_on_percent the CPU must fall before the guard turns
 * off. */
constexpr double CPU_CALM_MARGIN = 10;

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
LoadGuard::over_limit () const
{
  return (settings_.delay_on_ms > 0 && delay_ms_ >= settings_.delay_on_ms) ||
      (settings_.cpu_on_percent > 0 &&
          cpu_percent_ >= settings_.cpu_on_percent);
}

bool
LoadGuard::calm () const
{
  return (settings_.delay_on_ms <= 0 ||
          delay_ms_ < settings_.delay_on_ms / 2) &&
      (settings_.cpu_on_percent <= 0 ||
          cpu_percent_ < settings_.cpu_on_percent - CPU_CALM_MARGIN);
}

bool
LoadGuard::update (const LoadSample &sample)
{
  delay_ms_ = median (sample.delays_ms);
  cpu_percent_ = sample.cpu_percent;
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
  char text[160];
  std::snprintf (text, sizeof text, "output delay (median) %" G_GINT64_FORMAT
      " ms, limit %s; CPU %.0f %% of the cores, limit %s", delay_ms_,
      settings_.delay_on_ms > 0 ? (std::to_string (settings_.delay_on_ms) +
          " ms").c_str () : "none",
      cpu_percent_, settings_.cpu_on_percent > 0 ? (std::to_string (
              settings_.cpu_on_percent) + " %").c_str () : "none");
  return text;
}

}  // namespace wsrtmp
