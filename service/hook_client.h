/* --on-publish: asks the operator's own service whether a connection may
 * publish, before its broadcast starts or it takes over a running one.
 * POSTs {"key","transport","client","user_agent","origin","query"} as JSON
 * with libsoup's SoupSession; a 2xx answer allows (its body may choose the
 * broadcast's destinations: {"destinations": [URL or {"url","name"}, ...],
 * "record": bool}, checked as --streams-file's are), anything else refuses
 * (its {"reason"} is shown to the streamer), and no answer within
 * --hook-timeout refuses, and so does an answer over MAX_ANSWER_BYTES
 * (not read further).
 *
 * Asynchronous on the main context: the main loop never waits for the hook;
 * the server holds the connection's handshake meanwhile (server.cpp).
 *
 * Main thread only. Destroying the client cancels what is pending: those
 * callbacks are never called.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "destination_choice.h"

#include <libsoup/soup.h>

#include <functional>
#include <map>
#include <string>

namespace wsrtmp {

/* Who asks to publish. */
struct PublishRequest {
  std::string key;
  std::string transport = "websocket";
  std::string client;           /* the client's address */
  std::string user_agent;       /* "" when none */
  std::string origin;           /* "" when none */
  std::string query;            /* the URI's query, without '?' */
};

/* The hook's answer. */
struct PublishVerdict {
  bool allowed = false;
  /* Refused: what the streamer is told (the hook's own short reason when
   * it gave one). */
  std::string reason;
  /* For the log: the status, the timeout, the transport error, what was
   * wrong in the body. */
  std::string detail;
  /* allowed, timeout, refused, error: /metrics' outcome label. */
  std::string outcome;
  /* Allowed: the broadcast's destinations, when the body chose them. */
  DestinationOverride destinations;
};

/* The hook's answer body read into verdict (status: the HTTP status). A
 * pure function, tested without a server. */
PublishVerdict read_publish_answer (guint status, const std::string &body);

class HookClient {
 public:
  /* An answer body larger than this refuses: a destination list is a few
   * hundred bytes, and the daemon keeps no unbounded answer in memory. */
  static constexpr guint MAX_ANSWER_BYTES = 64 * 1024;

  using Callback = std::function<void (const PublishVerdict &verdict)>;

  HookClient (std::string url, int timeout_s);
  ~HookClient ();
  HookClient (const HookClient &) = delete;
  HookClient &operator= (const HookClient &) = delete;

  /* Asks; done is called once, later, from the main loop (never from
   * inside this call). Returns an id for cancel (). */
  guint64 check (const PublishRequest &request, Callback done);
  /* The asker went away: done is not called. */
  void cancel (guint64 id);
  size_t pending () const { return pending_.size (); }

 private:
  struct Pending;
  void finish (Pending *pending, const PublishVerdict &verdict);
  void read_answer (Pending *pending);
  static void on_sent (GObject *source, GAsyncResult *result, gpointer data);
  static void on_read (GObject *source, GAsyncResult *result, gpointer data);
  static gboolean on_timeout (gpointer data);

  const std::string url_;
  const int timeout_s_;
  SoupSession *session_ = nullptr;
  std::map<guint64, Pending *> pending_;
  guint64 next_id_ = 1;
};

}  // namespace wsrtmp
