/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "wsclose.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <memory>
#include <string>

namespace wsrtmp {

namespace {

constexpr const char *LINGER_KEY = "wsrtmp-linger";
constexpr gsize LINGER_READ_SIZE = 64 * 1024;
/* Reads per main-loop dispatch: other sources get their turn. */
constexpr int LINGER_READS_PER_DISPATCH = 8;

/* The prefix of text that is at most max_bytes long and valid UTF-8. */
std::string
utf8_prefix (const char *text, gsize max_bytes)
{
  if (!text)
    return "";
  gsize len = strlen (text);
  if (len > max_bytes)
    len = max_bytes;
  const char *end = nullptr;
  g_utf8_validate (text, len, &end);
  return std::string (text, end - text);
}

/* One unmasked server frame (RFC 6455 §5.2). */
std::string
server_frame (guint8 opcode, const std::string &payload)
{
  std::string frame;
  frame += static_cast<char> (0x80 | opcode);
  guint64 size = payload.size ();
  if (size < 126) {
    frame += static_cast<char> (size);
  } else if (size <= G_MAXUINT16) {
    frame += static_cast<char> (126);
    frame += static_cast<char> (size >> 8);
    frame += static_cast<char> (size & 0xff);
  } else {
    frame += static_cast<char> (127);
    for (int shift = 56; shift >= 0; shift -= 8)
      frame += static_cast<char> ((size >> shift) & 0xff);
  }
  return frame + payload;
}

std::string
close_frame (gushort code, const char *reason)
{
  std::string payload;
  payload += static_cast<char> (code >> 8);
  payload += static_cast<char> (code & 0xff);
  /* Control frame payloads are at most 125 bytes. */
  payload += utf8_prefix (reason, 123);
  return server_frame (0x8, payload);
}

/* Writes frames straight to the connection's stream, past libsoup: only
 * when libsoup has nothing half-written (a fresh connection, or one it is
 * about to drop). A few hundred bytes into a socket buffer libsoup did not
 * fill: does not block. */
void
write_frames (SoupWebsocketConnection *conn, const std::string &frames)
{
  GIOStream *stream = soup_websocket_connection_get_io_stream (conn);
  GOutputStream *out = g_io_stream_get_output_stream (stream);
  g_autoptr (GError) error = nullptr;
  if (!g_output_stream_write_all (out, frames.data (), frames.size (),
          nullptr, nullptr, &error) ||
      !g_output_stream_flush (out, nullptr, &error))
    g_debug ("could not write a close frame: %s", error->message);
}

/* The TCP socket under a connection's stream: libsoup puts it on the
 * streams it hands out ("GSocket"); TLS and plain connections are walked. */
GSocket *
socket_of (GIOStream *stream)
{
  g_autoptr (GIOStream) base = nullptr;
  while (stream) {
    gpointer socket = g_object_get_data (G_OBJECT (stream), "GSocket");
    if (socket)
      return G_SOCKET (socket);
    if (G_IS_SOCKET_CONNECTION (stream))
      return g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));
    GIOStream *next = nullptr;
    if (G_IS_TLS_CONNECTION (stream))
      g_object_get (stream, "base-io-stream", &next, nullptr);
    g_clear_object (&base);
    base = next;
    stream = next;
  }
  return nullptr;
}

/* A closed connection's socket, still reading (RFC 6455 §7.1.1). Owned by
 * its read source: freed when that source goes, also with its main context
 * (a stopped element's listener thread). */
struct Linger {
  GSocket *socket;
  GSource *read_source = nullptr;       /* owned by the main context */
  GSource *timeout_source = nullptr;    /* a reference of ours */
  guint64 discarded = 0;
  std::unique_ptr<gchar[]> buffer { new gchar[LINGER_READ_SIZE] };
};

void
linger_free (gpointer data)
{
  auto *linger = static_cast<Linger *> (data);
  g_debug ("lingering close done, %" G_GUINT64_FORMAT " bytes discarded",
      linger->discarded);
  g_source_destroy (linger->timeout_source);
  g_source_unref (linger->timeout_source);
  g_socket_close (linger->socket, nullptr);
  g_object_unref (linger->socket);
  delete linger;
}

