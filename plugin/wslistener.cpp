/* wsserversrc's listener (see wslistener.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "wslistener.h"

#include "wslisten.h"

#include <utility>

namespace wsrtmp {

namespace {

gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (static_cast<GMainLoop *> (data));
  return G_SOURCE_REMOVE;
}

}  // namespace

bool
WsListener::start (const Config &config, Accepted accepted, Stopping stopping,
    GError **error)
{
  config_ = config;
  if (config_.certificate)
    g_object_ref (config_.certificate);
  accepted_ = std::move (accepted);
  stopping_ = std::move (stopping);
  context_ = g_main_context_new ();
  loop_ = g_main_loop_new (context_, FALSE);
  listen_done_ = false;
  listen_error_ = nullptr;
  thread_ = g_thread_new ("wsserversrc", run, this);

  GError *failed;
  {
    std::unique_lock<std::mutex> lock (listen_lock_);
    listen_cond_.wait (lock, [this] { return listen_done_; });
    failed = std::exchange (listen_error_, nullptr);
  }
  if (failed) {
    join ();
    g_propagate_error (error, failed);
    return false;
  }
  return true;
}

void
WsListener::stop ()
{
  if (!thread_)
    return;
  g_main_context_invoke (context_, quit_loop, loop_);
  join ();
}

void
WsListener::join ()
{
  g_thread_join (thread_);
  thread_ = nullptr;
  g_clear_pointer (&loop_, g_main_loop_unref);
  g_clear_pointer (&context_, g_main_context_unref);
  g_clear_object (&config_.certificate);
  accepted_ = nullptr;
  stopping_ = nullptr;
  port_ = 0;
}

void
WsListener::report_start (GError *error)
{
  {
    std::lock_guard<std::mutex> lock (listen_lock_);
    listen_done_ = true;
    listen_error_ = error;
  }
  listen_cond_.notify_all ();
}

void
WsListener::on_websocket (SoupServer *, SoupServerMessage *message,
    const char *, SoupWebsocketConnection *connection, gpointer data)
{
  static_cast<WsListener *> (data)->accepted_ (message, connection);
}

/* The listener's thread: the server and everything libsoup does for it. */
gpointer
WsListener::run (gpointer data)
{
  auto *self = static_cast<WsListener *> (data);
  GError *error = nullptr;

  g_main_context_push_thread_default (self->context_);
  SoupServer *server = soup_server_new ("server-header",
      "wsrtmp-wsserversrc ", "tls-certificate", self->config_.certificate,
      nullptr);
  /* Media does not compress: permessage-deflate would only cost the
   * browser and us CPU. */
  soup_server_remove_websocket_extension (server,
      SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  const std::string &path = self->config_.path;
  soup_server_add_websocket_handler (server, path.empty () ? "/" :
      path.c_str (), nullptr, nullptr, on_websocket, self, nullptr);

  auto options = static_cast<SoupServerListenOptions> (
      self->config_.certificate ? SOUP_SERVER_LISTEN_HTTPS : 0);
  if (listen_on_host (server, self->config_.host, self->config_.port, options,
          &error)) {
    self->port_ = listening_port (server);
    self->report_start (nullptr);
    g_main_loop_run (self->loop_);
  } else {
    self->report_start (error);
  }

  /* Teardown happens here, on the thread that owns the soup objects. */
  self->stopping_ ();
  soup_server_disconnect (server);
  g_object_unref (server);
  while (g_main_context_iteration (self->context_, FALSE)) {
  }
  g_main_context_pop_thread_default (self->context_);
  return nullptr;
}

}  // namespace wsrtmp
