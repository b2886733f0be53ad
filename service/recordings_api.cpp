/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"
#include "recordings_api.h"

#include "http_reply.h"
#include "tokens.h"
#include "util.h"

#include <json-glib/json-glib.h>

#include <cmath>

namespace wsrtmp {

namespace {

std::string
iso_time (gint64 us)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (
      us / G_USEC_PER_SEC);
  g_autofree char *text = time ? g_date_time_format_iso8601 (time) :
      nullptr;
  return text ? text : "";
}

}  // namespace

void
send_recording_list (SoupServerMessage *msg, const RecordingIndex &index,
    const std::string &key, const std::string &url_prefix,
    const std::string &url_query)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "recordings");
  json_builder_begin_array (builder);
  for (const auto &entry : index.list (key)) {
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "name");
    json_builder_add_string_value (builder, entry.name.c_str ());
    json_builder_set_member_name (builder, "key");
    json_builder_add_string_value (builder, entry.key.c_str ());
    json_builder_set_member_name (builder, "size");
    json_builder_add_int_value (builder, entry.size);
    json_builder_set_member_name (builder, "duration_s");
    if (entry.duration_s < 0)
      json_builder_add_null_value (builder);
    else
      json_builder_add_double_value (builder,
          std::round (entry.duration_s * 1000) / 1000);
    json_builder_set_member_name (builder, "started");
    json_builder_add_string_value (builder,
        iso_time (entry.started_us).c_str ());
    json_builder_set_member_name (builder, "finished");
    json_builder_add_boolean_value (builder, entry.finished);
    json_builder_set_member_name (builder, "url");
    g_autofree char *escaped = g_uri_escape_string (entry.name.c_str (),
        nullptr, FALSE);
    json_builder_add_string_value (builder,
        (url_prefix + escaped + url_query).c_str ());
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  send_json (msg, SOUP_STATUS_OK, builder);
}

void
send_recording_file (SoupServerMessage *msg, const RecordingIndex &index,
    const std::string &name, const std::string &only_key)
{
  guint status = 0;
  std::string error;
  std::string path = index.path_of (name, only_key, status, error);
  if (path.empty ()) {
    send_error (msg, status, status == 400 ? "bad_request" :
        "not_found", error);
    return;
  }
  g_autoptr (GError) gerror = nullptr;
  g_autoptr (GMappedFile) file = g_mapped_file_new (path.c_str (), FALSE,
      &gerror);
  if (!file) {
    g_warning ("cannot read the recording %s: %s", name.c_str (),
        gerror->message);
    send_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
        "no such recording");
    return;
  }
  g_autoptr (GBytes) bytes = g_mapped_file_get_bytes (file);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (
      msg);
  soup_message_headers_set_content_type (headers,
      g_str_has_suffix (name.c_str (), ".flv") ? "video/x-flv" : "video/mp4",
      nullptr);
  soup_message_headers_replace (headers, "Accept-Ranges", "bytes");
  g_autoptr (GHashTable) params = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (params, (gpointer) "filename", (gpointer) name.c_str ());
  soup_message_headers_set_content_disposition (headers, "attachment",
      params);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  /* Complete: libsoup answers a Range itself (206, or 416). */
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg),
      bytes);
}

void
serve_own_recordings (SoupServerMessage *msg, const std::string &rest,
    const RecordingIndex &index, const std::string &token_secret)
{
  /* The key is the credential, with its token when tokens are required,
   * as at the WebSocket. */
  g_auto (GStrv) parts = g_strsplit (rest.c_str (), "/", -1);
  guint n = g_strv_length (parts);
  std::string key = n > 0 ? parts[0] : "";
  if (n < 1 || n > 2 || !is_valid_key (key)) {
    send_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
        "no such resource");
    return;
  }
  GUri *uri = soup_server_message_get_uri (msg);
  const char *query = uri ? g_uri_get_query (uri) : nullptr;
  std::string token;
  if (query) {
    g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&",
        G_URI_PARAMS_NONE, nullptr);
    const char *value = params ? static_cast<const char *> (
        g_hash_table_lookup (params, "token")) : nullptr;
    token = value ? value : "";
  }
  if (!token_secret.empty () && !check_token (token_secret, key, token,
          g_get_real_time () / G_USEC_PER_SEC)) {
    send_error (msg, SOUP_STATUS_FORBIDDEN, "token",
        "invalid or expired token");
    return;
  }
  if (n == 1) {
    g_autofree char *escaped_key = g_uri_escape_string (key.c_str (),
        nullptr, FALSE);
    g_autofree char *escaped_token = g_uri_escape_string (token.c_str (),
        nullptr, FALSE);
    send_recording_list (msg, index, key,
        std::string ("/recordings/") + escaped_key + "/",
        token.empty () ? "" : std::string ("?token=") + escaped_token);
    return;
  }
  g_autofree char *name = g_uri_unescape_string (parts[1], nullptr);
  send_recording_file (msg, index, name ? name : "", key);
}

}  // namespace wsrtmp
