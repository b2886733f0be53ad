/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "server.h"

#include "client_frames.h"
#include "fair_input_stream.h"
#include "http_reply.h"
#include "memory_trim.h"
#include "recordings_api.h"

#include <json-glib/json-glib.h>

#include <glib/gstdio.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace wsrtmp {

namespace {

/* Bytes a client's connection may read per main-loop dispatch before the
 * other clients get their turn (see fair_input_stream.h): two or three
 * dispatches for a typical 250 ms media message, a few milliseconds of
 * work even when it is cut into one-byte messages. */
constexpr gsize READ_BUDGET_PER_DISPATCH = 32 * 1024;

std::string
peer_of (SoupServerMessage *msg)
{
  const char *host = soup_server_message_get_remote_host (msg);
  return host ? host : "?";
}

/* The handshake's path, query, Origin, and the time, for admit (). */
AdmissionRequest
admission_request (SoupServerMessage *msg, const char *path)
{
  AdmissionRequest request;
  request.path = path;
  GUri *uri = soup_server_message_get_uri (msg);
  const char *query = uri ? g_uri_get_query (uri) : nullptr;
  request.query = query ? query : "";
  const char *origin = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Origin");
  request.has_origin = origin != nullptr;
  request.origin = origin ? origin : "";
  request.now_us = g_get_real_time ();
  request.now_s = request.now_us / G_USEC_PER_SEC;
  return request;
}

}  // namespace

/* The streamer's own recordings (recordings_api.h). */
constexpr const char *RECORDINGS_PREFIX = "/recordings/";

/* The hook's verdict on a held handshake, for handle_websocket. */
constexpr const char *VERDICT_DATA = "wsrtmp-publish-verdict";

Server::Server (const Config &config, const PipelineFactory &factory)
    : config_ (config), factory_ (factory),
      listener_ (config, INGEST_PREFIX), static_files_ (config.web_root),
      recordings_ (config.record_dir)
{
  if (!config.on_publish_url.empty ())
    publish_hook_ = std::make_unique<HookClient> (config.on_publish_url,
        config.hook_timeout_s);
  if (!config.webhook_url.empty ())
    webhooks_ = std::make_unique<Webhooks> (config, metrics_);
  LoadGuardSettings guard;
  guard.delay_on_ms = config.overload_delay_ms;
  guard.cpu_on_percent = config.overload_cpu_percent;
  guard.machine_on_percent = config.overload_machine_percent;
  load_watch_ = std::make_unique<LoadWatch> (guard, metrics_,
      [this] () {
        std::vector<gint64> delays;
        for (auto &broadcast : broadcasts_)
          delays.push_back (broadcast->take_output_delay_ms ());
        return delays;
      });
}

Server::~Server ()
{
  if (reap_idle_)
    g_source_remove (reap_idle_);
  for (auto &[msg, id] : held_) {
    g_signal_handlers_disconnect_by_data (msg, this);
    g_object_unref (msg);
  }
  held_.clear ();
  /* Pipelines down first: the sessions then hand their connections back
   * from stopped elements. */
  finished_broadcasts_.clear ();
  broadcasts_.clear ();
  finished_.clear ();
  sessions_.clear ();
  load_watch_.reset ();
  publish_hook_.reset ();
  webhooks_.reset ();
  /* listener_ goes last: it stops listening. */
}

bool
Server::listen (std::string &url, std::string &error)
{
  return listener_.listen ([this] (SoupServer *soup) {
    soup_server_add_handler (soup, nullptr, &Server::on_request, this,
        nullptr);
    soup_server_add_handler (soup, INGEST_PREFIX, &Server::on_ingest_request,
        this, nullptr);
    whip_.add_routes (soup);
  }, url, error);
}

void
Server::on_request (SoupServer *, SoupServerMessage *msg, const char *path,
    GHashTable *, gpointer data)
{
  auto *self = static_cast<Server *> (data);
  const char *method = soup_server_message_get_method (msg);
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    send_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain",
        "method not allowed\n");
    soup_message_headers_append (soup_server_message_get_response_headers (
            msg), "Allow", "GET, HEAD");
    return;
  }
  if (g_str_equal (path, "/healthz"))
    self->handle_healthz (msg);
  else if (g_str_equal (path, "/livez"))
    self->handle_livez (msg);
  else if (g_str_equal (path, "/metrics"))
    self->handle_metrics (msg);
  else if (g_str_has_prefix (path, RECORDINGS_PREFIX))
    serve_own_recordings (msg, path + strlen (RECORDINGS_PREFIX),
        self->recordings_, self->config_.token_secret);
  else
    self->static_files_.serve (msg, path);
}

