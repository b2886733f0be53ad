/* A client connection's input, read in turns.
 *
 * libsoup's WebSocket connection reads its socket until it would block,
 * emitting "message" for every frame, before it returns to the main loop.
 * All clients share wsrtmpd's main loop, so one client that keeps its
 * socket full (a stream cut into one-byte messages, a flood) would hold the
 * loop for seconds: the other clients' data, idle timers and RTMP
 * reconnects would all wait. This pollable stream hands out at most
 * `budget` bytes per main-loop dispatch and then reports "would block";
 * the connection's source fires again on the next iteration, after every
 * other ready source had its turn.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define WSRTMP_TYPE_FAIR_INPUT_STREAM (wsrtmp_fair_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (WsrtmpFairInputStream, wsrtmp_fair_input_stream,
    WSRTMP, FAIR_INPUT_STREAM, GFilterInputStream)

/* Wraps a connection's stream (as stolen from a SoupServerMessage): the
 * result reads through a fair input stream, writes straight to the
 * connection, and closing it closes the connection. */
GIOStream *wsrtmp_fair_io_stream_new (GIOStream *connection, gsize budget);

/* Bytes read from the connection so far (0 for a stream not made by
 * wsrtmp_fair_io_stream_new). Main context only. */
guint64 wsrtmp_fair_io_stream_get_bytes_read (GIOStream *stream);

G_END_DECLS
