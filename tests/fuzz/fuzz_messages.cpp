/* libFuzzer target: wsserversrc's WebSocket message handling and close
 * logic on their own, fed raw client frames.
 *
 * Input format (make_message_seeds.py builds seeds):
 *
 *   byte 0   settings
 *              bits 0-1  max-message-size: 0 (no limit: G_MAXINT, the
 *                        element's cap for libsoup), 8, 200 or 4096 bytes
 *              bits 2-3  max-queued-bytes: unlimited, 16, 300 or 8192 bytes
 *              bit 4     the pipeline runs while the frames arrive (else it
 *                        starts once the connection is closed, so which
 *                        limit trips is decided by the input alone)
 *              bit 5     the frames arrive 7 bytes at a time
 *              bit 6     the element is stopped and lets go of the
 *                        connection before the client's FIN
 *   then     the bytes a client sends after the HTTP upgrade: frames
 *            (masked or not, any opcode, fragmented, any length), cut
 *            anywhere; the client then shuts its side down (FIN).
 *
 * One pipeline, wsserversrc ! fakesink, lives for the whole process; each
 * execution makes a socket pair, adopts a server-role
 * SoupWebsocketConnection on one end through the element's public
 * `connection` property, writes the input into the other end, runs the
 * pipeline until EOS or an error, and checks:
 *
 *   - it ends: EOS, or an error from wsserversrc whose details carry a
 *     `close-code` a server may send (RFC 6455 7.4: 1000-1003, 1007-1014,
 *     3000-4999);
 *   - what comes out is what was accepted: the bytes pushed are whole
 *     binary messages libsoup delivered, in order, with contiguous offsets:
 *     on 1009 all of them up to the first one over max-message-size; on
 *     EOS at least all delivered while the connection was open (once a
 *     close is under way, the element drops what breaks a limit and all
 *     after it); a prefix on 1011, where the element stops pushing.
 *     bytes-received and messages-received count every binary message, and
 *     every text message within max-message-size was posted on the bus;
 *   - a message over max-message-size, however many frames it came in,
 *     delivered while the connection was open, gets 1009;
 *   - what the server wrote back parses as unmasked frames, its close frame
 *     (if any) carries a sendable code, and after an error with close-code
 *     X the client was sent a close frame with code X (the element never
 *     claims a close it could not send).
 *
 * libsoup is not instrumented: libFuzzer is guided by the debug messages
 * of its frame parser instead (fuzz::trace_glib_debug).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "fuzz_common.h"

#include <gio/gio.h>
#include <gst/gst.h>
#include <libsoup/soup.h>

#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <cerrno>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

constexpr guint8 LIVE = 1 << 4;
constexpr guint8 TRICKLE = 1 << 5;
constexpr guint8 STOP_EARLY = 1 << 6;
constexpr gsize TRICKLE_BYTES = 7;
constexpr guint64 MAX_MESSAGE_SIZES[] = { 0, 8, 200, 4096 };
/* What wsserversrc enforces for 0. */
constexpr guint64 NO_LIMIT = G_MAXINT;
constexpr guint64 MAX_QUEUED_BYTES[] = { 0, 16, 300, 8192 };

/* Codes a server may put in a close frame (RFC 6455 7.4.1 and the IANA
 * registry): never 1004-1006 or 1015, nothing reserved. */
bool
sendable_close_code (int code)
{
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code <= 4999);
}

/* What the element pushed, seen at the sink. */
struct Output {
  std::mutex lock;
  std::string bytes;
  bool offsets_ok = true;
  guint64 bad_offset = 0;
};

/* What libsoup delivered, seen by our own handlers on the connection
 * (connected before the element's, so they see the state it sees). */
struct Delivered {
  SoupWebsocketConnection *conn = nullptr;
  guint64 limit = NO_LIMIT;             /* max-message-size enforced */
  std::string binary;
  std::vector<gsize> binary_ends;       /* offset after each binary message */
  guint64 binary_messages = 0;
  guint64 text_messages = 0;
  guint64 texts_within_limit = 0;
  /* Binary bytes delivered while the connection was open, and before the
   * first message over the limit that was (-1: none was). */
  gsize open_bytes = 0;
  gssize before_refused = -1;
  gsize largest_open = 0;
  bool closed = false;
};