/* Readiness: whether a load balancer (or Kubernetes) should send this node
 * new streams. The streams it runs are not affected either way. */
const char *
Server::readiness () const
{
  if (shutting_down_)
    return "draining";
  if (at_capacity (config_, broadcasts_.size ()) || load_watch_->at_risk ())
    return "full";
  return "ok";
}

void
Server::handle_healthz (SoupServerMessage *msg)
{
  const char *status = readiness ();
  const bool ready = g_str_equal (status, "ok");
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, status);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, WSRTMP_VERSION);
  json_builder_set_member_name (builder, "sessions_active");
  json_builder_add_int_value (builder, sessions_.size () +
      whip_.input_count ());
  json_builder_set_member_name (builder, "broadcasts_active");
  json_builder_add_int_value (builder, broadcasts_.size ());
  /* Distinct client addresses (through trusted proxies: the clients'). */
  json_builder_set_member_name (builder, "clients_active");
  json_builder_add_int_value (builder, sessions_per_peer_.size ());
  json_builder_set_member_name (builder, "max_sessions");
  json_builder_add_int_value (builder, config_.max_sessions);
  json_builder_end_object (builder);
  g_autoptr (JsonNode) node = json_builder_get_root (builder);
  g_autofree char *body = json_to_string (node, FALSE);
  send_text (msg, ready ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE,
      "application/json", std::string (body) + "\n");
}

/* Liveness: answered from the main loop, so it answers while the loop
 * turns, draining included; a stuck loop answers nothing and is
 * restarted. */
void
Server::handle_livez (SoupServerMessage *msg)
{
  send_text (msg, SOUP_STATUS_OK, "application/json",
      "{\"status\":\"alive\"}\n");
}

/* Behind a load balancer (a --trusted-proxies peer) a draining node declines
 * the WebSocket handshake with 503 instead of upgrading and closing with
 * 1001: nginx cannot read /healthz (open-source nginx has no active health
 * checks), but it retries a 503 on the next node (proxy_next_upstream
 * http_503) and counts it against max_fails. Nothing runs here once the
 * drain ends, so the key must move now. A full node keeps its keys (1013,
 * as before): sending a key elsewhere while its node still runs streams
 * would let a reconnecting page publish twice. A browser talking to us
 * directly still gets the close code and the kind its page shows. */
bool
Server::decline_while_draining (SoupServerMessage *msg)
{
  if (!decline_handshake (config_, shutting_down_, peer_of (msg)))
    return false;
  send_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "text/plain",
      std::string (readiness ()) + "\n");
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (
      msg);
  soup_message_headers_replace (headers, "Retry-After", "5");
  /* on_request_read left it out for the upgrade we no longer make. */
  soup_message_headers_replace (headers, "Connection", "close");
  return true;
}

void
Server::handle_metrics (SoupServerMessage *msg)
{
  send_text (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
      metrics_.prometheus_text ());
}

/* The WebSocket upgrade, as SoupServer's own websocket handler does it, but
 * with two differences: the connection reads through a fair input stream
 * (one client cannot hold the main loop that all clients share), and no
 * extension is accepted. permessage-deflate would make every browser
 * compress media that does not compress, and have us inflate it again. */
void
Server::on_ingest_request (SoupServer *, SoupServerMessage *msg,
    const char *path, GHashTable *, gpointer data)
{
  if (static_cast<Server *> (data)->decline_while_draining (msg))
    return;
  /* Not a valid handshake: libsoup has set the status (400) and reason. */
  if (!soup_websocket_server_process_handshake (msg, nullptr, nullptr,
          nullptr, nullptr))
    return;
  g_signal_connect (msg, "wrote-informational",
      G_CALLBACK (&Server::on_upgraded), data);
  auto *self = static_cast<Server *> (data);
  if (self->publish_hook_)
    self->ask_publish_hook (msg, path);
}

std::string
Server::client_of (SoupServerMessage *msg, bool log) const
{
  /* Behind a trusted reverse proxy the client is whom it names. */
  const std::string proxy = peer_of (msg);
  const std::string peer = client_address (config_.trusted_proxies, proxy,
      soup_server_message_get_request_headers (msg));
  if (log && peer != proxy)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
        "MESSAGE", "client %s connects through proxy %s", peer.c_str (),
        proxy.c_str ());
  return peer;
}

