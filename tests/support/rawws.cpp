/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "rawws.h"

#include <sys/socket.h>

#include <stdexcept>

namespace wsrtmp::test {

RawWs::RawWs (int port)
{
  socket_ = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, nullptr);
  g_socket_set_timeout (socket_, 15);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (
      G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback,
      port);
  if (!g_socket_connect (socket_, address, nullptr, nullptr)) {
    g_object_unref (socket_);
    throw std::runtime_error ("raw connect failed");
  }
}

RawWs::~RawWs ()
{
  g_object_unref (socket_);
}

bool
RawWs::write (const std::string &bytes)
{
  size_t at = 0;
  while (at < bytes.size ()) {
    gssize n = g_socket_send (socket_, bytes.data () + at, bytes.size () - at,
        nullptr, nullptr);
    if (n <= 0)
      return false;
    at += n;
  }
  return true;
}

bool
RawWs::handshake (const std::string &path, const std::string &headers)
{
  write ("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n");
  size_t end;
  while ((end = buffer_.find ("\r\n\r\n")) == std::string::npos) {
    if (!fill ())
      return false;
  }
  status_ = buffer_.size () > 12 ? atoi (buffer_.c_str () + 9) : 0;
  bool ok = status_ == 101;
  buffer_.erase (0, end + 4);
  return ok;
}

std::string
RawWs::frame (guint8 opcode, const std::string &payload, guint64 length)
{
  if (length == G_MAXUINT64)
    length = payload.size ();
  std::string out;
  out += static_cast<char> (0x80 | opcode);
  if (length < 126) {
    out += static_cast<char> (0x80 | length);
  } else if (length < 65536) {
    out += static_cast<char> (0x80 | 126);
    out += static_cast<char> (length >> 8);
    out += static_cast<char> (length & 0xff);
  } else {
    out += static_cast<char> (0x80 | 127);
    for (int i = 7; i >= 0; i--)
      out += static_cast<char> ((length >> (8 * i)) & 0xff);
  }
  out += std::string (4, '\0');
  return out + payload;
}

std::string
RawWs::close_frame (int code)
{
  std::string payload;
  payload += static_cast<char> (code >> 8);
  payload += static_cast<char> (code & 0xff);
  return frame (0x8, payload);
}

bool
RawWs::send_frame_of_size (guint64 size)
{
  if (!write (frame (0x2, "", size)))
    return false;
  const std::string zeros (1024 * 1024, '\0');
  for (guint64 sent = 0; sent < size; sent += zeros.size ()) {
    if (!write (zeros.substr (0, MIN (size - sent, (guint64) zeros.size ()))))
      return false;
  }
  return true;
}

int
RawWs::read_close (int timeout_s, std::vector<std::string> *texts)
{
  g_socket_set_timeout (socket_, timeout_s);
  while (true) {
    if (!need (2))
      return 0;
    auto byte = [&] (size_t i) { return static_cast<guint8> (buffer_[i]); };
    int opcode = byte (0) & 0x0f;
    guint64 length = byte (1) & 0x7f;
    size_t at = 2;
    if (length == 126) {
      if (!need (4))
        return 0;
      length = (byte (2) << 8) | byte (3);
      at = 4;
    } else if (length == 127) {
      if (!need (10))
        return 0;
      length = 0;
      for (int i = 2; i < 10; i++)
        length = (length << 8) | byte (i);
      at = 10;
    }
    if (!need (at + length))
      return 0;
    std::string payload = buffer_.substr (at, length);
    buffer_.erase (0, at + length);
    if (opcode == 0x1 && texts)
      texts->push_back (payload);
    if (opcode == 0x8) {
      if (payload.size () < 2)
        return 1005;
      close_reason_ = payload.substr (2);
      return (static_cast<guint8> (payload[0]) << 8) |
          static_cast<guint8> (payload[1]);
    }
  }
}

bool
RawWs::wait_eof (int timeout_s)
{
  g_socket_set_timeout (socket_, timeout_s);
  char chunk[4096];
  while (true) {
    g_autoptr (GError) error = nullptr;
    gssize n = g_socket_receive (socket_, chunk, sizeof chunk, nullptr,
        &error);
    if (n == 0)
      return true;
    if (n < 0)
      return !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  }
}

std::string
RawWs::read_all (int timeout_s)
{
  g_socket_set_timeout (socket_, timeout_s);
  while (fill ())
    ;
  return buffer_;
}

void
RawWs::reset ()
{
  struct linger linger = { 1, 0 };
  setsockopt (g_socket_get_fd (socket_), SOL_SOCKET, SO_LINGER, &linger,
      sizeof linger);
  g_socket_close (socket_, nullptr);
}

bool
RawWs::fill ()
{
  char chunk[65536];
  gssize n = g_socket_receive (socket_, chunk, sizeof chunk, nullptr,
      nullptr);
  if (n <= 0)
    return false;
  buffer_.append (chunk, n);
  return true;
}

bool
RawWs::need (size_t size)
{
  while (buffer_.size () < size) {
    if (!fill ())
      return false;
  }
  return true;
}

RawClose
raw_ws_until_close (const std::string &ws_url, int timeout_ms)
{
  g_autoptr (GUri) uri = g_uri_parse (ws_url.c_str (), G_URI_FLAGS_ENCODED,
      nullptr);
  if (!uri)
    throw std::runtime_error ("bad URL " + ws_url);
  RawClose result;
  RawWs raw (g_uri_get_port (uri));
  if (!raw.handshake (g_uri_get_path (uri)))
    throw std::runtime_error ("no upgrade: HTTP " +
        std::to_string (raw.status_));
  result.code = raw.read_close (MAX (timeout_ms / 1000, 1), &result.texts);
  result.reason = raw.close_reason ();
  return result;
}

}  // namespace wsrtmp::test
