/* What wsrtmpd sends a WebSocket client besides the close code: JSON text
 * frames ({"type":"error"} is built here; each sender builds its own
 * others), and how a connection is closed or refused. The close codes
 * (CloseCode) and the closing itself are shared with wsserversrc:
 * plugin/wsclose.h.
 *
 * Every function runs in the connection's main context (wsrtmpd's main
 * thread).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <initializer_list>
#include <string>
#include <utility>

namespace wsrtmp {

/* {"type":type, name:value, ...} with string values, in the order given.
 * A new node the caller frees. */
JsonNode *string_frame (const char *type,
    std::initializer_list<std::pair<const char *, const char *>> members);

/* {"type":"error","kind":…,"message":…}: the page decides on kind (the
 * word /metrics counts, README's table), the message is for people. A new
 * node the caller frees. */
JsonNode *error_frame (const std::string &message, const std::string &kind);

/* Sends a JSON text frame if the connection is still open. */
void send_json (SoupWebsocketConnection *conn, JsonNode *node);

/* Closes a WebSocket (websocket_close), keeping it alive until the closing
 * handshake is done even if its owner goes away first. */
void close_websocket (SoupWebsocketConnection *conn, gushort code,
    const std::string &reason);

/* Refuses a just-accepted WebSocket: an error frame (with its kind, as in
 * Failure), then the close code (any code, including those libsoup will
 * not send itself, like 1013). */
void refuse_websocket (SoupWebsocketConnection *conn, gushort code,
    const std::string &reason, const std::string &kind);

}  // namespace wsrtmp
