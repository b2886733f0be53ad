/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "server.h"

#include "fair_input_stream.h"
#include "memory_trim.h"
#include "tokens.h"

#include <json-glib/json-glib.h>

#include <cstdlib>
#include <algorithm>
#include <cstring>

namespace wsrtmp {

namespace {

constexpr const char *INGEST_PREFIX = "/ingest";

/* Bytes a client's connection may read per main-loop dispatch before the
 * other clients get their turn (see fair_input_stream.h): two or three
 * dispatches for a typical 250 ms media message, a few milliseconds of
 * work even when it is cut into one-byte messages. */
constexpr gsize READ_BUDGET_PER_DISPATCH = 32 * 1024;

const char *
content_type_for (const std::string &path)
{
  static const std::pair<const char *, const char *> types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".htm", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".json", "application/json" },
    { ".webmanifest", "application/manifest+json" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".wasm", "application/wasm" },
  };
  for (const auto &[extension, type] : types) {
    if (g_str_has_suffix (path.c_str (), extension))
      return type;
  }
  return "application/octet-stream";
}

std::string
peer_of (SoupServerMessage *msg)
{
  const char *host = soup_server_message_get_remote_host (msg);
  return host ? host : "?";
}

void
send_text (SoupServerMessage *msg, guint status, const char *type,
    const std::string &body)
{
  soup_server_message_set_status (msg, status, nullptr);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY,
      body.data (), body.size ());
}

}  // namespace

Server::Server (const Config &config, const PipelineFactory &factory)
    : config_ (config), factory_ (factory)
{
  g_autofree char *root = realpath (config.web_root.c_str (), nullptr);
  web_root_ = root ? root : config.web_root;
}

Server::~Server ()
{
  if (reap_idle_)
    g_source_remove (reap_idle_);
  /* Pipelines down first: the sessions then hand their connections back
   * from stopped elements. */
  finished_broadcasts_.clear ();
  broadcasts_.clear ();
  finished_.clear ();
  sessions_.clear ();
  if (soup_)
    soup_server_disconnect (soup_.get ());
}

bool
Server::listen (std::string &url, std::string &error)
{
  g_autoptr (GError) gerror = nullptr;
  g_autoptr (GTlsCertificate) certificate = nullptr;
  if (config_.tls ()) {
    certificate = g_tls_certificate_new_from_files (config_.tls_cert.c_str (),
        config_.tls_key.c_str (), &gerror);
    if (!certificate) {
      error = "--tls-cert/--tls-key: " + std::string (gerror->message);
      return false;
    }
  }
  soup_.reset (soup_server_new ("server-header", "wsrtmpd ",
          "tls-certificate", certificate, nullptr));

  g_signal_connect (soup_.get (), "request-started",
      G_CALLBACK (&Server::on_request_started), this);
  g_signal_connect (soup_.get (), "request-read",
      G_CALLBACK (&Server::on_request_read), this);
  g_signal_connect (soup_.get (), "request-finished",
      G_CALLBACK (&Server::on_request_finished), this);
  soup_server_add_handler (soup_.get (), nullptr, &Server::on_request, this,
      nullptr);
  soup_server_add_handler (soup_.get (), INGEST_PREFIX,
      &Server::on_ingest_request, this, nullptr);

  auto options = static_cast<SoupServerListenOptions> (
      config_.tls () ? SOUP_SERVER_LISTEN_HTTPS : 0);
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (
      config_.listen_host.c_str ());
  bool ok;
  if (!address && config_.listen_host == "localhost") {
    ok = soup_server_listen_local (soup_.get (), config_.listen_port, options,
        &gerror);
  } else {
    if (!address) {
      g_autoptr (GResolver) resolver = g_resolver_get_default ();
      GList *found = g_resolver_lookup_by_name (resolver,
          config_.listen_host.c_str (), nullptr, &gerror);
      if (!found) {
        error = "--listen: cannot resolve " + config_.listen_host + ": " +
            gerror->message;
        return false;
      }
      address = G_INET_ADDRESS (g_object_ref (found->data));
      g_resolver_free_addresses (found);
    }
    g_autoptr (GSocketAddress) socket_address = g_inet_socket_address_new (
        address, config_.listen_port);
    ok = soup_server_listen (soup_.get (), socket_address, options, &gerror);
  }
  if (!ok) {
    error = "cannot listen on " + config_.listen_host + ":" +
        std::to_string (config_.listen_port) + ": " + gerror->message;
    return false;
  }

  int port = config_.listen_port;
  for (GSList *l = soup_server_get_listeners (soup_.get ()); l; l = l->next) {
    g_autoptr (GSocketAddress) local =
        g_socket_get_local_address (G_SOCKET (l->data), nullptr);
    if (local && G_IS_INET_SOCKET_ADDRESS (local)) {
      port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
      break;
    }
  }
  bool v6 = config_.listen_host.find (':') != std::string::npos;
  url = std::string (config_.tls () ? "https://" : "http://") +
      (v6 ? "[" : "") + config_.listen_host + (v6 ? "]" : "") + ":" +
      std::to_string (port) + "/";
  return true;
}