/* Asked before the upgrade, so the client cannot send media while the
 * hook decides: its handshake's answer (101) waits. Admission runs again
 * once it is upgraded (handle_websocket), with the verdict. A handshake
 * admission refuses anyway is not held. */
void
Server::ask_publish_hook (SoupServerMessage *msg, const char *path)
{
  const std::string peer = client_of (msg, false);
  AdmissionState state = admission_state (peer);
  Admission admission = admit (config_, admission_request (msg, path), state);
  if (admission.verdict == Admission::Verdict::Refuse)
    return;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (
      msg);
  PublishRequest request;
  request.key = admission.key;
  request.client = peer;
  const char *agent = soup_message_headers_get_one (headers, "User-Agent");
  request.user_agent = agent ? agent : "";
  const char *origin = soup_message_headers_get_one (headers, "Origin");
  request.origin = origin ? origin : "";
  request.query = admission_request (msg, path).query;

  g_object_ref (msg);
  soup_server_message_pause (msg);
  held_per_peer_[peer]++;
  g_signal_connect (msg, "finished",
      G_CALLBACK (&Server::on_held_message_finished), this);
  std::string key = admission.key;
  guint64 id = publish_hook_->check (request,
      [this, msg, peer, key] (const PublishVerdict &verdict) {
        note_publish_verdict (peer, key, verdict);
        publish_answered (msg, verdict);
      });
  held_[msg] = id;
}

void
Server::note_publish_verdict (const std::string &peer, const std::string &key,
    const PublishVerdict &verdict)
{
  std::string masked = mask_key (key);
  g_log_structured (G_LOG_DOMAIN, verdict.allowed ?
      G_LOG_LEVEL_INFO : G_LOG_LEVEL_MESSAGE,
      "STREAM_KEY", masked.c_str (),
      "MESSAGE", "publish hook for client %s [%s]: %s (%s)%s%s",
      peer.c_str (), masked.c_str (), verdict.outcome.c_str (),
      mask_key_in (verdict.detail, key).c_str (),
      verdict.allowed ? "" : ": ",
      verdict.allowed ? "" : verdict.reason.c_str ());
  metrics_.publish_hook (verdict.outcome);
}

/* WHIP's POST is held by the endpoint meanwhile. */
guint64
Server::ask_publish_hook (const PublishRequest &request,
    std::function<void (const PublishVerdict &)> done)
{
  return publish_hook_->check (request,
      [this, request, done] (const PublishVerdict &verdict) {
        note_publish_verdict (request.client, request.key, verdict);
        done (verdict);
      });
}

void
Server::cancel_publish_hook (guint64 id)
{
  publish_hook_->cancel (id);
}

void
Server::publish_answered (SoupServerMessage *msg,
    const PublishVerdict &verdict)
{
  auto found = held_.find (msg);
  if (found == held_.end ())
    return;
  held_.erase (found);
  const std::string peer = client_of (msg, false);
  auto count = held_per_peer_.find (peer);
  if (count != held_per_peer_.end () && --count->second <= 0)
    held_per_peer_.erase (count);
  g_signal_handlers_disconnect_by_func (msg,
      reinterpret_cast<gpointer> (&Server::on_held_message_finished), this);
  g_object_set_data_full (G_OBJECT (msg), VERDICT_DATA,
      new PublishVerdict (verdict), [] (gpointer data) {
        delete static_cast<PublishVerdict *> (data);
      });
  /* The 101 goes out; on_upgraded follows. */
  soup_server_message_unpause (msg);
  g_object_unref (msg);
}

/* The client went away while its handshake was held. */
void
Server::on_held_message_finished (SoupServerMessage *msg, gpointer data)
{
  auto *self = static_cast<Server *> (data);
  auto found = self->held_.find (msg);
  if (found == self->held_.end ())
    return;
  self->publish_hook_->cancel (found->second);
  self->held_.erase (found);
  const std::string peer = self->client_of (msg, false);
  auto count = self->held_per_peer_.find (peer);
  if (count != self->held_per_peer_.end () && --count->second <= 0)
    self->held_per_peer_.erase (count);
  g_signal_handlers_disconnect_by_func (msg,
      reinterpret_cast<gpointer> (&Server::on_held_message_finished), self);
  g_object_unref (msg);
}

