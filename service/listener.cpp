/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "listener.h"
#include "wslisten.h"

namespace wsrtmp {

namespace {

/* The request's socket: its reads and writes fail after seconds without
 * progress (0: never). */
void
set_socket_timeout (SoupServerMessage *msg, guint seconds)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  if (socket)
    g_socket_set_timeout (socket, seconds);
}

gboolean
close_socket (gpointer socket)
{
  g_socket_close (G_SOCKET (socket), nullptr);
  return G_SOURCE_REMOVE;
}

}  // namespace

Listener::Listener (const Config &config, std::string upgrade_prefix)
    : config_ (config), upgrade_prefix_ (std::move (upgrade_prefix))
{
}

Listener::~Listener ()
{
  if (soup_)
    soup_server_disconnect (soup_.get ());
}

bool
Listener::listen (const std::function<void (SoupServer *)> &add_routes,
    std::string &url, std::string &error)
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
      G_CALLBACK (&Listener::on_request_started), this);
  g_signal_connect (soup_.get (), "request-read",
      G_CALLBACK (&Listener::on_request_read), this);
  g_signal_connect (soup_.get (), "request-finished",
      G_CALLBACK (&Listener::on_request_finished), this);
  add_routes (soup_.get ());

  auto options = static_cast<SoupServerListenOptions> (
      config_.tls () ? SOUP_SERVER_LISTEN_HTTPS : 0);
  if (!listen_on_host (soup_.get (), config_.listen_host, config_.listen_port,
          options, &gerror)) {
    error = gerror->domain == G_RESOLVER_ERROR ? "--listen: cannot resolve " +
        config_.listen_host + ": " + gerror->message : "cannot listen on " +
        config_.listen_host + ":" + std::to_string (config_.listen_port) +
        ": " + gerror->message;
    return false;
  }
  guint port = listening_port (soup_.get ());
  if (!port)
    port = config_.listen_port;
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
Listener::on_request_started (SoupServer *, SoupServerMessage *msg,
    gpointer data)
{
  auto *self = static_cast<Listener *> (data);
  set_socket_timeout (msg, self->config_.handshake_timeout_s);
  /* libsoup 3.2 never reads from a kept-alive connection again after the
   * response, so a client that closes it leaves the socket in CLOSE_WAIT
   * for ever (one fd per request). Set before the request is parsed, so
   * that libsoup's own answers (400 for a malformed request) close too. */
  soup_message_headers_replace (soup_server_message_get_response_headers (
          msg), "Connection", "close");
}

void
Listener::on_request_read (SoupServer *, SoupServerMessage *msg,
    gpointer data)
{
  auto *self = static_cast<Listener *> (data);
  set_socket_timeout (msg, 0);
  /* Our WebSocket handshake answers "Connection: Upgrade" instead; an
   * upgrade asked of any other path gets a plain, closing response. */
  const char *path = g_uri_get_path (soup_server_message_get_uri (msg));
  if (g_str_has_prefix (path, self->upgrade_prefix_.c_str ()) &&
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
void
Listener::on_request_finished (SoupServer *, SoupServerMessage *msg,
    gpointer)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  if (socket && soup_server_message_get_status (msg) ==
      SOUP_STATUS_BAD_REQUEST)
    g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, close_socket,
        g_object_ref (socket), g_object_unref);
}

}  // namespace wsrtmp