gboolean
linger_read (GSocket *socket, GIOCondition, gpointer data)
{
  auto *linger = static_cast<Linger *> (data);
  for (int i = 0; i < LINGER_READS_PER_DISPATCH; i++) {
    g_autoptr (GError) error = nullptr;
    gssize n = g_socket_receive_with_blocking (socket, linger->buffer.get (),
        LINGER_READ_SIZE, FALSE, nullptr, &error);
    if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      return G_SOURCE_CONTINUE;
    linger->discarded += MAX (n, 0);
    /* The client closed (or reset) its side, or sent too much. */
    if (n <= 0 || linger->discarded > LINGER_MAX_BYTES)
      return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

gboolean
linger_timeout (gpointer data)
{
  auto *linger = static_cast<Linger *> (data);
  g_debug ("lingering close timed out");
  g_source_destroy (linger->read_source);      /* frees linger */
  return G_SOURCE_REMOVE;
}

/* No more writes (the FIN follows the close frame), then read and discard
 * until the client's FIN, LINGER_MAX_BYTES or LINGER_TIMEOUT_S. */
void
linger_start (GSocket *socket)
{
  auto *linger = new Linger { G_SOCKET (g_object_ref (socket)) };
  g_socket_shutdown (socket, FALSE, TRUE, nullptr);
  GMainContext *context = g_main_context_get_thread_default ();
  linger->timeout_source = g_timeout_source_new_seconds (LINGER_TIMEOUT_S);
  g_source_set_callback (linger->timeout_source, linger_timeout, linger,
      nullptr);
  g_source_attach (linger->timeout_source, context);
  linger->read_source = g_socket_create_source (socket, G_IO_IN, nullptr);
  g_source_set_callback (linger->read_source, G_SOURCE_FUNC (linger_read),
      linger, linger_free);
  g_source_attach (linger->read_source, context);
  g_source_unref (linger->read_source);
}

void
on_closed_linger (SoupWebsocketConnection *, gpointer socket)
{
  linger_start (G_SOCKET (socket));
}

/* Keeps the connection's TCP socket open past libsoup's close: a second
 * descriptor for it, read by linger_start() once libsoup is done (on
 * "closed"), or right away. Once per connection. Returns the descriptor's
 * socket (owned by conn), or null if there is no TCP socket to keep. */
GSocket *
linger_arm (SoupWebsocketConnection *conn, bool on_closed)
{
  if (g_object_get_data (G_OBJECT (conn), LINGER_KEY))
    return nullptr;
  GSocket *socket = socket_of (soup_websocket_connection_get_io_stream (conn));
  if (!socket || g_socket_is_closed (socket))
    return nullptr;
  int fd = fcntl (g_socket_get_fd (socket), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return nullptr;
  g_autoptr (GError) error = nullptr;
  GSocket *copy = g_socket_new_from_fd (fd, &error);
  if (!copy) {
    g_debug ("cannot linger: %s", error->message);
    close (fd);
    return nullptr;
  }
  /* Dropped (and the descriptor closed) with the connection, if it never
   * closes. */
  g_object_set_data_full (G_OBJECT (conn), LINGER_KEY, copy, g_object_unref);
  if (on_closed)
    g_signal_connect (conn, "closed", G_CALLBACK (on_closed_linger), copy);
  return copy;
}

/* The connection stays alive until libsoup is done with it. */
void
keep_until_closed (SoupWebsocketConnection *conn)
{
  g_object_ref (conn);
  g_signal_connect (conn, "closed", G_CALLBACK (g_object_unref), nullptr);
}

}  // namespace

bool
websocket_close_code_valid (gushort code)
{
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code < 5000);
}

bool
websocket_close_code_sendable_by_soup (gushort code)
{
  switch (code) {
    case SOUP_WEBSOCKET_CLOSE_NORMAL:
    case SOUP_WEBSOCKET_CLOSE_GOING_AWAY:
    case SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR:
    case SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA:
    case SOUP_WEBSOCKET_CLOSE_BAD_DATA:
    case SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION:
    case SOUP_WEBSOCKET_CLOSE_TOO_BIG:
    case SOUP_WEBSOCKET_CLOSE_SERVER_ERROR:
      return true;
    default:
      return code >= 3000 && code < 5000;
  }
}

bool
websocket_close (SoupWebsocketConnection *conn, gushort code,
    const char *reason)
{
  if (soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return false;
  if (!websocket_close_code_sendable_by_soup (code))
    code = CLOSE_SERVER_ERROR;
  keep_until_closed (conn);
  linger_arm (conn, true);
  soup_websocket_connection_close (conn, code,
      utf8_prefix (reason, 123).c_str ());
  return true;
}

void
websocket_refuse (SoupWebsocketConnection *conn, gushort code,
    const char *reason, const char *text)
{
  if (soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  if (!websocket_close_code_valid (code))
    code = CLOSE_SERVER_ERROR;
  if (websocket_close_code_sendable_by_soup (code)) {
    if (text)
      soup_websocket_connection_send_text (conn, text);
    websocket_close (conn, code, reason);
    return;
  }
  /* libsoup would turn the code into 1002: the frames go out directly and
   * the connection is closed under libsoup, which notices on its next read. */
  write_frames (conn, (text ? server_frame (0x1, text) : "") +
      close_frame (code, reason));
  GSocket *socket = linger_arm (conn, false);
  g_io_stream_close (soup_websocket_connection_get_io_stream (conn), nullptr,
      nullptr);
  if (socket)
    linger_start (socket);
}

bool
websocket_close_after_error (SoupWebsocketConnection *conn, gushort code,
    const char *reason)
{
  if (soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return false;
  if (!websocket_close_code_valid (code))
    code = CLOSE_SERVER_ERROR;
  write_frames (conn, close_frame (code, reason));
  linger_arm (conn, true);
  return true;
}

}  // namespace wsrtmp
