/* Closing a server-side WebSocket: the one implementation wsserversrc and
 * wsrtmpd share (a small static library, wsrtmp-wsclose).
 *
 * Two things libsoup 3 does not do by itself:
 *
 * - Send every close code. soup_websocket_connection_close() sends 1000-1003,
 *   1007-1009, 1011 and 3000-4999 from a server; anything else becomes a
 *   1002 protocol error (1012-2999, so 1013 "try again later", which browsers
 *   understand) or a critical (1006, 1015). websocket_refuse() writes such a
 *   close frame itself, on a connection nothing was sent on yet.
 *
 * - Close the TCP connection the way RFC 6455 §7.1.1 asks. After a message
 *   over max-incoming-payload-size libsoup closes the socket at once, without
 *   a close frame, while the client is still sending: the kernel answers the
 *   unread data with a reset and the client never reads why (browsers and
 *   Node report 1006). After any close this library started, the socket
 *   lingers: no more writes (FIN after the close frame), and what the client
 *   still sends is read and thrown away until it closes its side, for at
 *   most LINGER_TIMEOUT_S and LINGER_MAX_BYTES.
 *
 * Every function must run in the connection's main context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

namespace wsrtmp {

/* The close codes (RFC 6455 §7.4.1 and the IANA registry) the element and
 * the service send. */
enum CloseCode : gushort {
  CLOSE_NORMAL = SOUP_WEBSOCKET_CLOSE_NORMAL,                   /* 1000 */
  CLOSE_GOING_AWAY = SOUP_WEBSOCKET_CLOSE_GOING_AWAY,           /* 1001 */
  CLOSE_UNSUPPORTED_DATA = SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA, /* 1003 */
  CLOSE_POLICY_VIOLATION = SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, /* 1008 */
  CLOSE_TOO_BIG = SOUP_WEBSOCKET_CLOSE_TOO_BIG,                 /* 1009 */
  CLOSE_SERVER_ERROR = SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,       /* 1011 */
  CLOSE_TRY_AGAIN_LATER = 1013,         /* IANA; libsoup has no name */
};

/* How long, and how many bytes, a closed connection keeps reading what
 * the client still sends. */
constexpr guint LINGER_TIMEOUT_S = 5;
constexpr guint64 LINGER_MAX_BYTES = 256 * 1024 * 1024;

/* A code an endpoint may put in a close frame: 1000-1003, 1007-1014,
 * 3000-4999 (never 1004-1006 or 1015, which are reserved). */
bool websocket_close_code_valid (gushort code);

/* A code soup_websocket_connection_close() sends on a server connection. */
bool websocket_close_code_sendable_by_soup (gushort code);

/* Closes an open connection with code (one libsoup sends; any other is
 * sent as 1011) and a UTF-8 reason (cut to 123 bytes), then lingers. The
 * connection keeps itself alive until it is closed; a client that never
 * answers is dropped after libsoup's timeout. Does nothing unless open
 * (a close frame, libsoup's or ours, went out already): returns whether
 * this close frame was sent. */
bool websocket_close (SoupWebsocketConnection *conn, gushort code,
    const char *reason);

/* Refuses a just-accepted connection that nothing was sent on yet: text
 * (if not null) as one text message, then a close frame with any valid
 * code (an invalid one is sent as 1011), then lingers. */
void websocket_refuse (SoupWebsocketConnection *conn, gushort code,
    const char *reason, const char *text = nullptr);

/* For an "error" handler of a message over max-incoming-payload-size
 * (SOUP_WEBSOCKET_CLOSE_TOO_BIG): libsoup drops the connection right after
 * the signal without a close frame; this writes one and lingers. Does
 * nothing unless open: returns whether the close frame was written. */
bool websocket_close_after_error (SoupWebsocketConnection *conn,
    gushort code, const char *reason);

}  // namespace wsrtmp
