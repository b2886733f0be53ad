/* An HTTP receiver a test runs (a SoupServer on 127.0.0.1 on a thread and
 * main context of its own) for what the daemon sends out: the --on-publish
 * hook's questions, --webhook-url's events. Shared by test_hooks and
 * test_recording.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <cppunit/extensions/HelperMacros.h>
#include <libsoup/soup.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wsrtmp::test {

/* One request the receiver got, and what it answered. */
struct Received {
  std::string path, body, signature;
  guint status = 0;
  gint64 at_us = 0;
};

/* An HTTP server on 127.0.0.1 on its own thread and main context. The
 * answer function gets the request's body and sets status and body, and
 * a delay in ms (the answer then waits without holding the thread). */
class Receiver {
 public:
  struct Answer {
    guint status = 200;
    std::string body;
    guint delay_ms = 0;
  };
  using Decide = std::function<Answer (const std::string &body)>;

  explicit Receiver (Decide decide) : decide_ (std::move (decide))
  {
    std::mutex lock;
    std::condition_variable ready;
    bool started = false;
    thread_ = std::thread ([&] {
      context_ = g_main_context_new ();
      g_main_context_push_thread_default (context_);
      loop_ = g_main_loop_new (context_, FALSE);
      server_ = soup_server_new (nullptr, nullptr);
      soup_server_add_handler (server_, nullptr, &Receiver::on_request, this,
          nullptr);
      g_autoptr (GError) error = nullptr;
      soup_server_listen_local (server_, 0, SOUP_SERVER_LISTEN_IPV4_ONLY,
          &error);
      GSList *uris = soup_server_get_uris (server_);
      port_ = uris ? g_uri_get_port (static_cast<GUri *> (uris->data)) : 0;
      g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
      {
        std::lock_guard<std::mutex> hold (lock);
        started = true;
      }
      ready.notify_one ();
      g_main_loop_run (loop_);
      soup_server_disconnect (server_);
      g_object_unref (server_);
      g_main_loop_unref (loop_);
      g_main_context_pop_thread_default (context_);
      g_main_context_unref (context_);
    });
    std::unique_lock<std::mutex> hold (lock);
    ready.wait (hold, [&] { return started; });
    CPPUNIT_ASSERT_MESSAGE ("the receiver cannot listen", port_ > 0);
  }
  ~Receiver ()
  {
    g_main_context_invoke (context_, [] (gpointer loop) {
      g_main_loop_quit (static_cast<GMainLoop *> (loop));
      return G_SOURCE_REMOVE;
    }, loop_);
    thread_.join ();
  }
  std::string url (const std::string &path = "/hook") const
  {
    return "http://127.0.0.1:" + std::to_string (port_) + path;
  }
  std::vector<Received> received () const
  {
    std::lock_guard<std::mutex> hold (lock_);
    return received_;
  }
  /* Waits until done (given every request so far) holds. */
  bool wait_for (const std::function<bool (const std::vector<Received> &)>
      &done, int timeout_ms) const
  {
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
      if (done (received ()))
        return true;
      std::this_thread::sleep_for (std::chrono::milliseconds (50));
    }
    return false;
  }

 private:
  static void on_request (SoupServer *, SoupServerMessage *msg,
      const char *path, GHashTable *, gpointer data);

  Decide decide_;
  std::thread thread_;
  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  SoupServer *server_ = nullptr;
  int port_ = 0;
  mutable std::mutex lock_;
  std::vector<Received> received_;
};

/* A JSON object's string member (other values as JSON text), "" when
 * absent. */
std::string member (const std::string &json, const char *name);

}  // namespace wsrtmp::test
