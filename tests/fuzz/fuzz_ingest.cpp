/* libFuzzer target: a browser stream, cut into WebSocket messages, through
 * the real element and demux path.
 *
 * Input format (see make_seeds.py, which builds seeds from tests/data):
 *
 *   byte 0        flags
 *                   bit 0  transport: 0 = appsrc (one buffer per message),
 *                          1 = wsserversrc adopting a real SoupWebsocketConnection
 *                              (server end of a socketpair, a client-mode
 *                              connection on the other end sends the messages)
 *                   bit 1  output size 1280x720 (H.264 input of that size is
 *                          passed through) instead of 64x64
 *                   bit 2  passthrough=false
 *   then messages, each: 2 bytes little-endian length, then that many bytes
 *                        (the last one is cut short if the input ends).
 *
 * Every execution builds   <source> ! flvencodebin ! fakesink,   pushes the
 * messages, ends the stream (EOS, or a 1000 close frame from the client),
 * waits for EOS or an error on the bus (at most FUZZ_INGEST_TIMEOUT_MS,
 * default 10000; with FUZZ_INGEST_ABORT_ON_HANG=1 a timeout aborts, so
 * libFuzzer saves the input) and tears everything down.
 *
 * Built two ways (tests/fuzz/meson.build): with -fsanitize=fuzzer (libFuzzer
 * drives it), or with replay_main.cpp, which runs each file given on the
 * command line (or each file in a directory) once: the regression test.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <libsoup/soup.h>

#include "fuzz_common.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr guint8 FLAG_WEBSOCKET = 1 << 0;
constexpr guint8 FLAG_FULL_SIZE = 1 << 1;
constexpr guint8 FLAG_NO_PASSTHROUGH = 1 << 2;
/* More messages than this are joined into the last one: bounds the per-exec
 * cost of inputs made of many tiny messages. */
constexpr size_t MAX_MESSAGES = 256;

struct Message {
  const guint8 *data;
  size_t size;
};

std::vector<Message>
split_messages (const guint8 *data, size_t size)
{
  std::vector<Message> messages;
  size_t pos = 0;
  while (pos < size) {
    size_t len = data[pos];
    if (pos + 1 < size)
      len |= size_t (data[pos + 1]) << 8;
    pos += 2;
    if (pos >= size)
      break;
    len = std::min (len, size - pos);
    if (messages.size () == MAX_MESSAGES) {
      messages.back ().size = size - (messages.back ().data - data);
      break;
    }
    messages.push_back ({ data + pos, len });
    pos += len;
  }
  return messages;
}

GstElement *
make_encoder (guint8 flags)
{
  GstElement *encode = gst_element_factory_make ("flvencodebin", "encode");
  if (!encode) {
    fprintf (stderr, "fuzz_ingest: no flvencodebin (GST_PLUGIN_PATH=%s)\n",
        g_getenv ("GST_PLUGIN_PATH"));
    abort ();
  }
  int size_w = (flags & FLAG_FULL_SIZE) ? 1280 : 64;
  int size_h = (flags & FLAG_FULL_SIZE) ? 720 : 64;
  g_object_set (encode, "width", size_w, "height", size_h,
      "speed-preset", "ultrafast", "video-bitrate", 100u, "audio-bitrate", 32u,
      "framerate", 10, 1, "passthrough", !(flags & FLAG_NO_PASSTHROUGH),
      nullptr);
  return encode;
}

/* Waits for EOS or an error; runs ctx (if any) meanwhile. */
bool
wait_for_end (GstElement *pipeline, GMainContext *ctx, gint64 deadline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  bool ended = false;
  while (!ended && g_get_monotonic_time () < deadline) {
    if (ctx)
      while (g_main_context_iteration (ctx, FALSE)) {
      }
    GstMessage *msg = gst_bus_timed_pop_filtered (bus,
        ctx ? 2 * GST_MSECOND : 50 * GST_MSECOND,
        GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (!msg)
      continue;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) err = nullptr;
      gst_message_parse_error (msg, &err, nullptr);
      fuzz::note ("error from %s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
          err->message);
    } else {
      fuzz::note ("EOS");
    }
    gst_message_unref (msg);
    ended = true;
  }
  gst_object_unref (bus);
  return ended;
}

