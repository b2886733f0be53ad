/* A WebSocket client on a bare socket, the one raw client of the tests, for
 * what libsoup's client will not do: send exactly the bytes a test wants
 * (one write for thousands of frames, a 100 MB frame), reset the
 * connection, stall mid-request, or see close codes libsoup's client turns
 * into 1002 (1012-2999, e.g. 1013; browsers do not). Blocking, on the
 * calling thread; IPv4 loopback only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include <string>
#include <vector>

namespace wsrtmp::test {

class RawWs {
 public:
  /* Connects to 127.0.0.1:port; throws std::runtime_error if it cannot. */
  explicit RawWs (int port);
  ~RawWs ();
  RawWs (const RawWs &) = delete;
  RawWs &operator= (const RawWs &) = delete;

  /* Writes every byte; false once the connection refuses more. */
  bool write (const std::string &bytes);

  /* Upgrade request for path; true once the server answered 101. */
  bool handshake (const std::string &path, const std::string &headers = "");

  /* A masked client frame (mask 0: payload unchanged). length overrides
   * the announced payload length (to announce more than is sent). */
  static std::string frame (guint8 opcode, const std::string &payload,
      guint64 length = G_MAXUINT64);
  static std::string close_frame (int code);

  /* Sends one binary frame of size zero bytes, written as it goes (no
   * buffer of that size), the way a client keeps sending whatever the server
   * does meanwhile. False if the connection refused the rest. */
  bool send_frame_of_size (guint64 size);

  /* Reads frames until the server's close frame: its code (1005 without
   * one), or 0 when the connection ended without a close frame (or
   * timeout_s passed). Text messages go to texts, the reason to
   * close_reason(). */
  int read_close (int timeout_s, std::vector<std::string> *texts = nullptr);
  const std::string &close_reason () const { return close_reason_; }

  /* True when the server closed the TCP connection within timeout_s. */
  bool wait_eof (int timeout_s);

  /* Everything until the server closes (bounded by timeout_s). */
  std::string read_all (int timeout_s);

  /* Closes with a TCP reset (SO_LINGER 0), no close frame. */
  void reset ();

  int status_ = 0;              /* HTTP status of the handshake */

 private:
  bool fill ();
  bool need (size_t size);

  GSocket *socket_;
  std::string buffer_;
  std::string close_reason_;
};

/* What a server said before closing a WebSocket. */
struct RawClose {
  int code = 0;                 /* 0: no close frame */
  std::string reason;
  std::vector<std::string> texts;
};
/* Connects to ws://127.0.0.1:port/path, upgrades, collects text frames
 * until the server's close frame (or timeout). */
RawClose raw_ws_until_close (const std::string &ws_url, int timeout_ms);

}  // namespace wsrtmp::test
