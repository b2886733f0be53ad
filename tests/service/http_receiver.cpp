/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "http_receiver.h"

#include <json-glib/json-glib.h>

namespace wsrtmp::test {

void
Receiver::on_request (SoupServer *, SoupServerMessage *msg, const char *path,
    GHashTable *, gpointer data)
{
  auto *self = static_cast<Receiver *> (data);
  SoupMessageBody *request = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (request);
  gsize size = 0;
  auto *text = static_cast<const char *> (g_bytes_get_data (bytes, &size));
  Received got;
  got.path = path;
  got.body = std::string (text ? text : "", size);
  const char *signature = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "X-Wsrtmp-Signature");
  got.signature = signature ? signature : "";
  got.at_us = g_get_monotonic_time ();
  Answer answer = self->decide_ (got.body);
  got.status = answer.status;
  {
    std::lock_guard<std::mutex> hold (self->lock_);
    self->received_.push_back (got);
  }
  soup_server_message_set_status (msg, answer.status, nullptr);
  soup_server_message_set_response (msg, "application/json",
      SOUP_MEMORY_COPY, answer.body.c_str (), answer.body.size ());
  if (!answer.delay_ms)
    return;
  soup_server_message_pause (msg);
  g_object_ref (msg);
  GSource *timer = g_timeout_source_new (answer.delay_ms);
  g_source_set_callback (timer, [] (gpointer m) {
    auto *held = static_cast<SoupServerMessage *> (m);
    soup_server_message_unpause (held);
    g_object_unref (held);
    return G_SOURCE_REMOVE;
  }, msg, nullptr);
  g_source_attach (timer, self->context_);
  g_source_unref (timer);
}

std::string
member (const std::string &json, const char *name)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, json.c_str (), -1, nullptr))
    return "";
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (root, name))
    return "";
  JsonNode *node = json_object_get_member (root, name);
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  g_autofree char *text = json_to_string (node, FALSE);
  return text;
}

}  // namespace wsrtmp::test
