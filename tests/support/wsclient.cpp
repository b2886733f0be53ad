/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "wsclient.h"

#include <libsoup/soup.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace wsrtmp::test {

struct WsClient::Impl {
  GMainContext *context = g_main_context_new ();
  GMainLoop *loop = g_main_loop_new (context, FALSE);
  GThread *thread = nullptr;
  SoupSession *session = nullptr;
  SoupWebsocketConnection *conn = nullptr;
  GTlsCertificate *trusted = nullptr;

  mutable std::mutex lock;
  std::condition_variable cond;
  bool connect_done = false;
  std::string connect_error;
  bool closed = false;
  int close_code = 0;
  std::string close_reason;
  std::string error;
  std::vector<std::string> texts;

  ~Impl ()
  {
    run ([this] {
      if (conn && soup_websocket_connection_get_state (conn) ==
          SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
            nullptr);
    });
    wait ([this] { return closed || !conn; }, 2000);
    run ([this] {
      g_clear_object (&conn);
      g_clear_object (&session);
    });
    g_main_loop_quit (loop);
    g_thread_join (thread);
    g_clear_object (&trusted);
    g_main_loop_unref (loop);
    g_main_context_unref (context);
  }

  static gpointer thread_main (gpointer data)
  {
    auto *self = static_cast<Impl *> (data);
    g_main_context_push_thread_default (self->context);
    g_main_loop_run (self->loop);
    while (g_main_context_iteration (self->context, FALSE)) {
    }
    g_main_context_pop_thread_default (self->context);
    return nullptr;
  }

  /* Runs fn on the client thread and waits for it. */
  void run (std::function<void ()> fn)
  {
    struct Call {
      std::function<void ()> fn;
      std::mutex lock;
      std::condition_variable cond;
      bool done = false;
    } call { std::move (fn) };
    g_main_context_invoke (context, [] (gpointer data) -> gboolean {
      auto *c = static_cast<Call *> (data);
      c->fn ();
      /* Notified under the lock: the caller may see done without waiting
       * and return, and `call` lives on its stack. Notified after the
       * unlock, the broadcast could write into its next stack frames. */
      std::lock_guard<std::mutex> l (c->lock);
      c->done = true;
      c->cond.notify_all ();
      return G_SOURCE_REMOVE;
    }, &call);
    std::unique_lock<std::mutex> l (call.lock);
    call.cond.wait (l, [&call] { return call.done; });
  }

  template <typename Pred> bool wait (Pred pred, int timeout_ms)
  {
    std::unique_lock<std::mutex> l (lock);
    return cond.wait_for (l, std::chrono::milliseconds (timeout_ms), pred);
  }

  void notify () { cond.notify_all (); }

  static void on_message (SoupWebsocketConnection *, gint type, GBytes *bytes,
      Impl *self)
  {
    if (type != SOUP_WEBSOCKET_DATA_TEXT)
      return;
    gsize size;
    const char *data = static_cast<const char *> (g_bytes_get_data (bytes,
            &size));
    {
      std::lock_guard<std::mutex> l (self->lock);
      self->texts.emplace_back (data, size);
    }
    self->notify ();
  }

  static void on_closed (SoupWebsocketConnection *conn, Impl *self)
  {
    {
      std::lock_guard<std::mutex> l (self->lock);
      self->closed = true;
      self->close_code = soup_websocket_connection_get_close_code (conn);
      const char *reason = soup_websocket_connection_get_close_data (conn);
      self->close_reason = reason ? reason : "";
    }
    self->notify ();
  }

  static void on_error (SoupWebsocketConnection *, GError *error, Impl *self)
  {
    std::lock_guard<std::mutex> l (self->lock);
    self->error = error->message;
  }

  static gboolean on_accept_certificate (SoupMessage *, GTlsCertificate *cert,
      GTlsCertificateFlags, Impl *self)
  {
    return self->trusted && g_tls_certificate_is_same (cert, self->trusted);
  }

  static void on_connected (GObject *source, GAsyncResult *result, gpointer data)
  {
    auto *self = static_cast<Impl *> (data);
    g_autoptr (GError) error = nullptr;
    SoupWebsocketConnection *conn = soup_session_websocket_connect_finish (
        SOUP_SESSION (source), result, &error);
    std::lock_guard<std::mutex> l (self->lock);
    if (conn) {
      self->conn = conn;
      g_object_set (conn, "max-incoming-payload-size", (guint64) 0, nullptr);
      g_signal_connect (conn, "message", G_CALLBACK (on_message), self);
      g_signal_connect (conn, "closed", G_CALLBACK (on_closed), self);
      g_signal_connect (conn, "error", G_CALLBACK (on_error), self);
    } else {
      self->connect_error = error->message;
    }
    self->connect_done = true;
    self->cond.notify_all ();
  }
};

WsClient::WsClient (std::unique_ptr<Impl> impl) : impl_ (std::move (impl))
{
}

WsClient::~WsClient () = default;

std::unique_ptr<WsClient>
WsClient::connect (const std::string &url, std::string *error_out)
{
  return connect (url, Options (), error_out);
}

