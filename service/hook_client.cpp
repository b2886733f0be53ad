/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "hook_client.h"
#include "streams_file.h"

#include <json-glib/json-glib.h>

#include <utility>
#include <vector>

namespace wsrtmp {

namespace {

/* What the streamer reads (error frame, close reason): one line, at most
 * 100 bytes of whole UTF-8 characters; the close frame's reason must fit
 * in 123 bytes. */
std::string
short_reason (const std::string &text)
{
  if (!g_utf8_validate (text.c_str (), text.size (), nullptr))
    return "";
  std::string out;
  for (const char *p = text.c_str (); *p; p = g_utf8_next_char (p)) {
    const char *next = g_utf8_next_char (p);
    if (out.size () + (next - p) > 100)
      break;
    gunichar c = g_utf8_get_char (p);
    if (g_unichar_iscntrl (c))
      out += ' ';
    else
      out.append (p, next - p);
  }
  g_autofree char *stripped = g_strstrip (g_strdup (out.c_str ()));
  return stripped;
}

PublishVerdict
refusal (const std::string &reason, const std::string &detail,
    const char *outcome)
{
  PublishVerdict verdict;
  verdict.allowed = false;
  verdict.reason = reason;
  verdict.detail = detail;
  verdict.outcome = outcome;
  return verdict;
}

constexpr const char *DEFAULT_REASON = "refused by the streaming service";
constexpr const char *BAD_ANSWER_REASON = "the streaming service gave "
    "unusable destinations";

}  // namespace

PublishVerdict
read_publish_answer (guint status, const std::string &body)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *trimmed = g_strstrip (g_strdup (body.c_str ()));
  JsonObject *root = nullptr;
  if (*trimmed && json_parser_load_from_data (parser, body.c_str (),
          body.size (), nullptr) && JSON_NODE_HOLDS_OBJECT (
              json_parser_get_root (parser)))
    root = json_node_get_object (json_parser_get_root (parser));

  if (!SOUP_STATUS_IS_SUCCESSFUL (status)) {
    std::string reason;
    if (root && json_object_has_member (root, "reason") &&
        JSON_NODE_HOLDS_VALUE (json_object_get_member (root, "reason")) &&
        json_node_get_value_type (json_object_get_member (root, "reason")) ==
        G_TYPE_STRING)
      reason = short_reason (json_object_get_string_member (root, "reason"));
    return refusal (reason.empty () ? DEFAULT_REASON : reason,
        "HTTP " + std::to_string (status), "refused");
  }

  PublishVerdict verdict;
  verdict.allowed = true;
  verdict.outcome = "allowed";
  verdict.detail = "HTTP " + std::to_string (status);
  if (!root) {
    if (*trimmed)
      verdict.detail += " (body not a JSON object: ignored)";
    return verdict;
  }
  DestinationOverride &chosen = verdict.destinations;
  if (json_object_has_member (root, "record")) {
    JsonNode *record = json_object_get_member (root, "record");
    if (!JSON_NODE_HOLDS_VALUE (record) ||
        json_node_get_value_type (record) != G_TYPE_BOOLEAN)
      return refusal (BAD_ANSWER_REASON, "\"record\" is not true or false",
          "error");
    chosen.has_record = true;
    chosen.record = json_node_get_boolean (record);
  }
  if (!json_object_has_member (root, "destinations") ||
      JSON_NODE_HOLDS_NULL (json_object_get_member (root, "destinations")))
    return verdict;
  JsonNode *list = json_object_get_member (root, "destinations");
  if (!JSON_NODE_HOLDS_ARRAY (list))
    return refusal (BAD_ANSWER_REASON, "\"destinations\" is not a list",
        "error");
  std::vector<std::pair<std::string, std::string>> entries;
  JsonArray *array = json_node_get_array (list);
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonNode *item = json_array_get_element (array, i);
    std::string where = "destination " + std::to_string (i + 1);
    if (JSON_NODE_HOLDS_VALUE (item) &&
        json_node_get_value_type (item) == G_TYPE_STRING) {
      entries.emplace_back (json_node_get_string (item), "");
      continue;
    }
    JsonObject *object = JSON_NODE_HOLDS_OBJECT (item) ?
        json_node_get_object (item) : nullptr;
    auto string_member = [object] (const char *name, std::string &out) {
      JsonNode *node = object ? json_object_get_member (object, name) :
          nullptr;
      if (!node)
        return true;
      if (!JSON_NODE_HOLDS_VALUE (node) ||
          json_node_get_value_type (node) != G_TYPE_STRING)
        return false;
      out = json_node_get_string (node);
      return true;
    };
    std::string url, name;
    if (!object || !string_member ("url", url) || url.empty () ||
        !string_member ("name", name))
      return refusal (BAD_ANSWER_REASON, where + ": neither a URL nor "
          "{\"url\", \"name\"}", "error");
    entries.emplace_back (url, name);
  }
  std::string error;
  if (!parse_destination_pairs (entries, "the --on-publish answer",
          chosen.destinations, error))
    return refusal (BAD_ANSWER_REASON, error, "error");
  chosen.has_destinations = true;
  if (chosen.destinations.empty () && !(chosen.has_record && chosen.record))
    return refusal (BAD_ANSWER_REASON, "no destinations and no \"record\": "
        "true: the stream would go nowhere", "error");
  return verdict;
}

struct HookClient::Pending {
  HookClient *owner;            /* nullptr once answered or cancelled */
  guint64 id;
  GCancellable *cancellable;
  SoupMessage *message;
  guint timer = 0;
  Callback done;
  GInputStream *answer_stream = nullptr;        /* once the headers came */
  GByteArray *answer = g_byte_array_new ();     /* the body read so far */
  ~Pending ()
  {
    g_object_unref (cancellable);
    g_object_unref (message);
    g_clear_object (&answer_stream);
    g_byte_array_unref (answer);
  }
};