/* SoupServer has no request timeout: a client that opens a connection and
 * sends its request slowly (or never) would hold a socket forever. The
 * socket's own timeout makes libsoup's next read fail after that long; it
 * is lifted once the request is read (a WebSocket then has its own idle
 * timeout). It also closes keep-alive connections that stay idle. */
void
Server::on_request_started (SoupServer *, SoupServerMessage *msg,
    gpointer data)
{
  auto *self = static_cast<Server *> (data);
  GSocket *socket = soup_server_message_get_socket (msg);
  if (socket)
    g_socket_set_timeout (socket, self->config_.handshake_timeout_s);
  /* libsoup 3.2 never reads from a kept-alive connection again after the
   * response, so a client that closes it leaves the socket in CLOSE_WAIT
   * for ever (one fd per request). Set before the request is parsed, so
   * that libsoup's own answers (400 for a malformed request) close too. */
  soup_message_headers_replace (soup_server_message_get_response_headers (
          msg), "Connection", "close");
}

void
Server::on_request_read (SoupServer *, SoupServerMessage *msg, gpointer)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  if (socket)
    g_socket_set_timeout (socket, 0);
  /* Our WebSocket handshake answers "Connection: Upgrade" instead; an
   * upgrade asked of any other path gets a plain, closing response. */
  const char *path = g_uri_get_path (soup_server_message_get_uri (msg));
  if (g_str_has_prefix (path, INGEST_PREFIX) &&
      soup_message_headers_header_contains (
          soup_server_message_get_request_headers (msg), "Upgrade",
          "websocket"))
    soup_message_headers_remove (soup_server_message_get_response_headers (
            msg), "Connection");
}

/* libsoup 3.2 answers a request it cannot parse (400: a NUL or "/../" in
 * the URI, …) but then neither reads from nor closes the connection: a
 * client could pile up sockets that way. Its socket is closed once libsoup
 * is done with the message. */
static gboolean
close_socket (gpointer socket)
{
  g_socket_close (G_SOCKET (socket), nullptr);
  return G_SOURCE_REMOVE;
}

void
Server::on_request_finished (SoupServer *, SoupServerMessage *msg, gpointer)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  if (socket && soup_server_message_get_status (msg) ==
      SOUP_STATUS_BAD_REQUEST)
    g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, close_socket,
        g_object_ref (socket), g_object_unref);
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
  else
    self->handle_static (msg, path);
}

/* Readiness: whether a load balancer (or Kubernetes) should send this node
 * new streams. The streams it runs are not affected either way. */
