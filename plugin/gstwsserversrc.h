/* wsserversrc: the server end of a WebSocket, as a live byte-stream source.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_WS_SERVER_SRC (gst_ws_server_src_get_type ())
G_DECLARE_FINAL_TYPE (GstWsServerSrc, gst_ws_server_src, GST, WS_SERVER_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (wsserversrc);

/* The names applications use, so they need not repeat string literals
 * (gst-inspect-1.0 wsserversrc documents every property). */
#define GST_WS_SERVER_SRC_PROP_CONNECTION "connection"
#define GST_WS_SERVER_SRC_PROP_MAX_MESSAGE_SIZE "max-message-size"
#define GST_WS_SERVER_SRC_PROP_BYTES_RECEIVED "bytes-received"
#define GST_WS_SERVER_SRC_PROP_MESSAGES_RECEIVED "messages-received"

/* Field of the details structure of the element's errors (posted with
 * GST_ELEMENT_ERROR_WITH_DETAILS, read with
 * gst_message_parse_error_details(); GStreamer names that structure
 * "details"): the WebSocket close code (int) the client was closed with, so
 * applications can map an error to what the client was told. */
#define GST_WS_SERVER_SRC_ERROR_CLOSE_CODE "close-code"

/* Element message posted on the bus for every text message a client sends,
 * with the text in its one field. */
#define GST_WS_SERVER_SRC_TEXT_MESSAGE_NAME "websocket-text"
#define GST_WS_SERVER_SRC_TEXT_MESSAGE_FIELD "text"

G_END_DECLS