HookClient::HookClient (std::string url, int timeout_s)
    : url_ (std::move (url)), timeout_s_ (timeout_s)
{
  session_ = soup_session_new ();
  soup_session_set_user_agent (session_, "wsrtmpd/" WSRTMP_VERSION);
  /* Our own timer bounds the whole exchange; this one only ends a socket
   * that went quiet after ours fired. */
  soup_session_set_timeout (session_, timeout_s_ + 1);
}

HookClient::~HookClient ()
{
  auto pending = std::move (pending_);
  for (auto &[id, each] : pending) {
    each->owner = nullptr;
    if (each->timer)
      g_source_remove (each->timer);
    each->timer = 0;
    /* Its callback still runs (cancelled) and frees it. */
    g_cancellable_cancel (each->cancellable);
  }
  g_object_unref (session_);
}

guint64
HookClient::check (const PublishRequest &request, Callback done)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  for (const auto &[name, value] : std::vector<std::pair<const char *,
           const std::string *>> { { "key", &request.key },
           { "transport", &request.transport }, { "client", &request.client },
           { "user_agent", &request.user_agent },
           { "origin", &request.origin }, { "query", &request.query } }) {
    json_builder_set_member_name (builder, name);
    json_builder_add_string_value (builder, value->c_str ());
  }
  json_builder_end_object (builder);
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_root (generator, root);
  gsize length = 0;
  char *text = json_generator_to_data (generator, &length);
  g_autoptr (GBytes) body = g_bytes_new_take (text, length);

  /* Checked at startup: a valid http(s) URL. */
  SoupMessage *message = soup_message_new (SOUP_METHOD_POST, url_.c_str ());
  soup_message_set_request_body_from_bytes (message, "application/json",
      body);
  auto *pending = new Pending { this, next_id_++, g_cancellable_new (),
    message };
  pending->done = std::move (done);
  pending_[pending->id] = pending;
  pending->timer = g_timeout_add (timeout_s_ * 1000, &HookClient::on_timeout,
      pending);
  soup_session_send_async (session_, message, G_PRIORITY_DEFAULT,
      pending->cancellable, &HookClient::on_sent, pending);
  return pending->id;
}

void
HookClient::cancel (guint64 id)
{
  auto found = pending_.find (id);
  if (found == pending_.end ())
    return;
  Pending *pending = found->second;
  pending_.erase (found);
  pending->owner = nullptr;
  if (pending->timer)
    g_source_remove (pending->timer);
  pending->timer = 0;
  g_cancellable_cancel (pending->cancellable);
}

void
HookClient::finish (Pending *pending, const PublishVerdict &verdict)
{
  pending_.erase (pending->id);
  pending->owner = nullptr;
  if (pending->timer)
    g_source_remove (pending->timer);
  pending->timer = 0;
  g_cancellable_cancel (pending->cancellable);
  Callback done = std::move (pending->done);
  done (verdict);
}

gboolean
HookClient::on_timeout (gpointer data)
{
  auto *pending = static_cast<Pending *> (data);
  pending->timer = 0;
  HookClient *self = pending->owner;
  if (self)
    self->finish (pending, refusal ("the streaming service did not answer "
        "in time", "timeout: no answer within " +
        std::to_string (self->timeout_s_) + " s", "timeout"));
  return G_SOURCE_REMOVE;
}

/* The headers came: the body is read in pieces, up to MAX_ANSWER_BYTES. */
void
HookClient::on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  auto *pending = static_cast<Pending *> (data);
  g_autoptr (GError) error = nullptr;
  pending->answer_stream = soup_session_send_finish (SOUP_SESSION (source),
      result, &error);
  HookClient *self = pending->owner;
  if (!self) {
    delete pending;
    return;
  }
  if (!pending->answer_stream) {
    self->finish (pending, refusal ("the streaming service could not be "
        "asked", std::string ("no answer: ") + error->message, "error"));
    delete pending;
    return;
  }
  self->read_answer (pending);
}

void
HookClient::read_answer (Pending *pending)
{
  /* One byte more than allowed tells an answer that is too large. */
  g_input_stream_read_bytes_async (pending->answer_stream,
      MAX_ANSWER_BYTES + 1 - pending->answer->len, G_PRIORITY_DEFAULT,
      pending->cancellable, &HookClient::on_read, pending);
}

void
HookClient::on_read (GObject *source, GAsyncResult *result, gpointer data)
{
  auto *pending = static_cast<Pending *> (data);
  g_autoptr (GError) error = nullptr;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (
      G_INPUT_STREAM (source), result, &error);
  HookClient *self = pending->owner;
  if (!self) {
    delete pending;
    return;
  }
  if (!bytes) {
    self->finish (pending, refusal ("the streaming service could not be "
        "asked", std::string ("answer cut: ") + error->message, "error"));
    delete pending;
    return;
  }
  gsize size = 0;
  auto *data_read = static_cast<const guint8 *> (g_bytes_get_data (bytes,
          &size));
  if (size > 0) {
    g_byte_array_append (pending->answer, data_read, size);
    if (pending->answer->len > MAX_ANSWER_BYTES) {
      self->finish (pending, refusal (BAD_ANSWER_REASON, "answer over " +
          std::to_string (MAX_ANSWER_BYTES / 1024) + " KiB: not read",
          "error"));
      delete pending;
      return;
    }
    self->read_answer (pending);
    return;
  }
  /* The end of the body. */
  self->finish (pending, read_publish_answer (soup_message_get_status (
              pending->message), std::string (reinterpret_cast<const char *> (
                  pending->answer->data), pending->answer->len)));
  delete pending;
}

}  // namespace wsrtmp