const char *
Server::readiness () const
{
  if (shutting_down_)
    return "draining";
  if (config_.max_sessions > 0 &&
      broadcasts_.size () >= static_cast<size_t> (config_.max_sessions))
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
  json_builder_add_int_value (builder, sessions_.size ());
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
  if (!shutting_down_ || config_.trusted_proxies.empty () ||
      !config_.trusted_proxies.contains (peer_of (msg)))
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

void
Server::handle_static (SoupServerMessage *msg, const char *path)
{
  /* libsoup hands over the path still percent-encoded. */
  g_autofree char *decoded = g_uri_unescape_string (path, nullptr);
  if (!decoded || decoded[0] != '/' || strstr (decoded, "/../") ||
      g_str_has_suffix (decoded, "/..")) {
    send_text (msg, SOUP_STATUS_NOT_FOUND, "text/plain", "not found\n");
    return;
  }
  std::string relative = decoded + 1;
  if (relative.empty () || relative.back () == '/')
    relative += "index.html";
  g_autofree char *joined = g_build_filename (web_root_.c_str (),
      relative.c_str (), nullptr);
  /* Resolve symlinks too: nothing outside the web root is served. */
  g_autofree char *real = realpath (joined, nullptr);
  if (real && g_file_test (real, G_FILE_TEST_IS_DIR)) {
    g_autofree char *index = g_build_filename (real, "index.html", nullptr);
    g_free (real);
    real = realpath (index, nullptr);
  }
  std::string prefix = web_root_ + "/";
  if (!real || !g_str_has_prefix (real, prefix.c_str ()) ||
      !g_file_test (real, G_FILE_TEST_IS_REGULAR)) {
    send_text (msg, SOUP_STATUS_NOT_FOUND, "text/plain", "not found\n");
    return;
  }
  char *contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents (real, &contents, &length, nullptr)) {
    send_text (msg, SOUP_STATUS_FORBIDDEN, "text/plain", "forbidden\n");
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_message_headers_append (soup_server_message_get_response_headers (msg),
      "Cache-Control", "no-cache");
  soup_server_message_set_response (msg, content_type_for (real),
      SOUP_MEMORY_TAKE, contents, length);
}

/* The WebSocket upgrade, as SoupServer's own websocket handler does it, but
 * with two differences: the connection reads through a fair input stream
 * (one client cannot hold the main loop that all clients share), and no
 * extension is accepted. permessage-deflate would make every browser
 * compress media that does not compress, and have us inflate it again. */
void
Server::on_ingest_request (SoupServer *, SoupServerMessage *msg,
    const char *, GHashTable *, gpointer data)
{
  if (static_cast<Server *> (data)->decline_while_draining (msg))
    return;
  /* Not a valid handshake: libsoup has set the status (400) and reason. */
  if (!soup_websocket_server_process_handshake (msg, nullptr, nullptr,
          nullptr, nullptr))
    return;
  g_signal_connect (msg, "wrote-informational",
      G_CALLBACK (&Server::on_upgraded), data);
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

void
Server::handle_websocket (SoupServerMessage *msg, const char *path,
    SoupWebsocketConnection *conn)
{
  /* Behind a trusted reverse proxy the client is whom it names. */
  const std::string proxy = peer_of (msg);
  const std::string peer = client_address (config_.trusted_proxies, proxy,
      soup_server_message_get_request_headers (msg));
  if (peer != proxy)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
        "MESSAGE", "client %s connects through proxy %s", peer.c_str (),
        proxy.c_str ());
  std::string key;
  std::string prefix = std::string (INGEST_PREFIX) + "/";
  if (g_str_has_prefix (path, prefix.c_str ()))
    key = path + prefix.size ();

  if (!config_.allowed_origins.empty ()) {
    const char *origin = soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Origin");
    if (!origin || !config_.origin_allowed (origin)) {
      refuse (conn, peer, "", CLOSE_POLICY_VIOLATION, "origin not allowed",
          "origin");
      return;
    }
  }
  if (!is_valid_key (key)) {
    refuse (conn, peer, "", CLOSE_POLICY_VIOLATION,
        "invalid stream key: use 1-128 of A-Z a-z 0-9 _ -", "key");
    return;
  }
  if (!config_.key_allowed (key)) {
    refuse (conn, peer, key, CLOSE_POLICY_VIOLATION,
        "stream key not allowed", "key");
    return;
  }
  if (!config_.token_secret.empty ()) {
    std::string token;
    GUri *uri = soup_server_message_get_uri (msg);
    const char *query = uri ? g_uri_get_query (uri) : nullptr;
    if (query) {
      g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&",
          G_URI_PARAMS_NONE, nullptr);
      const char *value = params ? static_cast<const char *> (
          g_hash_table_lookup (params, "token")) : nullptr;
      if (value)
        token = value;
    }
    if (!check_token (config_.token_secret, key, token,
            g_get_real_time () / G_USEC_PER_SEC)) {
      refuse (conn, peer, key, CLOSE_POLICY_VIOLATION,
          "invalid or expired token", "token");
      return;
    }
  }
  if (shutting_down_) {
    refuse (conn, peer, key, CLOSE_GOING_AWAY, "server shutting down",
        "shutdown");
    return;
  }
  /* With --continuity-timeout a connection joins its key's running
   * broadcast (a reconnect after a network drop, another tab): no new
   * publish. */
  Broadcast *joined = nullptr;
  if (factory_.continuity_timeout_s () > 0) {
    for (auto &broadcast : broadcasts_) {
      if (broadcast->key () == key && broadcast->accepting ())
        joined = broadcast.get ();
    }
  }
  if (!joined && config_.max_sessions > 0 &&
      broadcasts_.size () >= static_cast<size_t> (config_.max_sessions)) {
    refuse (conn, peer, key, CLOSE_TRY_AGAIN_LATER,
        "server at capacity, try again later", "capacity");
    return;
  }
  if (config_.max_connections_per_ip > 0 &&
      sessions_per_peer_[peer] >= config_.max_connections_per_ip) {
    refuse (conn, peer, key, CLOSE_TRY_AGAIN_LATER,
        "too many streams from your address, try again later", "per_ip");
    return;
  }
  sessions_per_peer_[peer]++;
  metrics_.set_clients_active (sessions_per_peer_.size ());

  /* One stream per key: the newest connection takes over (a page that
   * reconnects after a network drop must not wait for the old one to
   * time out). The older connections deliver what they received, then
   * leave. */
  for (auto &[other_id, other] : sessions_) {
    if (other->key () == key)
      other->replace ();
  }

  guint64 id = next_id_++;
  auto session = std::make_unique<Session> (id, key, peer, conn, config_,
      factory_, metrics_, [this] (Session *finished) {
        session_finished (finished);
      });
  Session *raw = session.get ();
  sessions_.emplace (id, std::move (session));
  if (joined) {
    raw->start (joined, true);
    return;
  }

  /* A new broadcast starts once the older ones for this key left the RTMP
   * server (it would refuse a second publish under one name). */
  bool wait_for_previous = false;
  for (auto &broadcast : broadcasts_) {
    if (broadcast->key () == key)
      wait_for_previous = true;
  }
  auto broadcast = std::make_unique<Broadcast> (next_broadcast_id_++, key,
      config_, factory_, metrics_, [this] (Broadcast *finished) {
        broadcast_finished (finished);
      });
  Failure failure;
  std::string detail;
  if (!broadcast->start (wait_for_previous, failure, detail)) {
    raw->refuse (failure, detail);
    return;
  }
  raw->start (broadcast.get (), false);
  broadcasts_.push_back (std::move (broadcast));
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
  auto peer = sessions_per_peer_.find (session->peer ());
  if (peer != sessions_per_peer_.end () && --peer->second <= 0)
    sessions_per_peer_.erase (peer);
  metrics_.set_clients_active (sessions_per_peer_.size ());
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
      self->broadcasts_.empty () && self->shutdown_done_) {
    auto done = std::move (self->shutdown_done_);
    self->shutdown_done_ = nullptr;
    done ();
  }
  return G_SOURCE_REMOVE;
}

void
Server::shutdown (std::function<void ()> done)
{
  shutting_down_ = true;
  shutdown_done_ = std::move (done);
  for (auto &broadcast : broadcasts_)
    broadcast->shutdown ();
  for (auto &[id, session] : sessions_)
    session->finish ();
  if (!reap_idle_)
    reap_idle_ = g_idle_add (&Server::on_reap_idle, this);
}

}  // namespace wsrtmp
