/* --webhook-url: events about broadcasts POSTed to the operator's own
 * service, each a JSON object {"id", "type", "time", "key", ...} signed
 * with X-Wsrtmp-Signature: sha256=<hex HMAC-SHA256 of the exact body
 * bytes> (the secret from --webhook-secret-file, as it is when sent: a
 * SIGHUP's new secret signs what is sent after it).
 *
 * Delivery: one queue in the order events happened; events of one stream
 * key go one at a time, in order (the next waits while one is in flight or
 * waiting to be retried); other keys' events go meanwhile, at most
 * MAX_IN_FLIGHT requests at once. A failed delivery (no 2xx, no answer) is
 * retried after 0.5, 1, 2, 4 and 8 s, then dropped. The queue is bounded:
 * when full, the oldest waiting event is dropped. Counted in /metrics
 * (wsrtmp_webhook_delivered_total, _failed_total, _dropped_total,
 * wsrtmp_webhook_queued). Nothing here ever makes a stream wait.
 *
 * At exit (SIGTERM), once the broadcasts ended and posted their last
 * events, flush () gives what is queued up to FLUSH_AT_EXIT_MS to go
 * (retries waiting are sent at once); destroying it then drops what is
 * left, counted and logged.
 *
 * Main thread only (libsoup's SoupSession on the main context).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "daemon_config.h"
#include "metrics.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace wsrtmp {

class Webhooks {
 public:
  struct Policy {
    size_t max_queued = 1000;           /* waiting events kept at most */
    size_t max_in_flight = 4;           /* requests at once */
    /* Waits before each retry; after the last, the event is dropped. */
    std::vector<guint> retry_ms = { 500, 1000, 2000, 4000, 8000 };
    guint request_timeout_s = 10;       /* an attempt with no answer fails */
  };

  /* config: the URL and the secret (read at each send: reloaded on
   * SIGHUP). */
  Webhooks (const Config &config, Metrics &metrics, Policy policy);
  Webhooks (const Config &config, Metrics &metrics)
      : Webhooks (config, metrics, Policy ()) {}
  ~Webhooks ();
  Webhooks (const Webhooks &) = delete;
  Webhooks &operator= (const Webhooks &) = delete;

  /* Queues an event for key: {"id", "type", "time", "key"} and then
   * fields' members (fields may be nullptr; it is not taken). */
  void post (const std::string &type, const std::string &key,
      JsonObject *fields);

  /* Waiting, in flight or waiting to be retried. */
  size_t queued () const;

  /* How long the daemon waits at exit for queued events. */
  static constexpr guint FLUSH_AT_EXIT_MS = 2500;
  /* done runs (from the main loop) once nothing is queued any more, or
   * after timeout_ms, whichever comes first. Retries waiting go at once. */
  void flush (guint timeout_ms, std::function<void ()> done);

  /* "sha256=" and the hex HMAC-SHA256 of body with secret. */
  static std::string signature (const std::string &secret,
      const std::string &body);
  /* The event's body (a pure function, for the tests): what post () sends
   * for these id and time. */
  static std::string event_body (const std::string &id,
      const std::string &type, const std::string &time,
      const std::string &key, JsonObject *fields);

 private:
  struct Event {
    std::string key, type, id, body;
    guint failures = 0;
  };
  /* An event being sent, or waiting for its retry. */
  struct Active;

  void pump ();
  void send (Active *active);
  void delivered (Active *active);
  void failed (Active *active, const std::string &why);
  void release (Active *active);
  void drop (const Event &event, const std::string &why);
  void update_gauge ();
  static void on_sent (GObject *source, GAsyncResult *result, gpointer data);
  static gboolean on_retry (gpointer data);
  void flushed ();
  static gboolean on_flush_timeout (gpointer data);

  const Config &config_;
  Metrics &metrics_;
  const Policy policy_;
  SoupSession *session_ = nullptr;
  std::deque<Event> queue_;             /* waiting, oldest first */
  std::set<Active *> active_;
  std::set<std::string> busy_keys_;     /* a key with an Active event */
  size_t in_flight_ = 0;
  /* flush (): called once nothing is queued or at its deadline. */
  std::function<void ()> flush_done_;
  guint flush_timer_ = 0;
  /* Drops logged at most once per 10 s (a dead receiver under load). */
  guint64 drops_unlogged_ = 0;
  gint64 drop_logged_us_ = 0;
};

}  // namespace wsrtmp
