/* A broadcast as the admin API shows it (GET /api/v1/broadcasts): one JSON
 * object made of what the daemon already tracks (the Broadcast, its
 * destinations' status rows, the inputs feeding it). doc/openapi.yaml
 * describes the object; nothing in it is a secret (destination URLs and
 * the key in them are masked as in the logs).
 *
 * Main thread only (it reads the live objects).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "broadcast.h"

#include <json-glib/json-glib.h>

#include <string>
#include <vector>

namespace wsrtmp {

/* unix_us as ISO 8601 in UTC, to the second: "2026-12-07T16:36:49Z". */
std::string iso8601_utc (gint64 unix_us);

/* The broadcast's state in the words the page's state frames use
 * (connecting, live, reconnecting, ending, ended, error). */
const char *broadcast_state_word (Broadcast::State state);

/* One input feeding a broadcast, WebSocket session or WHIP sender. */
struct InputView {
  const char *transport;        /* "websocket", "whip" */
  std::string client;           /* its address */
  gint64 connected_unix_us;
  const char *state;            /* the page's state words */
  std::string output_mode;      /* flvencodebin's; "" until decided */
  guint bitrate_kbps;           /* in over the last second */
};

/* {"key", "state", "started", "duration_s", "output", "codecs",
 *  "bitrate_in_kbps", "bitrate_out_kbps", "on_slate", "inputs": [...],
 *  "destinations": [...]}; inputs: those feeding it, oldest first.
 * A new node the caller frees. */
JsonNode *broadcast_view (const Broadcast &broadcast,
    const std::vector<InputView> &inputs);

}  // namespace wsrtmp