void
Server::on_upgraded (SoupServerMessage *msg, gpointer data)
{
  g_autoptr (SoupServerMessage) keep = SOUP_SERVER_MESSAGE (g_object_ref (
          msg));
  GUri *uri = soup_server_message_get_uri (msg);
  g_autoptr (GIOStream) connection = soup_server_message_steal_connection (
      msg);
  g_autoptr (GIOStream) fair = wsrtmp_fair_io_stream_new (connection,
      READ_BUDGET_PER_DISPATCH);
  g_autoptr (SoupWebsocketConnection) conn = soup_websocket_connection_new (
      fair, uri, SOUP_WEBSOCKET_CONNECTION_SERVER,
      soup_message_headers_get_one (soup_server_message_get_request_headers (
              msg), "Origin"), nullptr, nullptr);
  static_cast<Server *> (data)->handle_websocket (msg, g_uri_get_path (uri),
      conn);
}

/* Refusals happen after the upgrade: a browser cannot read the HTTP status
 * of a failed handshake, but it does get a close code and reason. */
void
Server::refuse (SoupWebsocketConnection *conn, const std::string &peer,
    const std::string &key, gushort code, const std::string &reason,
    const std::string &kind)
{
  metrics_.session_refused (kind);
  std::string masked = mask_key (key);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
      "STREAM_KEY", masked.c_str (),
      "MESSAGE", "refused client %s [%s]: close %u \"%s\"", peer.c_str (),
      masked.c_str (), code, reason.c_str ());
  refuse_websocket (conn, code, reason, kind);
}

/* What the server runs now, for admit (). */
AdmissionState
Server::admission_state (const std::string &peer) const
{
  AdmissionState state;
  state.draining = shutting_down_;
  state.continuity = factory_.continuity_timeout_s () > 0;
  for (const auto &broadcast : broadcasts_)
    state.broadcasts.push_back ({ broadcast->key (),
        broadcast->accepting () });
  auto from_peer = sessions_per_peer_.find (peer);
  state.streams_from_peer = from_peer == sessions_per_peer_.end () ? 0 :
      from_peer->second;
  state.bans = &bans_;
  state.overloaded = load_watch_->at_risk ();
  /* Handshakes held for the hook count too: a client cannot open more
   * than its share while the hook takes its time. */
  auto held = held_per_peer_.find (peer);
  if (held != held_per_peer_.end ())
    state.streams_from_peer += held->second;
  return state;
}

void
Server::handle_websocket (SoupServerMessage *msg, const char *path,
    SoupWebsocketConnection *conn)
{
  const std::string peer = client_of (msg, true);
  Admission admission = admit (config_, admission_request (msg, path),
      admission_state (peer));
  const std::string &key = admission.key;
  if (admission.verdict == Admission::Verdict::Refuse) {
    const Failure &refusal = admission.refusal;
    if (admission.overload)
      metrics_.overload_refused ();
    refuse (conn, peer, admission.key_known ? key : "", refusal.code,
        refusal.reason, refusal.kind);
    return;
  }
  /* --on-publish decided while the handshake was held. */
  const PublishVerdict *verdict = publish_hook_ ?
      static_cast<const PublishVerdict *> (g_object_get_data (G_OBJECT (msg),
              VERDICT_DATA)) : nullptr;
  if (publish_hook_ && !verdict) {
    /* Refused by admission when asked, admitted now (a slot came free in
     * between): the hook was never asked. */
    refuse (conn, peer, key, CLOSE_TRY_AGAIN_LATER, "not checked yet, try "
        "again", "capacity");
    return;
  }
  if (verdict && !verdict->allowed) {
    refuse (conn, peer, key, CLOSE_POLICY_VIOLATION, verdict->reason,
        "refused");
    return;
  }
  input_began (peer);
  take_over (key);

  guint64 id = next_id_++;
  auto session = std::make_unique<Session> (id, key, peer, conn, config_,
      factory_, metrics_, [this] (Session *finished) {
        session_finished (finished);
      });
  Session *raw = session.get ();
  sessions_.emplace (id, std::move (session));
  bool resumed = false;
  Failure failure;
  std::string detail;
  Broadcast *broadcast = place_broadcast (admission, verdict, resumed,
      failure, detail);
  if (!broadcast) {
    raw->refuse (failure, detail);
    return;
  }
  raw->start (broadcast, resumed);
}

/* One stream per key: the newest input takes over (a page that
 * reconnects after a network drop must not wait for the old one to time
 * out). The older inputs deliver what they received, then leave. */