/* The process-wide part, made once. */
struct Harness {
  GMainContext *context = nullptr;
  GstElement *pipeline = nullptr;
  GstElement *src = nullptr;
  GstBus *bus = nullptr;
  Output output;
};

Harness *harness;

GstPadProbeReturn
collect_output (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *output = static_cast<Output *> (data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  std::lock_guard<std::mutex> lock (output->lock);
  if (GST_BUFFER_OFFSET (buffer) != output->bytes.size () ||
      GST_BUFFER_OFFSET_END (buffer) != output->bytes.size () + map.size) {
    output->offsets_ok = false;
    output->bad_offset = GST_BUFFER_OFFSET (buffer);
  }
  output->bytes.append (reinterpret_cast<const char *> (map.data), map.size);
  gst_buffer_unmap (buffer, &map);
  return GST_PAD_PROBE_OK;
}

/* Only what run() reads reaches the bus: state changes and stream status
 * would wake it for nothing, several times per execution. */
GstBusSyncReply
keep_endings (GstBus *, GstMessage *msg, gpointer)
{
  if (GST_MESSAGE_TYPE (msg) & (GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
          GST_MESSAGE_ELEMENT))
    return GST_BUS_PASS;
  gst_message_unref (msg);      /* dropping is ours to do */
  return GST_BUS_DROP;
}

void
make_harness ()
{
  harness = new Harness ();
  /* The connections dispatch their signals in this context, on this thread,
   * as a SoupServer's would in wsrtmpd. */
  harness->context = g_main_context_new ();
  g_main_context_push_thread_default (harness->context);

  harness->pipeline = gst_pipeline_new ("fuzz");
  harness->src = gst_element_factory_make ("wsserversrc", "src");
  GstElement *sink = gst_element_factory_make ("fakesink", "sink");
  if (!harness->src) {
    fprintf (stderr, "fuzz_messages: no wsserversrc\n");
    abort ();
  }
  g_object_set (sink, "sync", FALSE, nullptr);
  gst_bin_add_many (GST_BIN (harness->pipeline), harness->src, sink, nullptr);
  gst_element_link (harness->src, sink);
  GstPad *sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, collect_output,
      &harness->output, nullptr);
  gst_object_unref (sinkpad);
  harness->bus = gst_element_get_bus (harness->pipeline);
  gst_bus_set_sync_handler (harness->bus, keep_endings, nullptr, nullptr);
  gst_element_set_state (harness->pipeline, GST_STATE_READY);
}

void
on_delivered (SoupWebsocketConnection *, gint type, GBytes *message,
    Delivered *delivered)
{
  gsize size;
  auto *data = static_cast<const char *> (g_bytes_get_data (message, &size));
  bool open = soup_websocket_connection_get_state (delivered->conn) ==
      SOUP_WEBSOCKET_STATE_OPEN;
  if (open) {
    delivered->largest_open = std::max (delivered->largest_open, size);
    if (size > delivered->limit && delivered->before_refused < 0)
      delivered->before_refused = delivered->binary.size ();
  }
  if (type == SOUP_WEBSOCKET_DATA_BINARY) {
    delivered->binary.append (data, size);
    delivered->binary_ends.push_back (delivered->binary.size ());
    delivered->binary_messages++;
    if (open)
      delivered->open_bytes = delivered->binary.size ();
  } else {
    delivered->text_messages++;
    if (size <= delivered->limit)
      delivered->texts_within_limit++;
  }
}

void
on_closed (SoupWebsocketConnection *, Delivered *delivered)
{
  delivered->closed = true;
}

/* Frames the server wrote to the client, as far as they parse. */
struct ServerFrames {
  int close_frames = 0;
  int first_close_code = -1;    /* -1: no close frame; 0: one without a code */
  int frames_after_close = 0;
  bool masked = false;
  bool bad_close_payload = false;
};

