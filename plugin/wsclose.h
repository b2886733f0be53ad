/* Closing a WebSocket with any RFC 6455 close code.
 *
 * libsoup 3 only sends the close codes it knows (1000-1011 and 3000-4999):
 * soup_websocket_connection_close() turns anything else, such as 1013
 * "try again later", into a 1002 protocol error. Browsers understand 1013,
 * and our users rely on it, so for those codes this writes the one close
 * frame itself and leaves the rest of the close handshake to libsoup.
 *
 * Header-only: shared by the element and the service.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include <string.h>

namespace wsrtmp {

inline bool
websocket_code_sendable_by_soup (gushort code)
{
  return (code >= SOUP_WEBSOCKET_CLOSE_NORMAL &&
      code <= SOUP_WEBSOCKET_CLOSE_SERVER_ERROR &&
      code != SOUP_WEBSOCKET_CLOSE_NO_STATUS &&
      code != SOUP_WEBSOCKET_CLOSE_ABNORMAL) || (code >= 3000 && code < 5000);
}

/* Writes a server's close frame directly to the connection's stream, for
 * codes libsoup refuses to send and for the moments it closes without one.
 * Must run in the connection's main context. */
inline void
write_close_frame (SoupWebsocketConnection *conn, gushort code,
    const char *reason)
{
  /* FIN + opcode 8, unmasked, code, UTF-8 reason; control frame payloads
   * are at most 125 bytes. */
  guint8 frame[2 + 125];
  gsize reason_len = reason ? MIN (strlen (reason), (gsize) 123) : 0;
  frame[0] = 0x88;
  frame[1] = 2 + reason_len;
  frame[2] = code >> 8;
  frame[3] = code & 0xff;
  if (reason_len)
    memcpy (frame + 4, reason, reason_len);
  GIOStream *stream = soup_websocket_connection_get_io_stream (conn);
  g_output_stream_write_all (g_io_stream_get_output_stream (stream), frame,
      4 + reason_len, nullptr, nullptr, nullptr);
}

/* Must run in the connection's main context, on an open server-side
 * connection. The connection keeps itself alive until it is closed; a peer
 * that never answers is dropped after timeout_s. */
inline void
websocket_close (SoupWebsocketConnection *conn, gushort code,
    const char *reason, guint timeout_s = 5)
{
  if (soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_object_ref (conn);
  g_signal_connect (conn, "closed", G_CALLBACK (g_object_unref), nullptr);
  if (websocket_code_sendable_by_soup (code)) {
    soup_websocket_connection_close (conn, code, reason);
    return;
  }

  write_close_frame (conn, code, reason);

  /* The peer answers with its own close frame, which libsoup handles; if it
   * never does, drop the TCP connection. */
  GSource *timeout = g_timeout_source_new_seconds (timeout_s);
  g_source_set_callback (timeout, [] (gpointer data) -> gboolean {
        auto *c = static_cast<SoupWebsocketConnection *> (data);
        if (soup_websocket_connection_get_state (c) != SOUP_WEBSOCKET_STATE_CLOSED)
          g_io_stream_close (soup_websocket_connection_get_io_stream (c),
              nullptr, nullptr);
        return G_SOURCE_REMOVE;
      }, g_object_ref (conn), g_object_unref);
  g_source_attach (timeout, g_main_context_get_thread_default ());
  g_source_unref (timeout);
}

}  // namespace wsrtmp
