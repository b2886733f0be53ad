/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "webhooks.h"
#include "util.h"

#include <algorithm>

namespace wsrtmp {

namespace {

/* ISO 8601 in UTC, to the millisecond: 2025-01-31T12:34:56.789Z. */
std::string
utc_now ()
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *seconds = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  char text[64];
  g_snprintf (text, sizeof text, "%s.%03dZ", seconds,
      g_date_time_get_microsecond (now) / 1000);
  return text;
}

}  // namespace

struct Webhooks::Active {
  Webhooks *owner;              /* nullptr once the owner is gone */
  Event event;
  SoupMessage *message = nullptr;       /* while in flight */
  GCancellable *cancellable = nullptr;
  guint retry_timer = 0;
  ~Active ()
  {
    g_clear_object (&message);
    g_clear_object (&cancellable);
  }
};

Webhooks::Webhooks (const Config &config, Metrics &metrics, Policy policy)
    : config_ (config), metrics_ (metrics), policy_ (std::move (policy))
{
  session_ = soup_session_new_with_options ("max-conns-per-host",
      static_cast<int> (policy_.max_in_flight), "timeout",
      policy_.request_timeout_s, "user-agent", "wsrtmpd/" WSRTMP_VERSION,
      nullptr);
}

Webhooks::~Webhooks ()
{
  if (flush_timer_)
    g_source_remove (flush_timer_);
  /* What was not delivered by now never will be: counted as dropped. */
  const size_t left = queued ();
  for (size_t i = 0; i < left; i++)
    metrics_.webhook_dropped ();
  for (Active *active : active_) {
    if (active->retry_timer) {
      g_source_remove (active->retry_timer);
      delete active;
      continue;
    }
    /* In flight: its callback (cancelled) frees it. */
    active->owner = nullptr;
    g_cancellable_cancel (active->cancellable);
  }
  active_.clear ();
  if (left)
    g_warning ("webhooks: %zu event(s) not delivered at exit: dropped",
        left);
  g_object_unref (session_);
}

std::string
Webhooks::signature (const std::string &secret, const std::string &body)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256,
      reinterpret_cast<const guchar *> (secret.data ()), secret.size ());
  g_hmac_update (hmac, reinterpret_cast<const guchar *> (body.data ()),
      body.size ());
  return std::string ("sha256=") + g_hmac_get_string (hmac);
}

std::string
Webhooks::event_body (const std::string &id, const std::string &type,
    const std::string &time, const std::string &key, JsonObject *fields)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  for (const auto &[name, value] : { std::pair<const char *,
           const std::string &> { "id", id }, { "type", type },
           { "time", time }, { "key", key } }) {
    json_builder_set_member_name (builder, name);
    json_builder_add_string_value (builder, value.c_str ());
  }
  if (fields) {
    JsonObjectIter iter;
    const char *name;
    JsonNode *value;
    json_object_iter_init (&iter, fields);
    while (json_object_iter_next (&iter, &name, &value)) {
      json_builder_set_member_name (builder, name);
      json_builder_add_value (builder, json_node_copy (value));
    }
  }
  json_builder_end_object (builder);
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, FALSE);
  return text;
}

void
Webhooks::post (const std::string &type, const std::string &key,
    JsonObject *fields)
{
  g_autofree char *id = g_uuid_string_random ();
  Event event;
  event.key = key;
  event.type = type;
  event.id = id;
  event.body = event_body (id, type, utc_now (), key, fields);
  /* Full: the oldest waiting event goes (its key's later ones stay in
   * order). */
  while (queue_.size () >= policy_.max_queued) {
    Event oldest = std::move (queue_.front ());
    queue_.pop_front ();
    drop (oldest, "the queue is full");
  }
  queue_.push_back (std::move (event));
  pump ();
}

size_t
Webhooks::queued () const
{
  return queue_.size () + active_.size ();
}

void
Webhooks::update_gauge ()
{
  metrics_.set_webhooks_queued (queued ());
}

/* Starts what may go now: the oldest waiting event of each key that has
 * none active, while fewer than max_in_flight are in flight. */
void
Webhooks::pump ()
{
  for (size_t i = 0; i < queue_.size () &&
           in_flight_ < policy_.max_in_flight;) {
    if (busy_keys_.count (queue_[i].key)) {
      i++;
      continue;
    }
    auto *active = new Active { this, std::move (queue_[i]) };
    queue_.erase (queue_.begin () + i);
    busy_keys_.insert (active->event.key);
    active_.insert (active);
    send (active);
  }
  update_gauge ();
}