std::unique_ptr<WsClient>
WsClient::connect (const std::string &url, const Options &options,
    std::string *error_out)
{
  auto impl = std::make_unique<Impl> ();
  Impl *raw = impl.get ();
  raw->thread = g_thread_new ("wsclient", Impl::thread_main, raw);
  if (options.trusted_ca)
    raw->trusted = G_TLS_CERTIFICATE (g_object_ref (options.trusted_ca));

  /* libsoup wants http(s) URIs for the upgrade request. */
  std::string http_url = url;
  if (http_url.rfind ("ws", 0) == 0)
    http_url.replace (0, 2, "http");

  std::string origin = options.origin;
  raw->run ([raw, http_url, origin] {
    raw->session = soup_session_new_with_options ("timeout", 10, nullptr);
    /* Offer permessage-deflate, as browsers do. */
    soup_session_add_feature_by_type (raw->session,
        SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", http_url.c_str ());
    if (!msg) {
      raw->connect_error = "invalid URL " + http_url;
      raw->connect_done = true;
      return;
    }
    g_signal_connect (msg, "accept-certificate",
        G_CALLBACK (Impl::on_accept_certificate), raw);
    soup_session_websocket_connect_async (raw->session, msg,
        origin.empty () ? nullptr : origin.c_str (), nullptr,
        G_PRIORITY_DEFAULT, nullptr, Impl::on_connected, raw);
  });
  bool done = raw->wait ([raw] { return raw->connect_done; },
      options.timeout_ms);
  std::string error;
  {
    std::lock_guard<std::mutex> l (raw->lock);
    if (!done)
      error = "timed out connecting to " + url;
    else if (!raw->conn)
      error = raw->connect_error;
  }
  if (!error.empty ()) {
    if (error_out)
      *error_out = error;
    return nullptr;
  }
  return std::unique_ptr<WsClient> (new WsClient (std::move (impl)));
}

void
WsClient::send_binary (GBytes *bytes)
{
  impl_->run ([this, bytes] {
    if (soup_websocket_connection_get_state (impl_->conn) ==
        SOUP_WEBSOCKET_STATE_OPEN) {
      gsize size;
      gconstpointer data = g_bytes_get_data (bytes, &size);
      soup_websocket_connection_send_binary (impl_->conn, data, size);
    }
  });
}

void
WsClient::send_text (const std::string &text)
{
  impl_->run ([this, text] {
    if (soup_websocket_connection_get_state (impl_->conn) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (impl_->conn, text.c_str ());
  });
}

bool
WsClient::replay (const Fixture &fixture, bool realtime)
{
  const auto &chunks = fixture.chunks ();
  if (chunks.empty ())
    return true;
  auto start = std::chrono::steady_clock::now ();
  double t0 = chunks.front ().t_ms;
  for (const auto &chunk : chunks) {
    if (realtime) {
      auto due = start + std::chrono::microseconds (
          static_cast<gint64> ((chunk.t_ms - t0) * 1000));
      std::this_thread::sleep_until (due);
    }
    if (is_closed ())
      return false;
    send_binary (chunk.bytes);
  }
  return !is_closed ();
}

void
WsClient::close (gushort code, const std::string &reason)
{
  impl_->run ([this, code, reason] {
    if (soup_websocket_connection_get_state (impl_->conn) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (impl_->conn, code,
          reason.empty () ? nullptr : reason.c_str ());
  });
}

void
WsClient::abort ()
{
  impl_->run ([this] {
    GIOStream *stream = soup_websocket_connection_get_io_stream (impl_->conn);
    g_io_stream_close (stream, nullptr, nullptr);
  });
}

bool
WsClient::wait_closed (int timeout_ms)
{
  return impl_->wait ([this] { return impl_->closed; }, timeout_ms);
}

bool
WsClient::is_closed () const
{
  std::lock_guard<std::mutex> l (impl_->lock);
  return impl_->closed;
}

int
WsClient::close_code () const
{
  std::lock_guard<std::mutex> l (impl_->lock);
  return impl_->close_code;
}

std::string
WsClient::close_reason () const
{
  std::lock_guard<std::mutex> l (impl_->lock);
  return impl_->close_reason;
}

std::string
WsClient::error () const
{
  std::lock_guard<std::mutex> l (impl_->lock);
  return impl_->error;
}

std::vector<std::string>
WsClient::extensions () const
{
  std::vector<std::string> names;
  impl_->run ([&] {
    if (!impl_->conn)
      return;
    for (GList *l = soup_websocket_connection_get_extensions (impl_->conn); l;
         l = l->next)
      names.emplace_back (SOUP_WEBSOCKET_EXTENSION_GET_CLASS (l->data)->name);
  });
  return names;
}

std::vector<std::string>
WsClient::text_messages () const
{
  std::lock_guard<std::mutex> l (impl_->lock);
  return impl_->texts;
}

bool
WsClient::wait_text (const std::string &needle, int timeout_ms)
{
  return impl_->wait ([this, &needle] {
    for (const auto &text : impl_->texts) {
      if (text.find (needle) != std::string::npos)
        return true;
    }
    return false;
  }, timeout_ms);
}

}  // namespace wsrtmp::test
