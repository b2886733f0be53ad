/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "admission.h"
#include "tokens.h"
#include "util.h"

#include <algorithm>

namespace wsrtmp {

namespace {

/* The token=... of a URI query, "" when absent. */
std::string
token_of (const std::string &query)
{
  std::string token;
  if (query.empty ())
    return token;
  g_autoptr (GHashTable) params = g_uri_parse_params (query.c_str (), -1,
      "&", G_URI_PARAMS_NONE, nullptr);
  const char *value = params ? static_cast<const char *> (
      g_hash_table_lookup (params, "token")) : nullptr;
  if (value)
    token = value;
  return token;
}

Admission
refused (Admission admission, bool key_known, gushort code,
    const char *reason, const char *kind)
{
  admission.verdict = Admission::Verdict::Refuse;
  admission.key_known = key_known;
  admission.refusal = { code, reason, kind };
  return admission;
}

}  // namespace

bool
at_capacity (const Config &config, size_t broadcasts)
{
  return config.max_sessions > 0 &&
      broadcasts >= static_cast<size_t> (config.max_sessions);
}

bool
decline_handshake (const Config &config, bool draining,
    const std::string &peer)
{
  return draining && !config.trusted_proxies.empty () &&
      config.trusted_proxies.contains (peer);
}

Admission
admit (const Config &config, const AdmissionRequest &request,
    const AdmissionState &state)
{
  Admission admission;
  std::string query = request.query;
  std::string prefix = std::string (INGEST_PREFIX) + "/";
  if (request.whip) {
    /* KEY[?token=...]: the WebSocket URL's key and query, in one header. */
    size_t mark = request.bearer.find ('?');
    admission.key = request.bearer.substr (0, mark);
    query = mark == std::string::npos ? "" : request.bearer.substr (mark + 1);
  } else if (g_str_has_prefix (request.path.c_str (), prefix.c_str ())) {
    admission.key = request.path.substr (prefix.size ());
  }
  const std::string &key = admission.key;

  bool origin_required = !request.whip;
  if (!config.allowed_origins.empty () &&
      (request.has_origin ? !config.origin_allowed (request.origin) :
          origin_required))
    return refused (admission, false, CLOSE_POLICY_VIOLATION,
        "origin not allowed", "origin");
  if (!is_valid_key (key))
    return refused (admission, false, CLOSE_POLICY_VIOLATION,
        "invalid stream key: use 1-128 of A-Z a-z 0-9 _ -", "key");
  if (!config.key_allowed (key))
    return refused (admission, true, CLOSE_POLICY_VIOLATION,
        "stream key not allowed", "key");
  if (!config.token_secret.empty () && !check_token (config.token_secret,
          key, token_of (query), request.now_s))
    return refused (admission, true, CLOSE_POLICY_VIOLATION,
        "invalid or expired token", "token");
  if (gint64 left = state.bans ? state.bans->seconds_left (key,
          request.now_us) : 0) {
    admission.verdict = Admission::Verdict::Refuse;
    admission.key_known = true;
    admission.refusal = { CLOSE_POLICY_VIOLATION, "this stream key was "
        "banned by the operator for another " + std::to_string (left) + " s",
        "banned" };
    return admission;
  }
  if (state.draining)
    return refused (admission, true, CLOSE_GOING_AWAY,
        "server shutting down", "shutdown");

  /* With --continuity-timeout a connection joins its key's running
   * broadcast (a reconnect after a network drop, another tab): no new
   * publish. */
  bool join = false;
  if (state.continuity) {
    for (size_t i = 0; i < state.broadcasts.size (); i++) {
      if (state.broadcasts[i].key == key && state.broadcasts[i].accepting) {
        join = true;
        admission.join = i;
      }
    }
  }
  if (!join && at_capacity (config, state.broadcasts.size ()))
    return refused (admission, true, CLOSE_TRY_AGAIN_LATER,
        "server at capacity, try again later", "capacity");
  /* Overloaded, a broadcast already live keeps its streamer: one that
   * reconnects (or another tab) takes over its own key. */
  const bool takes_over = std::any_of (state.broadcasts.begin (),
      state.broadcasts.end (), [&key] (const auto &broadcast) {
        return broadcast.key == key; });
  if (!join && !takes_over && state.overloaded) {
    admission = refused (admission, true, CLOSE_TRY_AGAIN_LATER,
        "server busy, try again later", "capacity");
    admission.overload = true;
    return admission;
  }
  if (config.max_connections_per_ip > 0 &&
      state.streams_from_peer >= config.max_connections_per_ip)
    return refused (admission, true, CLOSE_TRY_AGAIN_LATER,
        "too many streams from your address, try again later", "per_ip");

  if (join) {
    admission.verdict = Admission::Verdict::Join;
    return admission;
  }
  admission.verdict = Admission::Verdict::Start;
  for (const auto &broadcast : state.broadcasts) {
    if (broadcast.key == key)
      admission.wait_for_previous = true;
  }
  return admission;
}

}  // namespace wsrtmp