void
run_appsrc (guint8 flags, const std::vector<Message> &messages)
{
  GstElement *pipeline = gst_pipeline_new ("fuzz");
  GstElement *src = gst_element_factory_make ("appsrc", "src");
  GstElement *encode = make_encoder (flags);
  GstElement *sink = gst_element_factory_make ("fakesink", "sink");
  g_object_set (src, "is-live", TRUE, "format", GST_FORMAT_BYTES,
      "max-bytes", G_GUINT64_CONSTANT (0), nullptr);
  g_object_set (sink, "sync", FALSE, nullptr);
  gst_bin_add_many (GST_BIN (pipeline), src, encode, sink, nullptr);
  gst_element_link_many (src, encode, sink, nullptr);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  guint64 offset = 0;
  for (const Message &m : messages) {
    if (m.size == 0)
      continue;
    GstBuffer *buffer = gst_buffer_new_memdup (m.data, m.size);
    GST_BUFFER_OFFSET (buffer) = offset;
    offset += m.size;
    GST_BUFFER_OFFSET_END (buffer) = offset;
    if (gst_app_src_push_buffer (GST_APP_SRC (src), buffer) != GST_FLOW_OK)
      break;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  if (!wait_for_end (pipeline, nullptr,
          g_get_monotonic_time () + fuzz::timeout_us))
    fuzz::hang ("appsrc");
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

/* A real WebSocket without HTTP: both ends of a socketpair. */
bool
websocket_pair (SoupWebsocketConnection **server,
    SoupWebsocketConnection **client)
{
  int fds[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return false;
  SoupWebsocketConnection *ends[2];
  for (int i = 0; i < 2; i++) {
    GSocket *socket = g_socket_new_from_fd (fds[i], nullptr);
    g_assert (socket);
    GSocketConnection *stream =
        g_socket_connection_factory_create_connection (socket);
    g_object_unref (socket);
    g_autoptr (GUri) uri = g_uri_parse ("ws://127.0.0.1/ingest/fuzz",
        G_URI_FLAGS_NONE, nullptr);
    ends[i] = soup_websocket_connection_new (G_IO_STREAM (stream), uri,
        i == 0 ? SOUP_WEBSOCKET_CONNECTION_SERVER :
            SOUP_WEBSOCKET_CONNECTION_CLIENT,
        "http://127.0.0.1", nullptr, nullptr);
    g_object_unref (stream);
    /* No keepalive or close timers that outlive an execution. */
    g_object_set (ends[i], "keepalive-interval", 0u, nullptr);
  }
  *server = ends[0];
  *client = ends[1];
  return true;
}

void
run_websocket (guint8 flags, const std::vector<Message> &messages)
{
  /* The connections dispatch their signals in this context, on this thread,
   * as a SoupServer's would in wsrtmpd. */
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);

  SoupWebsocketConnection *server, *client;
  if (!websocket_pair (&server, &client)) {
    perror ("socketpair");
    abort ();
  }

  GstElement *pipeline = gst_pipeline_new ("fuzz");
  GstElement *src = gst_element_factory_make ("wsserversrc", "src");
  GstElement *encode = make_encoder (flags);
  GstElement *sink = gst_element_factory_make ("fakesink", "sink");
  if (!src) {
    fprintf (stderr, "fuzz_ingest: no wsserversrc\n");
    abort ();
  }
  g_object_set (sink, "sync", FALSE, nullptr);
  g_object_set (src, "connection", server, nullptr);
  gst_bin_add_many (GST_BIN (pipeline), src, encode, sink, nullptr);
  gst_element_link_many (src, encode, sink, nullptr);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  for (const Message &m : messages) {
    if (soup_websocket_connection_get_state (client) !=
        SOUP_WEBSOCKET_STATE_OPEN)
      break;
    soup_websocket_connection_send_binary (client, m.data, m.size);
    while (g_main_context_iteration (ctx, FALSE)) {
    }
  }
  if (soup_websocket_connection_get_state (client) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (client, SOUP_WEBSOCKET_CLOSE_NORMAL,
        nullptr);

  gint64 deadline = g_get_monotonic_time () + fuzz::timeout_us;
  if (!wait_for_end (pipeline, ctx, deadline))
    fuzz::hang ("websocket");
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  /* Let both ends finish their close handshake, then drop them. */
  if (soup_websocket_connection_get_state (server) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (server, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        nullptr);
  gint64 close_deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while ((soup_websocket_connection_get_state (server) !=
              SOUP_WEBSOCKET_STATE_CLOSED ||
          soup_websocket_connection_get_state (client) !=
              SOUP_WEBSOCKET_STATE_CLOSED) &&
      g_get_monotonic_time () < close_deadline)
    g_main_context_iteration (ctx, FALSE);
  g_object_unref (client);
  g_object_unref (server);
  while (g_main_context_iteration (ctx, FALSE)) {
  }
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
}

}  // namespace

extern "C" int
LLVMFuzzerInitialize (int *, char ***)
{
  fuzz::init ("fuzz_ingest");
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  guint8 flags = data[0];
  std::vector<Message> messages = split_messages (data + 1, size - 1);
  if (messages.empty ())
    return 0;
  if (flags & FLAG_WEBSOCKET)
    run_websocket (flags, messages);
  else
    run_appsrc (flags, messages);
  return 0;
}
