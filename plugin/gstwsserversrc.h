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

/* Details posted with element errors (GST_ELEMENT_ERROR_WITH_DETAILS): the
 * WebSocket close code the element sent or received, so applications can
 * map an error to what the client was told. */
#define GST_WS_SERVER_SRC_ERROR_DETAILS_NAME "wsserversrc-error"
#define GST_WS_SERVER_SRC_ERROR_CLOSE_CODE "close-code"

/* Element message posted on the bus for every text message a client sends. */
#define GST_WS_SERVER_SRC_TEXT_MESSAGE_NAME "websocket-text"

G_END_DECLS
