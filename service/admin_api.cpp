/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "admin_api.h"
#include "broadcast_view.h"
#include "http_reply.h"
#include "recordings_api.h"
#include "tokens.h"
#include "wslisten.h"

#include <json-glib/json-glib.h>

#include <vector>

namespace wsrtmp {

namespace {

constexpr const char *PREFIX = "/api/v1/broadcasts";
constexpr const char *RECORDINGS = "/api/v1/recordings";
/* The operator's reason is shown to the streamer: one line, bounded. */
constexpr gsize MAX_REASON = 200;
constexpr gint64 MAX_BAN_S = 365LL * 24 * 3600;

void
method_not_allowed (SoupServerMessage *msg, const char *allow)
{
  send_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed",
      std::string ("use ") + allow);
  soup_message_headers_replace (soup_server_message_get_response_headers (
          msg), "Allow", allow);
}

/* path's segments after the prefix, each percent-decoded ("" for a bad
 * escape). */
std::vector<std::string>
segments (const std::string &rest)
{
  std::vector<std::string> parts;
  g_auto (GStrv) split = g_strsplit (rest.c_str (), "/", -1);
  for (char **part = split; *part; part++) {
    g_autofree char *decoded = g_uri_unescape_string (*part, nullptr);
    parts.push_back (decoded ? decoded : "");
  }
  return parts;
}

}  // namespace

bool
admin_authorized (const std::string &token, const char *header)
{
  if (token.empty ())
    return true;
  const std::string given = header ? header : "";
  const std::string scheme = "Bearer ";
  if (given.size () <= scheme.size () ||
      g_ascii_strncasecmp (given.c_str (), scheme.c_str (),
          scheme.size ()) != 0)
    return false;
  /* Digests of both: equal lengths, so every byte is compared whatever
   * was sent, and the time says nothing about the token. */
  std::string candidate = given.substr (scheme.size ());
  g_autofree char *a = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
      candidate.c_str (), candidate.size ());
  g_autofree char *b = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
      token.c_str (), token.size ());
  return equal_in_constant_time (a, b);
}

AdminApi::AdminApi (const Config &config, Server &server)
    : config_ (config), server_ (server)
{
}

AdminApi::~AdminApi ()
{
  if (soup_)
    soup_server_disconnect (soup_.get ());
}

bool
AdminApi::listen (std::string &url, std::string &error)
{
  soup_.reset (soup_server_new ("server-header", "wsrtmpd ", nullptr));
  g_signal_connect (soup_.get (), "request-started",
      G_CALLBACK (&AdminApi::on_request_started), this);
  soup_server_add_handler (soup_.get (), nullptr, &AdminApi::on_request, this,
      nullptr);
  g_autoptr (GError) gerror = nullptr;
  if (!listen_on_host (soup_.get (), config_.admin_host, config_.admin_port,
          static_cast<SoupServerListenOptions> (0), &gerror)) {
    error = "--admin-listen: cannot listen on " + config_.admin_host + ":" +
        std::to_string (config_.admin_port) + ": " + gerror->message;
    return false;
  }
  guint port = listening_port (soup_.get ());
  if (!port)
    port = config_.admin_port;
  bool v6 = config_.admin_host.find (':') != std::string::npos;
  url = std::string ("http://") + (v6 ? "[" : "") + config_.admin_host +
      (v6 ? "]" : "") + ":" + std::to_string (port) + "/";
  return true;
}

/* As on the streamers' listener (listener.cpp): a request must arrive in
 * --handshake-timeout, and every response closes its connection (libsoup
 * 3.2 would leave a kept-alive one in CLOSE_WAIT). */
void
AdminApi::on_request_started (SoupServer *, SoupServerMessage *msg,
    gpointer data)
{
  auto *self = static_cast<AdminApi *> (data);
  if (GSocket *socket = soup_server_message_get_socket (msg))
    g_socket_set_timeout (socket, self->config_.handshake_timeout_s);
  soup_message_headers_replace (soup_server_message_get_response_headers (
          msg), "Connection", "close");
}

void
AdminApi::on_request (SoupServer *, SoupServerMessage *msg, const char *path,
    GHashTable *, gpointer data)
{
  if (GSocket *socket = soup_server_message_get_socket (msg))
    g_socket_set_timeout (socket, 0);
  static_cast<AdminApi *> (data)->handle (msg, path ? path : "");
}

void
AdminApi::handle (SoupServerMessage *msg, const std::string &path)
{
  /* Before anything else: a request without the token learns nothing,
   * not even which paths exist. */
  if (!admin_authorized (config_.admin_token, soup_message_headers_get_one (
              soup_server_message_get_request_headers (msg),
              "Authorization"))) {
    send_error (msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized",
        "missing or wrong admin token");
    soup_message_headers_replace (soup_server_message_get_response_headers (
            msg), "WWW-Authenticate", "Bearer realm=\"wsrtmpd\"");
    return;
  }
  const char *method = soup_server_message_get_method (msg);
  bool get = method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD;
  bool post = method == SOUP_METHOD_POST;
  if (path == RECORDINGS || path == std::string (RECORDINGS) + "/") {
    if (!get)
      return method_not_allowed (msg, "GET");
    return send_recording_list (msg, server_.recordings (), "",
        std::string (RECORDINGS) + "/");
  }
  const std::string recordings = std::string (RECORDINGS) + "/";
  if (path.compare (0, recordings.size (), recordings) == 0) {
    if (!get)
      return method_not_allowed (msg, "GET");
    /* One segment after the prefix, decoded: the name, which the index
     * checks (recordings_api.h). */
    auto parts = segments (path.substr (recordings.size ()));
    if (parts.size () != 1)
      return send_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
          "no such resource: " + path);
    return send_recording_file (msg, server_.recordings (), parts[0], "");
  }
  if (path == PREFIX || path == std::string (PREFIX) + "/") {
    if (!get)
      return method_not_allowed (msg, "GET");
    return list (msg);
  }
  const std::string prefix = std::string (PREFIX) + "/";
  if (path.compare (0, prefix.size (), prefix) != 0)
    return send_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
        "no such resource: " + path);
  auto parts = segments (path.substr (prefix.size ()));
  if (parts.size () == 1 && !parts[0].empty ()) {
    if (!get)
      return method_not_allowed (msg, "GET");
    return show (msg, parts[0]);
  }
  if (parts.size () == 2 && parts[1] == "kick") {
    if (!post)
      return method_not_allowed (msg, "POST");
    return kick (msg, parts[0]);
  }
  if (parts.size () == 4 && parts[1] == "destinations" &&
      (parts[3] == "stop" || parts[3] == "start")) {
    if (!post)
      return method_not_allowed (msg, "POST");
    return control (msg, parts[0], parts[2], parts[3] == "start");
  }
  send_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
      "no such resource: " + path);
}

