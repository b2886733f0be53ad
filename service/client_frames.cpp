/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "client_frames.h"
#include "wsclose.h"

namespace wsrtmp {

JsonNode *
string_frame (const char *type,
    std::initializer_list<std::pair<const char *, const char *>> members)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  for (const auto &[name, value] : members) {
    json_builder_set_member_name (builder, name);
    json_builder_add_string_value (builder, value);
  }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

JsonNode *
error_frame (const std::string &message, const std::string &kind)
{
  return string_frame ("error", { { "kind", kind.c_str () },
      { "message", message.c_str () } });
}

void
send_json (SoupWebsocketConnection *conn, JsonNode *node)
{
  if (soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_autofree char *text = json_to_string (node, FALSE);
  soup_websocket_connection_send_text (conn, text);
}

void
close_websocket (SoupWebsocketConnection *conn, gushort code,
    const std::string &reason)
{
  websocket_close (conn, code, reason.c_str ());
}

void
refuse_websocket (SoupWebsocketConnection *conn, gushort code,
    const std::string &reason, const std::string &kind)
{
  g_autoptr (JsonNode) node = error_frame (reason, kind);
  g_autofree char *text = json_to_string (node, FALSE);
  websocket_refuse (conn, code, reason.c_str (), text);
}

}  // namespace wsrtmp
