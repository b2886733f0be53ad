/* A real WebSocket client (libsoup 3) on its own thread and main context, so
 * a test's main thread can block on a pipeline bus or a subprocess meanwhile.
 * For bytes libsoup would not send, or close codes it would not report, use
 * the raw client in rawws.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "fixture.h"

#include <gio/gio.h>

#include <memory>
#include <string>
#include <vector>

namespace wsrtmp::test {

class WsClient {
 public:
  struct Options {
    std::string origin;                 /* empty: no Origin header */
    GTlsCertificate *trusted_ca = nullptr;  /* accept this self-signed cert */
    int timeout_ms = 5000;
  };

  /* Connects to ws:// or wss:// url. On failure returns nullptr and sets
   * error_out to a description. */
  static std::unique_ptr<WsClient> connect (const std::string &url,
      std::string *error_out = nullptr);
  static std::unique_ptr<WsClient> connect (const std::string &url,
      const Options &options, std::string *error_out = nullptr);
  ~WsClient ();

  /* Each call sends one binary (or text) message; returns once queued. */
  void send_binary (GBytes *bytes);
  void send_text (const std::string &text);
  /* Sends every chunk as one message. realtime: keeps the recorded pace
   * (chunk t_ms), otherwise sends as fast as possible. Returns early (false)
   * if the server closed meanwhile. */
  bool replay (const Fixture &fixture, bool realtime);
  /* Starts the close handshake; queued messages go out first. */
  void close (gushort code = 1000, const std::string &reason = "");
  /* Drops the TCP connection without a close frame. */
  void abort ();

  /* Waits until the connection is closed (by either side). */
  bool wait_closed (int timeout_ms);
  bool is_closed () const;
  /* Close code and reason the server sent (0 / "" before the close). */
  int close_code () const;
  std::string close_reason () const;
  /* The connection's last "error" signal ("" if none): why a close with
   * code 0 happened on this side (a read or protocol error). */
  std::string error () const;
  /* Names of the extensions the server accepted (we offer
   * permessage-deflate, as browsers do). */
  std::vector<std::string> extensions () const;
  /* Text messages received so far, in order. */
  std::vector<std::string> text_messages () const;
  /* Waits for a text message containing needle; true if seen. */
  bool wait_text (const std::string &needle, int timeout_ms);

  struct Impl;

 private:
  explicit WsClient (std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wsrtmp::test
