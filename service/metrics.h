/* Process-wide counters exposed at /metrics in the Prometheus text format.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>

namespace wsrtmp {

class Metrics {
 public:
  /* How a session ended, for wsrtmp_sessions_total{outcome}. */
  enum class Outcome { Ended, Error, Refused };

  void session_started () { active_++; }
  /* Distinct client addresses with a stream (see client_address.h). */
  void set_clients_active (size_t clients) { clients_active_ = clients; }
  void session_finished (Outcome outcome);
  void session_refused (const std::string &kind);
  /* kind: a short machine word, the one the client's {"type":"error"}
   * frame carries (see failure.h), or "rtmp_lost" for an RTMP
   * connection that dropped and is being retried. */
  void error (const std::string &kind);
  /* Broadcasts (one publish each, outliving their connections). */
  void broadcast_started () { broadcasts_active_++; }
  void broadcast_finished () { broadcasts_active_--; }
  /* A broadcast lost its input and showed the slate. */
  void broadcast_gap () { gaps_++; }
  void add_slate_seconds (double seconds);
  void add_bytes_in (guint64 bytes) { bytes_in_ += bytes; }
  void add_bytes_out (guint64 bytes) { bytes_out_ += bytes; }

  /* Per destination name (from the configuration, never a URL): one
   * destination left state from (nullptr: it is new) for state to
   * (nullptr: it is gone). */
  void destination_state (const std::string &name, const char *from,
      const char *to);
  void add_destination_bytes (const std::string &name, guint64 bytes);
  void destination_reconnect (const std::string &name);

  /* Webhooks (webhooks.h): an event the receiver took (2xx), a failed
   * attempt (retried or not), an event given up (retries spent, or pushed
   * out of the full queue); events waiting now. */
  void webhook_delivered () { webhooks_delivered_++; }
  void webhook_failed () { webhooks_failed_++; }
  void webhook_dropped () { webhooks_dropped_++; }
  void set_webhooks_queued (size_t queued) { webhooks_queued_ = queued; }
  /* --on-publish answers by outcome: allowed, refused, timeout, error. */
  void publish_hook (const std::string &outcome);

  /* The overload guard (load_watch.h): on or off, and the figures it
   * decided on last; a broadcast it refused. */
  void set_load (bool overloaded, gint64 delay_ms, double cpu_percent,
      double machine_percent) {
    overloaded_ = overloaded;
    output_delay_ms_ = delay_ms;
    cpu_percent_ = cpu_percent;
    machine_cpu_percent_ = machine_percent;
  }
  void overload_refused () { overload_refused_++; }

  int active () const { return active_; }
  std::string prometheus_text () const;

 private:
  std::atomic<int> active_ { 0 };
  std::atomic<size_t> clients_active_ { 0 };
  std::atomic<guint64> ended_ { 0 }, failed_ { 0 }, refused_ { 0 };
  std::atomic<guint64> bytes_in_ { 0 }, bytes_out_ { 0 };
  std::atomic<int> broadcasts_active_ { 0 };
  std::atomic<guint64> gaps_ { 0 };
  std::atomic<guint64> slate_ms_ { 0 };
  std::atomic<guint64> webhooks_delivered_ { 0 }, webhooks_failed_ { 0 },
      webhooks_dropped_ { 0 };
  std::atomic<size_t> webhooks_queued_ { 0 };
  std::atomic<bool> overloaded_ { false };
  std::atomic<gint64> output_delay_ms_ { 0 };
  std::atomic<double> cpu_percent_ { 0 };
  std::atomic<double> machine_cpu_percent_ { 0 };
  std::atomic<guint64> overload_refused_ { 0 };
  mutable std::mutex errors_lock_;      /* guards errors_ */
  std::map<std::string, guint64> publish_hooks_;        /* errors_lock_ */
  std::map<std::string, guint64> errors_;
  struct DestinationCounts {
    std::map<std::string, gint64> states;
    guint64 bytes_out = 0, reconnects = 0;
  };
  std::map<std::string, DestinationCounts> destinations_;  /* errors_lock_ */
};

}  // namespace wsrtmp