void
Webhooks::send (Active *active)
{
  in_flight_++;
  g_clear_object (&active->message);
  g_clear_object (&active->cancellable);
  active->message = soup_message_new (SOUP_METHOD_POST,
      config_.webhook_url.c_str ());
  g_autoptr (GBytes) body = g_bytes_new (active->event.body.data (),
      active->event.body.size ());
  soup_message_set_request_body_from_bytes (active->message,
      "application/json", body);
  SoupMessageHeaders *headers = soup_message_get_request_headers (
      active->message);
  soup_message_headers_replace (headers, "X-Wsrtmp-Signature",
      signature (config_.webhook_secret, active->event.body).c_str ());
  soup_message_headers_replace (headers, "X-Wsrtmp-Event",
      active->event.type.c_str ());
  active->cancellable = g_cancellable_new ();
  soup_session_send_and_read_async (session_, active->message,
      G_PRIORITY_DEFAULT, active->cancellable, &Webhooks::on_sent, active);
}

void
Webhooks::on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  auto *active = static_cast<Active *> (data);
  g_autoptr (GError) error = nullptr;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (
      SOUP_SESSION (source), result, &error);
  Webhooks *self = active->owner;
  if (!self) {
    delete active;
    return;
  }
  self->in_flight_--;
  guint status = soup_message_get_status (active->message);
  if (body && SOUP_STATUS_IS_SUCCESSFUL (status))
    self->delivered (active);
  else
    self->failed (active, body ? "HTTP " + std::to_string (status) :
        std::string (error->message));
}

void
Webhooks::delivered (Active *active)
{
  metrics_.webhook_delivered ();
  release (active);
}

void
Webhooks::failed (Active *active, const std::string &why)
{
  metrics_.webhook_failed ();
  Event &event = active->event;
  if (event.failures >= policy_.retry_ms.size ()) {
    drop (event, "no delivery after " + std::to_string (event.failures + 1) +
        " attempts, the last: " + why);
    release (active);
    return;
  }
  guint wait_ms = policy_.retry_ms[event.failures++];
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
      "MESSAGE", "webhook %s (%s) [%s]: %s; again in %u ms",
      event.type.c_str (), event.id.c_str (), mask_key (event.key).c_str (),
      why.c_str (), wait_ms);
  active->retry_timer = g_timeout_add (wait_ms, &Webhooks::on_retry, active);
  /* The slot is free for other keys meanwhile. */
  pump ();
}

gboolean
Webhooks::on_retry (gpointer data)
{
  auto *active = static_cast<Active *> (data);
  active->retry_timer = 0;
  active->owner->send (active);
  return G_SOURCE_REMOVE;
}

/* The event is done (delivered or dropped): its key's next one may go. */
void
Webhooks::release (Active *active)
{
  busy_keys_.erase (active->event.key);
  active_.erase (active);
  delete active;
  pump ();
  if (flush_done_ && queued () == 0)
    flushed ();
}

void
Webhooks::flush (guint timeout_ms, std::function<void ()> done)
{
  flush_done_ = std::move (done);
  if (queued () == 0) {
    /* From the main loop, as promised, not from inside this call. */
    flush_timer_ = g_idle_add (&Webhooks::on_flush_timeout, this);
    return;
  }
  g_message ("webhooks: delivering %zu queued event(s) before exit (at "
      "most %u ms)", queued (), timeout_ms);
  flush_timer_ = g_timeout_add (timeout_ms, &Webhooks::on_flush_timeout,
      this);
  for (Active *active : active_) {
    if (!active->retry_timer)
      continue;
    g_source_remove (active->retry_timer);
    active->retry_timer = 0;
    send (active);
  }
}

void
Webhooks::flushed ()
{
  if (flush_timer_)
    g_source_remove (flush_timer_);
  flush_timer_ = 0;
  auto done = std::move (flush_done_);
  flush_done_ = nullptr;
  done ();
}

gboolean
Webhooks::on_flush_timeout (gpointer data)
{
  auto *self = static_cast<Webhooks *> (data);
  self->flush_timer_ = 0;
  self->flushed ();
  return G_SOURCE_REMOVE;
}

void
Webhooks::drop (const Event &event, const std::string &why)
{
  metrics_.webhook_dropped ();
  drops_unlogged_++;
  gint64 now = g_get_monotonic_time ();
  if (drop_logged_us_ && now - drop_logged_us_ < 10 * G_USEC_PER_SEC)
    return;
  drop_logged_us_ = now;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
      "MESSAGE", "webhook %s (%s) [%s] dropped: %s (%" G_GUINT64_FORMAT
      " dropped since the last such line)", event.type.c_str (),
      event.id.c_str (), mask_key (event.key).c_str (), why.c_str (),
      drops_unlogged_);
  drops_unlogged_ = 0;
}

}  // namespace wsrtmp