void
AdminApi::list (SoupServerMessage *msg)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "broadcasts");
  json_builder_begin_array (builder);
  for (const auto &broadcast : server_.broadcasts ())
    json_builder_add_value (builder, broadcast_view (*broadcast,
            server_.inputs_of (broadcast.get ())));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  g_autoptr (JsonNode) node = json_builder_get_root (builder);
  send_json (msg, SOUP_STATUS_OK, node);
}

void
AdminApi::show (SoupServerMessage *msg, const std::string &key)
{
  Broadcast *broadcast = server_.find_broadcast (key);
  if (!broadcast)
    return send_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
        "no broadcast with this key");
  g_autoptr (JsonNode) node = broadcast_view (*broadcast,
      server_.inputs_of (broadcast));
  send_json (msg, SOUP_STATUS_OK, node);
}

void
AdminApi::kick (SoupServerMessage *msg, const std::string &key)
{
  /* The body: {} or absent for no ban and the default reason. */
  gint64 ban_s = 0;
  std::string reason = "ended by the operator";
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize size = 0;
  const char *data = static_cast<const char *> (g_bytes_get_data (bytes,
          &size));
  if (size > 0) {
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) error = nullptr;
    if (!json_parser_load_from_data (parser, data, size, &error))
      return send_error (msg, SOUP_STATUS_BAD_REQUEST, "bad_request",
          std::string ("the body is not JSON: ") + error->message);
    JsonNode *root = json_parser_get_root (parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT (root))
      return send_error (msg, SOUP_STATUS_BAD_REQUEST, "bad_request",
          "the body must be a JSON object");
    JsonObject *object = json_node_get_object (root);
    if (JsonNode *ban = json_object_get_member (object, "ban_s")) {
      if (!JSON_NODE_HOLDS_VALUE (ban) ||
          json_node_get_value_type (ban) != G_TYPE_INT64 ||
          json_node_get_int (ban) < 0 || json_node_get_int (ban) > MAX_BAN_S)
        return send_error (msg, SOUP_STATUS_BAD_REQUEST, "bad_request",
            "ban_s must be a whole number of seconds from 0 to " +
            std::to_string (MAX_BAN_S));
      ban_s = json_node_get_int (ban);
    }
    if (JsonNode *given = json_object_get_member (object, "reason")) {
      if (!JSON_NODE_HOLDS_VALUE (given) ||
          json_node_get_value_type (given) != G_TYPE_STRING)
        return send_error (msg, SOUP_STATUS_BAD_REQUEST, "bad_request",
            "reason must be a string");
      std::string text = json_node_get_string (given);
      if (text.size () > MAX_REASON || !g_utf8_validate (text.c_str (), -1,
              nullptr) || text.find_first_of ("\r\n") != std::string::npos)
        return send_error (msg, SOUP_STATUS_BAD_REQUEST, "bad_request",
            "reason must be one line of at most " +
            std::to_string (MAX_REASON) + " bytes");
      if (!text.empty ())
        reason = text;
    }
  }
  if (!server_.kick (key, ban_s, reason))
    return send_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
        "no broadcast with this key");
  gint64 until = server_.bans ().until (key, g_get_real_time ());
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "key");
  json_builder_add_string_value (builder, key.c_str ());
  json_builder_set_member_name (builder, "kicked");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "ban_s");
  json_builder_add_int_value (builder, ban_s);
  json_builder_set_member_name (builder, "banned_until");
  if (until)
    json_builder_add_string_value (builder, iso8601_utc (until).c_str ());
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "reason");
  json_builder_add_string_value (builder, reason.c_str ());
  json_builder_end_object (builder);
  g_autoptr (JsonNode) node = json_builder_get_root (builder);
  send_json (msg, SOUP_STATUS_OK, node);
}

void
AdminApi::control (SoupServerMessage *msg, const std::string &key,
    const std::string &name, bool on)
{
  Broadcast *broadcast = server_.find_broadcast (key);
  if (!broadcast)
    return send_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
        "no broadcast with this key");
  Broadcast::Control result = broadcast->control_destination (name, on);
  if (result == Broadcast::Control::Unknown)
    return send_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
        "this broadcast has no destination called " + name);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
      "MESSAGE", "operator %s destination %s of [%s]%s", on ? "started" :
      "stopped", name.c_str (), mask_key (key).c_str (),
      result == Broadcast::Control::Done ? "" : " (no change)");
  /* The broadcast as it is now: the destination's row says its state. */
  g_autoptr (JsonNode) node = broadcast_view (*broadcast,
      server_.inputs_of (broadcast));
  send_json (msg, SOUP_STATUS_OK, node);
}

}  // namespace wsrtmp
