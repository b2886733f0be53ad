/* wsserversrc's listener: a SoupServer of its own that accepts WebSocket
 * upgrades on one path, on a thread of its own with a GMainContext of its
 * own (made the thread's default before the server is made), as
 * souphttpsrc keeps its GstSoupSession: the thread and its loop belong to
 * one object, which joins the thread when stopped. libsoup is called on
 * that thread only. Where it listens is wslisten.h's rule, wsrtmpd's too.
 *
 * What to do with a client is the element's: the listener hands each
 * WebSocket to the element's callback, on the listener's thread, and calls
 * the element once more there when it stops, before the server goes (to
 * close and drop the connection it kept).
 *
 * start and stop come from one thread at a time (the element's start, stop
 * and dispose). The listener's lock (listen_lock) is a leaf (plugin.cpp):
 * it only hands the start-up result over.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace wsrtmp {

class WsListener {
 public:
  /* Where and how to listen: the element's settings, by value. */
  struct Config {
    std::string host;   /* "" or "localhost": 127.0.0.1 and ::1 */
    guint port = 0;     /* 0: a free port (see port ()) */
    std::string path;   /* "" is "/" */
    /* wss:// (TLS) with it; start takes a reference of its own. */
    GTlsCertificate *certificate = nullptr;
  };
  /* A client opened a WebSocket; on the listener's thread. */
  using Accepted = std::function<void (SoupServerMessage *message,
      SoupWebsocketConnection *connection)>;
  /* The listener stops; on its thread, before the server goes. */
  using Stopping = std::function<void ()>;

  WsListener () = default;
  ~WsListener () { stop (); }
  WsListener (const WsListener &) = delete;
  WsListener &operator= (const WsListener &) = delete;

  /* Starts the thread and waits until it listens (true) or could not
   * (false with error; the thread is joined). */
  bool start (const Config &config, Accepted accepted, Stopping stopping,
      GError **error);
  /* Quits the loop from outside and joins the thread; nothing when it is
   * not running. */
  void stop ();
  /* The port listened on; 0 when not listening. Any thread. */
  int port () const { return port_; }

 private:
  static gpointer run (gpointer data);
  static void on_websocket (SoupServer *server, SoupServerMessage *message,
      const char *path, SoupWebsocketConnection *connection, gpointer data);
  /* Joins the thread (its loop quit, or never run) and drops what start
   * made. */
  void join ();
  void report_start (GError *error);

  /* Owned by start and stop (one thread at a time). */
  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  GThread *thread_ = nullptr;
  /* Set by start before the thread runs, constant until it is joined. */
  Config config_;
  Accepted accepted_;
  Stopping stopping_;

  /* The thread's start-up result, for start. */
  std::mutex listen_lock_;
  std::condition_variable listen_cond_;
  bool listen_done_ = false;    /* guarded by listen_lock_ */
  GError *listen_error_ = nullptr;      /* guarded by listen_lock_ */

  std::atomic<int> port_ { 0 };
};

}  // namespace wsrtmp
