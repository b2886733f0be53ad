/* The one way wsrtmpd's HTTP routes answer with a body they have in hand
 * (/healthz, /livez, /metrics, errors, the 503 of a draining server, the
 * static files' 403 and 404). Main thread, inside a SoupServer handler.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <string>

namespace wsrtmp {

/* Sets status and the whole response (copied). */
inline void
send_text (SoupServerMessage *msg, guint status, const char *type,
    const std::string &body)
{
  soup_server_message_set_status (msg, status, nullptr);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY,
      body.data (), body.size ());
}

/* The node (or the builder's root) as the JSON body. */
void send_json (SoupServerMessage *msg, guint status, JsonNode *node);
void send_json (SoupServerMessage *msg, guint status, JsonBuilder *builder);

/* Errors, as the stream's error frames have them: {"kind": a machine word
 * (README's table), "message": for people}. */
std::string error_body (const std::string &kind, const std::string &message);
void send_error (SoupServerMessage *msg, guint status,
    const std::string &kind, const std::string &message);

}  // namespace wsrtmp