void
Server::take_over (const std::string &key)
{
  for (auto &[other_id, other] : sessions_) {
    if (other->key () == key)
      other->replace ();
  }
  whip_.replace (key);
}

Broadcast *
Server::place (const Admission &admission, const PublishVerdict *verdict,
    bool &resumed, Failure &failure, std::string &detail)
{
  return place_broadcast (admission, verdict, resumed, failure, detail);
}

Broadcast *
Server::place_broadcast (const Admission &admission,
    const PublishVerdict *verdict, bool &resumed, Failure &failure,
    std::string &detail)
{
  const std::string &key = admission.key;
  if (admission.verdict == Admission::Verdict::Join) {
    if (verdict && (verdict->destinations.has_destinations ||
            verdict->destinations.has_record))
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
          "MESSAGE", "an input joins a running broadcast; the hook's "
          "destinations apply to new broadcasts only");
    resumed = true;
    return broadcasts_[admission.join].get ();
  }

  /* A new broadcast starts once the older ones for this key left the RTMP
   * server (admission.wait_for_previous). */
  auto broadcast = std::make_unique<Broadcast> (next_broadcast_id_++, key,
      config_, factory_, metrics_, [this] (Broadcast *finished) {
        broadcast_finished (finished);
      });
  if (verdict)
    broadcast->choose_destinations (verdict->destinations);
  if (webhooks_) {
    Webhooks *webhooks = webhooks_.get ();
    broadcast->set_event_sink ([webhooks, key] (const char *type,
        JsonObject *fields) {
      webhooks->post (type, key, fields);
    });
  }
  broadcast->set_segment_sink ([this, key, id = broadcast->id ()] (
      const GstStructure *message) {
    on_segment (key, id, message);
  });
  if (!broadcast->start (admission.wait_for_previous, failure, detail))
    return nullptr;
  resumed = false;
  broadcasts_.push_back (std::move (broadcast));
  return broadcasts_.back ().get ();
}

void
Server::input_began (const std::string &peer)
{
  sessions_per_peer_[peer]++;
  metrics_.set_clients_active (sessions_per_peer_.size ());
}

void
Server::input_finished (const std::string &peer)
{
  auto found = sessions_per_peer_.find (peer);
  if (found != sessions_per_peer_.end () && --found->second <= 0)
    sessions_per_peer_.erase (found);
  metrics_.set_clients_active (sessions_per_peer_.size ());
  if (!reap_idle_)
    reap_idle_ = g_idle_add (&Server::on_reap_idle, this);
}

Broadcast *
Server::find_broadcast (const std::string &key) const
{
  Broadcast *found = nullptr;
  for (const auto &broadcast : broadcasts_) {
    if (broadcast->key () != key)
      continue;
    if (broadcast->accepting ())
      return broadcast.get ();
    found = broadcast.get ();
  }
  return found;
}

std::vector<InputView>
Server::inputs_of (const Broadcast *broadcast) const
{
  std::vector<InputView> inputs = whip_.inputs_of (broadcast);
  for (const auto &[id, session] : sessions_) {
    if (session->broadcast () == broadcast)
      inputs.push_back ({ "websocket", session->peer (),
          session->connected_unix_us (),
          Session::state_name (session->state ()), session->output_mode (),
          session->bitrate_kbps () });
  }
  std::stable_sort (inputs.begin (), inputs.end (),
      [] (const InputView &a, const InputView &b) {
        return a.connected_unix_us < b.connected_unix_us; });
  return inputs;
}

bool
Server::kick (const std::string &key, gint64 ban_s, const std::string &reason)
{
  if (!find_broadcast (key))
    return false;
  gint64 now = g_get_real_time ();
  bans_.prune (now);
  /* First: a page or a second tab that reconnects right away meets it. */
  if (ban_s > 0)
    bans_.ban (key, now + ban_s * G_USEC_PER_SEC);
  std::string masked = mask_key (key);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
      "STREAM_KEY", masked.c_str (),
      "MESSAGE", "operator kicked [%s]%s: %s", masked.c_str (),
      ban_s > 0 ? (", banned for " + std::to_string (ban_s) + " s").c_str () :
      "", reason.c_str ());
  /* The broadcasts first: flvsplice is told to end with its input before
   * the connections' ends reach it (no slate). */
  for (auto &broadcast : broadcasts_) {
    if (broadcast->key () == key)
      broadcast->end_by_operator ("kicked by the operator");
  }
  for (auto &[id, session] : sessions_) {
    if (session->key () == key)
      session->kick (reason);
  }
  whip_.kick (key, reason);
  return true;
}