ServerFrames
parse_server_frames (const std::string &wire)
{
  ServerFrames frames;
  auto *p = reinterpret_cast<const guint8 *> (wire.data ());
  gsize size = wire.size (), pos = 0;
  while (pos + 2 <= size) {
    guint8 opcode = p[pos] & 0x0f;
    bool masked = p[pos + 1] & 0x80;
    guint64 len = p[pos + 1] & 0x7f;
    gsize header = 2;
    if (len == 126) {
      if (pos + 4 > size)
        break;
      len = (p[pos + 2] << 8) | p[pos + 3];
      header = 4;
    } else if (len == 127) {
      if (pos + 10 > size)
        break;
      len = 0;
      for (int i = 0; i < 8; i++)
        len = (len << 8) | p[pos + 2 + i];
      header = 10;
    }
    if (masked)
      frames.masked = true;
    if (masked || len > size - pos - header)
      break;
    const guint8 *payload = p + pos + header;
    if (frames.close_frames > 0)
      frames.frames_after_close++;
    if (opcode == 0x8) {
      if (frames.close_frames++ == 0) {
        if (len == 0)
          frames.first_close_code = 0;
        else if (len == 1)
          frames.bad_close_payload = true;
        else
          frames.first_close_code = (payload[0] << 8) | payload[1];
      }
    }
    pos += header + len;
  }
  return frames;
}

/* Reads whatever the server wrote so far. */
void
drain (int fd, std::string &wire)
{
  char buf[4096];
  ssize_t n;
  while ((n = recv (fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
    wire.append (buf, n);
}

void
iterate (GMainContext *context)
{
  while (g_main_context_iteration (context, FALSE)) {
  }
}

/* Writes data into the client end, letting the server read meanwhile. */
void
send_all (int fd, const guint8 *data, gsize size, gsize piece,
    std::string &wire)
{
  gsize pos = 0;
  gint64 deadline = g_get_monotonic_time () + fuzz::timeout_us;
  while (pos < size && g_get_monotonic_time () < deadline) {
    ssize_t n = send (fd, data + pos, std::min (piece, size - pos),
        MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0)
      pos += n;
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return;                   /* the server has closed */
    if (n <= 0 || piece < size)
      iterate (harness->context);
    drain (fd, wire);
  }
}

struct Ending {
  bool ended = false;
  bool error = false;
  int close_code = -1;          /* -1: no close-code in the error's details */
  std::string error_source, error_text;
  guint64 texts_posted = 0;
};

/* Takes one bus message; returns true on EOS or error. */
bool
handle_bus_message (GstMessage *msg, Ending &ending)
{
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, "websocket-text"))
        ending.texts_posted++;
      return false;
    case GST_MESSAGE_EOS:
      if (!ending.ended)
        ending.ended = true;
      return true;
    case GST_MESSAGE_ERROR: {
      if (ending.ended)
        return true;            /* basesrc's "Internal data stream error" */
      ending.ended = ending.error = true;
      g_autoptr (GError) err = nullptr;
      gst_message_parse_error (msg, &err, nullptr);
      ending.error_source = GST_OBJECT_NAME (GST_MESSAGE_SRC (msg));
      ending.error_text = err->message;
      const GstStructure *details = nullptr;
      gst_message_parse_error_details (msg, &details);
      int code;
      if (details && gst_structure_get_int (details, "close-code", &code))
        ending.close_code = code;
      return true;
    }
    default:
      return false;
  }
}

