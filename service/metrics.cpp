/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "metrics.h"
#include "failure.h"

#include <sstream>

namespace wsrtmp {

void
Metrics::session_finished (Outcome outcome)
{
  active_--;
  switch (outcome) {
    case Outcome::Ended: ended_++; break;
    case Outcome::Error: failed_++; break;
    case Outcome::Refused: refused_++; break;
  }
}

void
Metrics::add_slate_seconds (double seconds)
{
  if (seconds > 0)
    slate_ms_ += static_cast<guint64> (seconds * 1000);
}

void
Metrics::session_refused (const std::string &kind)
{
  refused_++;
  error (kind);
}

void
Metrics::error (const std::string &kind)
{
  /* A kind the page and the README do not know (tests run with criticals
   * fatal). Still counted. */
  if (!is_error_kind (kind) && kind != RTMP_LOST_KIND)
    g_critical ("error kind \"%s\" is not in failure.cpp's list (nor, "
        "likely, in README.md's table and web/js/error_kinds.js)",
        kind.c_str ());
  std::lock_guard<std::mutex> lock (errors_lock_);
  errors_[kind]++;
}

void
Metrics::destination_state (const std::string &name, const char *from,
    const char *to)
{
  std::lock_guard<std::mutex> lock (errors_lock_);
  auto &counts = destinations_[name];
  for (const char *state : { "connecting", "live", "reconnecting", "stalled",
           "failed" })
    counts.states.emplace (state, 0);
  if (from)
    counts.states[from]--;
  if (to)
    counts.states[to]++;
}

void
Metrics::add_destination_bytes (const std::string &name, guint64 bytes)
{
  std::lock_guard<std::mutex> lock (errors_lock_);
  destinations_[name].bytes_out += bytes;
}

void
Metrics::destination_reconnect (const std::string &name)
{
  std::lock_guard<std::mutex> lock (errors_lock_);
  destinations_[name].reconnects++;
}

void
Metrics::publish_hook (const std::string &outcome)
{
  std::lock_guard<std::mutex> lock (errors_lock_);
  publish_hooks_[outcome]++;
}

/* Label values are names from the configuration; quote what Prometheus
 * needs quoted anyway. */
static std::string
label (const std::string &value)
{
  std::string out;
  for (char c : value) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string
Metrics::prometheus_text () const
{
  std::ostringstream out;
  out << "# HELP wsrtmp_sessions_active Streams currently connected or "
         "draining.\n"
         "# TYPE wsrtmp_sessions_active gauge\n"
         "wsrtmp_sessions_active " << active_.load () << "\n"
         "# HELP wsrtmp_clients_active Distinct client addresses with a "
         "stream (behind --trusted-proxies: the clients', not the proxy's).\n"
         "# TYPE wsrtmp_clients_active gauge\n"
         "wsrtmp_clients_active " << clients_active_.load () << "\n"
         "# HELP wsrtmp_sessions_total Finished or refused streams by outcome.\n"
         "# TYPE wsrtmp_sessions_total counter\n"
         "wsrtmp_sessions_total{outcome=\"ended\"} " << ended_.load () << "\n"
         "wsrtmp_sessions_total{outcome=\"error\"} " << failed_.load () << "\n"
         "wsrtmp_sessions_total{outcome=\"refused\"} " << refused_.load () << "\n"
         "# HELP wsrtmp_broadcasts_active Broadcasts running (one publish "
         "each), with or without a connection.\n"
         "# TYPE wsrtmp_broadcasts_active gauge\n"
         "wsrtmp_broadcasts_active " << broadcasts_active_.load () << "\n"
         "# HELP wsrtmp_broadcast_gaps_total Times a broadcast lost its "
         "connection and showed the slate.\n"
         "# TYPE wsrtmp_broadcast_gaps_total counter\n"
         "wsrtmp_broadcast_gaps_total " << gaps_.load () << "\n"
         "# HELP wsrtmp_slate_seconds_total Seconds of slate sent, all "
         "broadcasts.\n"
         "# TYPE wsrtmp_slate_seconds_total counter\n"
         "wsrtmp_slate_seconds_total " << slate_ms_.load () / 1000.0 << "\n"
         "# HELP wsrtmp_bytes_in_total Bytes received from browsers.\n"
         "# TYPE wsrtmp_bytes_in_total counter\n"
         "wsrtmp_bytes_in_total " << bytes_in_.load () << "\n"
         "# HELP wsrtmp_bytes_out_total FLV bytes produced for destinations.\n"
         "# TYPE wsrtmp_bytes_out_total counter\n"
         "wsrtmp_bytes_out_total " << bytes_out_.load () << "\n"
         "# HELP wsrtmp_webhook_delivered_total Webhook events the receiver "
         "took (2xx).\n"
         "# TYPE wsrtmp_webhook_delivered_total counter\n"
         "wsrtmp_webhook_delivered_total " << webhooks_delivered_.load () <<
         "\n"
         "# HELP wsrtmp_webhook_failed_total Webhook deliveries that failed "
         "(each attempt; most are retried).\n"
         "# TYPE wsrtmp_webhook_failed_total counter\n"
         "wsrtmp_webhook_failed_total " << webhooks_failed_.load () << "\n"
         "# HELP wsrtmp_webhook_dropped_total Webhook events given up: "
         "retries spent, or pushed out of the full queue.\n"
         "# TYPE wsrtmp_webhook_dropped_total counter\n"
         "wsrtmp_webhook_dropped_total " << webhooks_dropped_.load () << "\n"
         "# HELP wsrtmp_webhook_queued Webhook events waiting to be "
         "delivered.\n"
         "# TYPE wsrtmp_webhook_queued gauge\n"
         "wsrtmp_webhook_queued " << webhooks_queued_.load () << "\n"
         "# HELP wsrtmp_overloaded 1 while the overload guard refuses new "
         "broadcasts (kind capacity, /healthz full).\n"
         "# TYPE wsrtmp_overloaded gauge\n"
         "wsrtmp_overloaded " << (overloaded_.load () ? 1 : 0) << "\n"
         "# HELP wsrtmp_output_delay_ms How far the broadcasts' output runs "
         "behind real time (median, last second).\n"
         "# TYPE wsrtmp_output_delay_ms gauge\n"
         "wsrtmp_output_delay_ms " << output_delay_ms_.load () << "\n"
         "# HELP wsrtmp_cpu_percent wsrtmpd's CPU over the last second, "
         "percent of the cores it may run on.\n"
         "# TYPE wsrtmp_cpu_percent gauge\n"
         "wsrtmp_cpu_percent " << cpu_percent_.load () << "\n"
         "# HELP wsrtmp_machine_cpu_percent The machine's CPU over the last "
         "second, percent of all its cores.\n"
         "# TYPE wsrtmp_machine_cpu_percent gauge\n"
         "wsrtmp_machine_cpu_percent " << machine_cpu_percent_.load () << "\n"
         "# HELP wsrtmp_overload_refused_total New broadcasts the overload "
         "guard refused (also in wsrtmp_errors_total{kind=\"capacity\"}).\n"
         "# TYPE wsrtmp_overload_refused_total counter\n"
         "wsrtmp_overload_refused_total " << overload_refused_.load () << "\n"
         "# HELP wsrtmp_errors_total Errors by kind.\n"
         "# TYPE wsrtmp_errors_total counter\n";
  std::lock_guard<std::mutex> lock (errors_lock_);
  for (const auto &[kind, count] : errors_)
    out << "wsrtmp_errors_total{kind=\"" << kind << "\"} " << count << "\n";
  out << "# HELP wsrtmp_publish_hook_total --on-publish answers by "
         "outcome.\n"
         "# TYPE wsrtmp_publish_hook_total counter\n";
  for (const auto &[outcome, count] : publish_hooks_)
    out << "wsrtmp_publish_hook_total{outcome=\"" << outcome << "\"} " <<
        count << "\n";
  out << "# HELP wsrtmp_destination_state Destinations of running streams by "
         "name and state.\n"
         "# TYPE wsrtmp_destination_state gauge\n";
  for (const auto &[name, counts] : destinations_)
    for (const auto &[state, count] : counts.states)
      out << "wsrtmp_destination_state{destination=\"" << label (name) <<
          "\",state=\"" << state << "\"} " << count << "\n";
  out << "# HELP wsrtmp_destination_bytes_out_total Bytes a destination "
         "accepted.\n"
         "# TYPE wsrtmp_destination_bytes_out_total counter\n";
  for (const auto &[name, counts] : destinations_)
    out << "wsrtmp_destination_bytes_out_total{destination=\"" <<
        label (name) << "\"} " << counts.bytes_out << "\n";
  out << "# HELP wsrtmp_destination_reconnects_total Times a destination "
         "was lost and reconnected to.\n"
         "# TYPE wsrtmp_destination_reconnects_total counter\n";
  for (const auto &[name, counts] : destinations_)
    out << "wsrtmp_destination_reconnects_total{destination=\"" <<
        label (name) << "\"} " << counts.reconnects << "\n";
  return out.str ();
}

}  // namespace wsrtmp