void
Server::broadcast_finished (Broadcast *broadcast)
{
  auto found = std::find_if (broadcasts_.begin (), broadcasts_.end (),
      [broadcast] (const auto &b) { return b.get () == broadcast; });
  if (found == broadcasts_.end ())
    return;
  const std::string key = broadcast->key ();
  /* Destroyed from our own idle: its callback is on the stack now. */
  finished_broadcasts_.push_back (std::move (*found));
  broadcasts_.erase (found);
  /* The oldest broadcast waiting for this key starts once no older one is
   * left. */
  for (auto &other : broadcasts_) {
    if (other->key () != key)
      continue;
    if (other->waiting ())
      other->release ();
    break;
  }
  if (!reap_idle_)
    reap_idle_ = g_idle_add (&Server::on_reap_idle, this);
}

void
Server::session_finished (Session *session)
{
  auto found = sessions_.find (session->id ());
  if (found == sessions_.end ())
    return;
  input_finished (session->peer ());
  /* Destroyed from our own idle: the session's callback is still on the
   * stack right now. */
  finished_.push_back (std::move (found->second));
  sessions_.erase (found);
  if (!reap_idle_)
    reap_idle_ = g_idle_add (&Server::on_reap_idle, this);
}

gboolean
Server::on_reap_idle (gpointer data)
{
  auto *self = static_cast<Server *> (data);
  self->reap_idle_ = 0;
  self->finished_broadcasts_.clear ();
  self->finished_.clear ();
  /* A pipeline's threads leave freed memory in glibc's arenas; hand it
   * back so the process returns to its baseline between streams. */
  trim_memory_soon ();
  if (self->shutting_down_ && self->sessions_.empty () &&
      self->whip_.input_count () == 0 &&
      self->broadcasts_.empty () && self->shutdown_done_) {
    auto done = std::move (self->shutdown_done_);
    self->shutdown_done_ = nullptr;
    /* The last segments are finalised before the process ends. */
    self->finisher_.when_idle (std::move (done));
  }
  return G_SOURCE_REMOVE;
}

void
Server::shutdown (std::function<void ()> done)
{
  shutting_down_ = true;
  /* Once the broadcasts ended (and posted their broadcast.ended), the
   * webhooks get a bounded time to go. */
  shutdown_done_ = [this, done = std::move (done)] () {
    if (webhooks_)
      webhooks_->flush (Webhooks::FLUSH_AT_EXIT_MS, done);
    else
      done ();
  };
  for (auto &broadcast : broadcasts_)
    broadcast->shutdown ();
  for (auto &[id, session] : sessions_)
    session->finish ();
  whip_.shutdown ();
  if (!reap_idle_)
    reap_idle_ = g_idle_add (&Server::on_reap_idle, this);
}


void
Server::on_segment (const std::string &key, guint64 broadcast,
    const GstStructure *message)
{
  const char *path = gst_structure_get_string (message, "location");
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  gst_structure_get_clock_time (message, "running-time", &running_time);
  if (!path)
    return;
  if (gst_structure_has_name (message, "splitmuxsink-fragment-opened")) {
    recordings_.segment_opened (path, running_time);
    return;
  }
  double duration_s = recordings_.segment_closed (path, running_time);
  std::string closed = path;
  finisher_.finish (closed, mask_key_in (closed, key), [this, closed, key,
      broadcast, duration_s] (bool finalised) {
    recordings_.segment_finished (closed);
    if (!webhooks_)
      return;
    GStatBuf info;
    g_autofree char *name = g_path_get_basename (closed.c_str ());
    g_autoptr (JsonObject) fields = json_object_new ();
    json_object_set_int_member (fields, "broadcast", broadcast);
    json_object_set_string_member (fields, "name", name);
    json_object_set_string_member (fields, "path", closed.c_str ());
    json_object_set_int_member (fields, "size",
        g_stat (closed.c_str (), &info) == 0 ? info.st_size : 0);
    if (duration_s >= 0)
      json_object_set_double_member (fields, "duration_s",
          std::round (duration_s * 1000) / 1000);
    else
      json_object_set_null_member (fields, "duration_s");
    json_object_set_boolean_member (fields, "finalised", finalised);
    webhooks_->post ("recording.completed", key, fields);
  });
}

}  // namespace wsrtmp