void
run (guint8 settings, const guint8 *frames, gsize size)
{
  GstElement *src = harness->src;
  {
    std::lock_guard<std::mutex> lock (harness->output.lock);
    harness->output.bytes.clear ();
    harness->output.offsets_ok = true;
  }

  int fds[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    perror ("socketpair");
    abort ();
  }
  GSocket *socket = g_socket_new_from_fd (fds[0], nullptr);
  g_assert (socket);
  GSocketConnection *stream =
      g_socket_connection_factory_create_connection (socket);
  g_object_unref (socket);
  GUri *uri = g_uri_parse ("ws://127.0.0.1/ingest/fuzz", G_URI_FLAGS_NONE,
      nullptr);
  SoupWebsocketConnection *conn = soup_websocket_connection_new (
      G_IO_STREAM (stream), uri, SOUP_WEBSOCKET_CONNECTION_SERVER,
      "http://127.0.0.1", nullptr, nullptr);
  g_uri_unref (uri);
  g_object_unref (stream);
  /* No keepalive timers that outlive an execution. */
  g_object_set (conn, "keepalive-interval", 0u, nullptr);

  guint64 max_message_size = MAX_MESSAGE_SIZES[settings & 3];
  guint64 max_queued_bytes = MAX_QUEUED_BYTES[(settings >> 2) & 3];
  Delivered delivered;
  delivered.conn = conn;
  delivered.limit = max_message_size ? max_message_size : NO_LIMIT;
  g_signal_connect (conn, "message", G_CALLBACK (on_delivered), &delivered);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), &delivered);

  g_object_set (src, "max-message-size", max_message_size,
      "max-queued-bytes", max_queued_bytes, "connection", conn, nullptr);
  bool live = settings & LIVE;
  if (live)
    gst_element_set_state (harness->pipeline, GST_STATE_PLAYING);

  std::string wire;
  send_all (fds[1], frames, size,
      (settings & TRICKLE) ? TRICKLE_BYTES : size, wire);
  iterate (harness->context);

  /* Letting go of the connection resets the counters: read them first. */
  guint64 bytes_received = 0, messages_received = 0;
  bool stopped_early = settings & STOP_EARLY;
  if (stopped_early) {
    if (!live)
      gst_element_set_state (harness->pipeline, GST_STATE_PLAYING);
    gst_element_set_state (harness->pipeline, GST_STATE_READY);
    g_object_get (src, "bytes-received", &bytes_received,
        "messages-received", &messages_received, nullptr);
    g_object_set (src, "connection", nullptr, nullptr);
  }

  /* The client is done: FIN. The server then closes whatever state it is
   * in (or has closed already). */
  shutdown (fds[1], SHUT_WR);
  gint64 deadline = g_get_monotonic_time () + fuzz::timeout_us;
  while (!delivered.closed && g_get_monotonic_time () < deadline) {
    g_main_context_iteration (harness->context, FALSE);
    drain (fds[1], wire);
    if (!delivered.closed)
      g_usleep (100);
  }
  drain (fds[1], wire);
  bool hung = !delivered.closed;
  if (hung)
    fuzz::hang ("the server connection never closed");

  Ending ending;
  if (!stopped_early && !hung) {
    if (!live)
      gst_element_set_state (harness->pipeline, GST_STATE_PLAYING);
    while (GstMessage *msg = gst_bus_timed_pop_filtered (harness->bus,
            deadline > g_get_monotonic_time () ?
            (deadline - g_get_monotonic_time ()) * GST_USECOND : 0,
            GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
                GST_MESSAGE_ELEMENT))) {
      bool end = handle_bus_message (msg, ending);
      gst_message_unref (msg);
      if (end)
        break;
    }
    hung = !ending.ended;
    if (hung)
      fuzz::hang ("wsserversrc neither ended nor failed");
  }
  if (!stopped_early)
    g_object_get (src, "bytes-received", &bytes_received,
        "messages-received", &messages_received, nullptr);
  gst_element_set_state (harness->pipeline, GST_STATE_READY);
  /* Text messages posted after the end, and basesrc's second error. */
  while (GstMessage *msg = gst_bus_pop (harness->bus)) {
    handle_bus_message (msg, ending);
    gst_message_unref (msg);
  }
  g_object_set (src, "connection", nullptr, nullptr);
  auto finish = [&] () {
    close (fds[1]);
    g_object_unref (conn);
    iterate (harness->context);
  };
  if (hung) {                   /* reported: nothing more to check */
    finish ();
    return;
  }

  ServerFrames server = parse_server_frames (wire);
  const char *how = !ending.ended ? "stopped" : ending.error ? "error" : "EOS";
  fuzz::note ("%s%s%s (close-code %d); delivered %" G_GUINT64_FORMAT
      " binary (%zu bytes), %" G_GUINT64_FORMAT " text; pushed %zu bytes; "
      "server sent %d close frame(s), first code %d, %d frame(s) after it%s",
      how, ending.error ? ": " : "", ending.error_text.c_str (),
      ending.close_code, delivered.binary_messages, delivered.binary.size (),
      delivered.text_messages, harness->output.bytes.size (),
      server.close_frames, server.first_close_code, server.frames_after_close,
      server.masked ? ", masked" : "");

  /* The element's own ending. */
  if (ending.error) {
    if (ending.error_source != "src")
      fuzz::fail ("the error came from %s, not wsserversrc: %s",
          ending.error_source.c_str (), ending.error_text.c_str ());
    if (!sendable_close_code (ending.close_code))
      fuzz::fail ("error \"%s\" carries close-code %d, not a code a server "
          "may send", ending.error_text.c_str (), ending.close_code);
  }
  /* Nothing lost, added or reordered. */
  const std::string &out = harness->output.bytes;
  if (!harness->output.offsets_ok)
    fuzz::fail ("a buffer at offset %" G_GUINT64_FORMAT " after %zu bytes",
        harness->output.bad_offset, out.size ());
  if (out.size () > delivered.binary.size () ||
      delivered.binary.compare (0, out.size (), out) != 0)
    fuzz::fail ("pushed %zu bytes that are not a prefix of the %zu bytes "
        "delivered", out.size (), delivered.binary.size ());
  /* Whole messages only (small ones are joined, never cut). */
  if (!out.empty () && !std::binary_search (delivered.binary_ends.begin (),
          delivered.binary_ends.end (), out.size ()))
    fuzz::fail ("pushed %zu bytes, not a whole number of messages",
        out.size ());
  if (ending.ended && ending.close_code == SOUP_WEBSOCKET_CLOSE_TOO_BIG) {
    gsize accepted = delivered.before_refused >= 0 ?
        delivered.before_refused : delivered.binary.size ();
    if (out.size () != accepted)
      fuzz::fail ("1009 after pushing %zu bytes, not the %zu delivered "
          "before the message over the limit", out.size (), accepted);
  } else if (ending.ended && !ending.error &&
      out.size () < delivered.open_bytes) {
    fuzz::fail ("EOS after pushing %zu bytes of the %zu delivered while the "
        "connection was open", out.size (), delivered.open_bytes);
  }
  if (bytes_received != delivered.binary.size () ||
      messages_received != delivered.binary_messages)
    fuzz::fail ("bytes-received %" G_GUINT64_FORMAT ", messages-received %"
        G_GUINT64_FORMAT " for %zu bytes in %" G_GUINT64_FORMAT " messages",
        bytes_received, messages_received, delivered.binary.size (),
        delivered.binary_messages);
  if (ending.texts_posted != delivered.texts_within_limit)
    fuzz::fail ("%" G_GUINT64_FORMAT " text messages posted for %"
        G_GUINT64_FORMAT " delivered within max-message-size (%"
        G_GUINT64_FORMAT " in all)", ending.texts_posted,
        delivered.texts_within_limit, delivered.text_messages);
  /* A message over max-message-size is refused with 1009, however many
   * frames it came in (libsoup 3.2 limits each frame only). */
  if (delivered.largest_open > delivered.limit &&
      (server.first_close_code != SOUP_WEBSOCKET_CLOSE_TOO_BIG ||
          (ending.ended && ending.close_code != SOUP_WEBSOCKET_CLOSE_TOO_BIG)))
    fuzz::fail ("a %zu-byte message passed max-message-size %" G_GUINT64_FORMAT
        ": the client got close code %d, the element %s %d",
        delivered.largest_open, delivered.limit, server.first_close_code,
        ending.ended ? "ended with close-code" : "stopped, close-code",
        ending.close_code);
  /* What the client was told. */
  if (server.masked)
    fuzz::fail ("the server sent a masked frame");
  if (server.bad_close_payload ||
      (server.first_close_code > 0 &&
          !sendable_close_code (server.first_close_code)))
    fuzz::fail ("the server's close frame has code %d, not a code a server "
        "may send", server.first_close_code);
  /* The element claims only a close it sent: once libsoup has begun the
   * close handshake (e.g. 1002 for a protocol error) and still delivers
   * what follows, a message over a limit cannot get 1009 or 1011 any more. */
  if (ending.error && server.first_close_code != ending.close_code)
    fuzz::fail ("error with close-code %d, but the client got %s %d",
        ending.close_code, server.close_frames ? "close code" :
        "no close frame,", server.first_close_code);

  finish ();
}

}  // namespace

extern "C" int
LLVMFuzzerInitialize (int *, char ***)
{
  fuzz::init ("fuzz_messages");
  fuzz::trace_glib_debug ("libsoup");
  make_harness ();
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  run (data[0], data + 1, size - 1);
  return 0;
}
