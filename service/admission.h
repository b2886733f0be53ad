/* Whether a new WebSocket connection may stream, and how: refused (with
 * the close code, reason and kind its client is told), joining its key's
 * running broadcast, or starting a new broadcast. A pure function of the
 * configuration, the request and what the server runs now: no I/O, no
 * clock (the time is part of the request), so it is tested without a
 * daemon (tests/service/test_core.cpp). The Server gathers the inputs and
 * acts on the decision.
 *
 * The checks, in order: Origin (--allowed-origins; for WHIP only when
 * one came), the key's form, the
 * key allowed (--keys-file, --streams-file), the token (--token-secret),
 * a ban (the admin API's kick), draining, capacity (--max-sessions, unless
 * joining; the overload guard, unless joining or taking over the key's
 * own broadcast), the client's address (--max-connections-per-ip).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "bans.h"
#include "daemon_config.h"
#include "failure.h"

#include <glib.h>

#include <string>
#include <vector>

namespace wsrtmp {

/* Where clients stream: /ingest/KEY. */
constexpr const char *INGEST_PREFIX = "/ingest";

/* The connection asking: a WebSocket handshake (the key in the path, the
 * token in the query) or a WHIP offer (whip_endpoint.h: both in its
 * Authorization: Bearer KEY[?token=EXPIRY.HMAC]). */
struct AdmissionRequest {
  std::string path;             /* /ingest/KEY, as the URI has it */
  std::string query;            /* the URI's query, "" when none */
  /* WHIP: the bearer (path unused). A WHIP sender that is no browser
   * (OBS, a mobile app) sends no Origin: --allowed-origins then only
   * checks an Origin that came (the bearer is the credential). */
  bool whip = false;
  std::string bearer;
  bool has_origin = false;      /* an Origin header came */
  std::string origin;           /* its value */
  gint64 now_s = 0;             /* unix seconds, for the token */
  gint64 now_us = 0;            /* unix microseconds, for the bans */
};

/* What the server runs now, as far as admission cares. */
struct AdmissionState {
  /* The server is shutting down (SIGTERM). */
  bool draining = false;
  /* A connection joins its key's running broadcast instead of starting
   * one (--continuity-timeout above 0). */
  bool continuity = false;
  struct RunningBroadcast {
    std::string key;
    bool accepting;             /* Broadcast::accepting () */
  };
  std::vector<RunningBroadcast> broadcasts;     /* oldest first */
  /* Streams the client's address has now. */
  int streams_from_peer = 0;
  /* The overload guard refuses new broadcasts (load_guard.h). */
  bool overloaded = false;
  /* Keys an operator kicked out for a while (nullptr: none). */
  const Bans *bans = nullptr;
};

struct Admission {
  enum class Verdict { Refuse, Join, Start };
  Verdict verdict = Verdict::Refuse;
  /* The stream key from the path (whatever it is). */
  std::string key;
  /* Refuse: what the client is told and the metrics count. */
  Failure refusal { 0, "", "" };
  /* Refuse: the log may name the key (masked); false when the connection
   * was refused before its key was found valid. */
  bool key_known = false;
  /* Refuse: by the overload guard (counted apart). */
  bool overload = false;
  /* Join: which of AdmissionState::broadcasts. */
  size_t join = 0;
  /* Start: an older broadcast for this key is still running; the new one
   * waits until it left the RTMP server (which would refuse a second
   * publish under one name). */
  bool wait_for_previous = false;
};

Admission admit (const Config &config, const AdmissionRequest &request,
    const AdmissionState &state);

/* --max-sessions broadcasts run: no new broadcast (a connection may still
 * join one), and /healthz says "full". */
bool at_capacity (const Config &config, size_t broadcasts);

/* Behind a load balancer (a --trusted-proxies peer) a draining server
 * declines the WebSocket handshake with 503 instead of upgrading and
 * closing with 1001, so the proxy retries the next node. peer: the TCP
 * peer. */
bool decline_handshake (const Config &config, bool draining,
    const std::string &peer);

}  // namespace wsrtmp
