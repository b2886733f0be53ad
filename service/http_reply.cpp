/* The HTTP routes' answers (see http_reply.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "http_reply.h"

namespace wsrtmp {

void
send_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autofree char *body = json_to_string (node, FALSE);
  send_text (msg, status, "application/json", std::string (body) + "\n");
}

void
send_json (SoupServerMessage *msg, guint status, JsonBuilder *builder)
{
  g_autoptr (JsonNode) node = json_builder_get_root (builder);
  send_json (msg, status, node);
}

std::string
error_body (const std::string &kind, const std::string &message)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, kind.c_str ());
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message.c_str ());
  json_builder_end_object (builder);
  g_autoptr (JsonNode) node = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (node, FALSE);
  return std::string (text) + "\n";
}

void
send_error (SoupServerMessage *msg, guint status, const std::string &kind,
    const std::string &message)
{
  send_text (msg, status, "application/json", error_body (kind, message));
}

}  // namespace wsrtmp
