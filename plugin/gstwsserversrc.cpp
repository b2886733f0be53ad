/* wsserversrc: the server end of a WebSocket, as a live byte-stream source.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-wsserversrc
 * @title: wsserversrc
 *
 * Receives the binary messages a WebSocket client sends (typically the
 * MediaRecorder chunks of a browser) and pushes them downstream as one byte
 * stream: each message becomes one buffer, in order, nothing dropped.
 * Messages are not aligned to container elements, so put a parser or demuxer
 * (matroskademux, qtdemux, parsebin, decodebin) after it.
 *
 * The element either listens itself (own #SoupServer on its own thread and
 * #GMainContext; one client at a time) or adopts a #SoupWebsocketConnection
 * accepted by the application (#GstWsServerSrc:connection).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -e wsserversrc port=8080 path=/ingest ! filesink location=browser.webm
 * gst-launch-1.0 wsserversrc port=8080 ! matroskademux name=d d.video_0 ! queue ! vp8dec ! autovideosink
 * ]|
 *
 * Close codes the element sends: 1009 (message larger than
 * #GstWsServerSrc:max-message-size), 1011 (downstream too slow:
 * #GstWsServerSrc:max-queued-bytes exceeded), 1013 (another client is already
 * streaming), 1008 (origin not allowed), 1001 (element shutting down).
 * Element errors carry a `close-code` field in their details structure: the
 * code the client was sent. Once a close handshake is under way (libsoup
 * answered a protocol error with 1002, or the application closed), no other
 * code can reach the client: a message over a limit then ends the stream
 * (EOS after what was accepted, with a warning) instead of an error.
 *
 * #GstWsServerSrc:max-message-size bounds whole messages, however many
 * frames they come in. libsoup 3.2 (Debian 12) limits each frame only and
 * assembles a fragmented message before the element sees it: until that
 * message ends, its memory is bounded only by how many fragments (each at
 * most max-message-size) the client sends, up to GLib's 4 GiB byte-array
 * limit, where GLib aborts. libsoup 3.7.1 and later enforce the limit while
 * assembling (the element sets their max-total-message-size).
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstwsserversrc.h"

#include "bytequeue.h"
#include "wsclose.h"
#include "wsorigin.h"
#include "wslistener.h"

#include <libsoup/soup.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (gst_ws_server_src_debug);
#define GST_CAT_DEFAULT gst_ws_server_src_debug

using wsrtmp::ByteQueue;

namespace {

constexpr const char *DEFAULT_HOST = "localhost";
constexpr guint DEFAULT_PORT = 8080;
constexpr const char *DEFAULT_PATH = "/";
/* A real 720p camera at 4.5 Mbps with a 1 s timeslice sends ~0.6 MB
 * messages; leave room for long timeslices and high bitrates. */
constexpr guint64 DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
constexpr guint64 DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/* The largest max-message-size handed to libsoup, also what 0 ("no limit")
 * means. libsoup before 3.6.6 adds a frame's announced length to its header
 * size unchecked: with no limit (or one near 2^64) a frame announcing
 * 2^64 - 1 bytes wraps that sum and libsoup writes past its read buffer
 * (CVE-2026-0716), a crash any client can cause. */
constexpr guint64 MAX_MESSAGE_SIZE_CAP = G_MAXINT;

/* max-message-size as enforced: 0 and anything above the cap is the cap. */
guint64
effective_max_message_size (guint64 setting)
{
  return setting == 0 || setting > MAX_MESSAGE_SIZE_CAP ?
      MAX_MESSAGE_SIZE_CAP : setting;
}

enum {
  PROP_0,
  PROP_HOST,
  PROP_PORT,
  PROP_CURRENT_PORT,
  PROP_PATH,
  PROP_TLS_CERTIFICATE,
  PROP_ALLOWED_ORIGINS,
  PROP_CONNECTION,
  PROP_MAX_MESSAGE_SIZE,
  PROP_MAX_QUEUED_BYTES,
  PROP_BYTES_RECEIVED,
  PROP_MESSAGES_RECEIVED,
  PROP_CLIENT_CLOSE_CODE,
};

/* Why the stream stopped, when it did not stop by a clean client close. */
enum class Failure {
  None,
  MessageTooBig,    /* the client was sent 1009 */
  DownstreamTooSlow /* the client was sent 1011 */
};

std::vector<std::string>
split_origins (const char *list)
{
  std::vector<std::string> origins;
  if (!list)
    return origins;
  /* As wsrtmpd's --allowed-origins (wsorigin.h), but any entry is kept:
   * "null" is what a page opened from a file sends. */
  g_auto (GStrv) parts = g_strsplit_set (list, ", ", -1);
  for (char **part = parts; *part; part++) {
    if (**part)
      origins.emplace_back (wsrtmp::normalize_origin (*part));
  }
  return origins;
}

std::string
join_origins (const std::vector<std::string> &origins)
{
  std::string joined;
  for (const auto &origin : origins) {
    if (!joined.empty ())
      joined += ",";
    joined += origin;
  }
  return joined;
}

}  // namespace

/* The element's inside. Locking: plugin.cpp's order, settings_lock, then
 * state_lock; the listener's listen_lock is a leaf (wslistener.h). A value
 * needed under state_lock is copied out of the settings first. No lock is
 * held while calling into libsoup: its signals call back into us. */
struct GstWsServerSrcPrivate {
  std::mutex settings_lock;
  /* The properties: guarded by settings_lock. */
  std::string host = DEFAULT_HOST;
  guint port = DEFAULT_PORT;
  std::string path = DEFAULT_PATH;
  GTlsCertificate *tls_certificate = nullptr;
  std::vector<std::string> allowed_origins;
  guint64 max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
  /* No lock: an atomic (it may change while PLAYING). */
  std::atomic<guint64> max_queued_bytes { DEFAULT_MAX_QUEUED_BYTES };

  /* The client feeding us, and the main context that dispatches its
   * signals (the listener thread's, or the application's in adopt mode).
   * Changed only from that context's thread (and from start/stop once that
   * thread is gone), under settings_lock so that other threads may read
   * them; libsoup is called on that thread only. */
  SoupWebsocketConnection *connection = nullptr;        /* settings_lock */
  GMainContext *connection_context = nullptr;           /* settings_lock */
  bool adopted = false;                                 /* settings_lock */
  /* The connection's thread only. */
  gulong message_handler = 0, closed_handler = 0, error_handler = 0;

  std::mutex state_lock;
  /* Signalled when the stream state below changes. */
  std::condition_variable state_cond;
  /* The stream state: guarded by state_lock. */
  ByteQueue queue;
  bool flushing = false;
  bool client_gone = false;
  bool client_served = false;
  Failure failure = Failure::None;
  /* A message broke a limit while a close was already under way: it and
   * everything after it are dropped (no close code of ours can be sent). */
  bool dropping = false;
  std::string disconnect_error;

  /* Statistics (properties): no lock, atomics. */
  std::atomic<guint64> bytes_received { 0 };
  std::atomic<guint64> messages_received { 0 };
  std::atomic<int> client_close_code { 0 };

  /* Listening mode only: started and stopped by start/stop (and dispose),
   * one thread at a time; its own lock inside (wslistener.h). */
  wsrtmp::WsListener listener;
};

struct _GstWsServerSrc {
  GstPushSrc parent;
  GstWsServerSrcPrivate *priv;
};

#define gst_ws_server_src_parent_class parent_class
G_DEFINE_TYPE (GstWsServerSrc, gst_ws_server_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (wsserversrc, "wsserversrc", GST_RANK_NONE,
    GST_TYPE_WS_SERVER_SRC);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static void gst_ws_server_src_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec);
static void gst_ws_server_src_get_property (GObject *object, guint prop_id,
    GValue *value, GParamSpec *pspec);
static void gst_ws_server_src_dispose (GObject *object);
static void gst_ws_server_src_finalize (GObject *object);
static gboolean gst_ws_server_src_start (GstBaseSrc *basesrc);
static gboolean gst_ws_server_src_stop (GstBaseSrc *basesrc);
static gboolean gst_ws_server_src_unlock (GstBaseSrc *basesrc);
static gboolean gst_ws_server_src_unlock_stop (GstBaseSrc *basesrc);
static gboolean gst_ws_server_src_is_seekable (GstBaseSrc *basesrc);
static GstFlowReturn gst_ws_server_src_create (GstPushSrc *pushsrc,
    GstBuffer **buffer);

static void
gst_ws_server_src_class_init (GstWsServerSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);
  const auto flags = static_cast<GParamFlags> (G_PARAM_READWRITE |
      G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  const auto read_only = static_cast<GParamFlags> (G_PARAM_READABLE |
      G_PARAM_STATIC_STRINGS);

  gobject_class->set_property = gst_ws_server_src_set_property;
  gobject_class->get_property = gst_ws_server_src_get_property;
  gobject_class->dispose = gst_ws_server_src_dispose;
  gobject_class->finalize = gst_ws_server_src_finalize;

  g_object_class_install_property (gobject_class, PROP_HOST,
      g_param_spec_string ("host", "Host",
          "Address or host name to listen on when no connection is adopted "
          "(\"localhost\" listens on 127.0.0.1 and ::1, \"0.0.0.0\" on every "
          "IPv4 interface)", DEFAULT_HOST, flags));
  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_int ("port", "Port",
          "TCP port to listen on (0 = pick a free port, see current-port)",
          0, G_MAXUINT16, DEFAULT_PORT, flags));
  g_object_class_install_property (gobject_class, PROP_CURRENT_PORT,
      g_param_spec_int ("current-port", "Current port",
          "The port actually listened on once started (0 when not listening)",
          0, G_MAXUINT16, 0, read_only));
  g_object_class_install_property (gobject_class, PROP_PATH,
      g_param_spec_string ("path", "Path",
          "URL path that accepts the WebSocket (other paths get HTTP 404)",
          DEFAULT_PATH, flags));
  g_object_class_install_property (gobject_class, PROP_TLS_CERTIFICATE,
      g_param_spec_object ("tls-certificate", "TLS certificate",
          "Certificate with private key; when set the listener speaks wss:// "
          "(TLS) instead of ws://", G_TYPE_TLS_CERTIFICATE, flags));
  g_object_class_install_property (gobject_class, PROP_ALLOWED_ORIGINS,
      g_param_spec_string ("allowed-origins", "Allowed origins",
          "Comma-separated list of Origin header values that may connect, "
          "e.g. \"https://example.com,http://localhost:8000\" (empty = any "
          "origin; compared without case and a trailing '/', as wsrtmpd "
          "does). Others are closed with 1008", "", flags));
  g_object_class_install_property (gobject_class, PROP_CONNECTION,
      g_param_spec_object (GST_WS_SERVER_SRC_PROP_CONNECTION, "Connection",
          "An accepted SoupWebsocketConnection to read from instead of "
          "listening (for applications that run their own SoupServer). Set it "
          "before going to PAUSED, from the thread that runs the connection's "
          "main context", SOUP_TYPE_WEBSOCKET_CONNECTION, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_MESSAGE_SIZE,
      g_param_spec_uint64 (GST_WS_SERVER_SRC_PROP_MAX_MESSAGE_SIZE,
          "Maximum message size",
          "Largest WebSocket message accepted, in bytes, however many frames "
          "it comes in. A larger one closes the client with 1009 and posts "
          "an error. 0 (no limit) and values above 2147483647 mean "
          "2147483647: libsoup 3.2 cannot be run without a limit safely. "
          "With libsoup before 3.7.1 a message sent in fragments is checked "
          "once complete, so its memory is bounded only by its fragment "
          "count until then",
          0, G_MAXUINT64, DEFAULT_MAX_MESSAGE_SIZE, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUED_BYTES,
      g_param_spec_uint64 ("max-queued-bytes", "Maximum queued bytes",
          "Bytes received but not yet pushed downstream that are tolerated "
          "(0 = unlimited). Beyond that downstream is too slow: the client is "
          "closed with 1011 and an error is posted", 0, G_MAXUINT64,
          DEFAULT_MAX_QUEUED_BYTES, static_cast<GParamFlags> (
              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_BYTES_RECEIVED,
      g_param_spec_uint64 (GST_WS_SERVER_SRC_PROP_BYTES_RECEIVED,
          "Bytes received",
          "Payload bytes received in binary messages from the client",
          0, G_MAXUINT64, 0, read_only));
  g_object_class_install_property (gobject_class, PROP_MESSAGES_RECEIVED,
      g_param_spec_uint64 (GST_WS_SERVER_SRC_PROP_MESSAGES_RECEIVED, "Messages received",
          "Binary messages received from the client", 0, G_MAXUINT64, 0,
          read_only));
  g_object_class_install_property (gobject_class, PROP_CLIENT_CLOSE_CODE,
      g_param_spec_int ("client-close-code", "Client close code",
          "Close code of the finished WebSocket (0 while open or when the "
          "client vanished without a close frame)", 0, G_MAXUINT16, 0,
          read_only));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "WebSocket server source", "Source/Network",
      "Receives the binary messages of a WebSocket client (e.g. a browser's "
      "MediaRecorder chunks) as a byte stream",
      "wsrtmp developers");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_ws_server_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_ws_server_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_ws_server_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_ws_server_src_unlock_stop);
  basesrc_class->is_seekable = GST_DEBUG_FUNCPTR (gst_ws_server_src_is_seekable);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_ws_server_src_create);

  GST_DEBUG_CATEGORY_INIT (gst_ws_server_src_debug, "wsserversrc", 0,
      "WebSocket server source");
}

static void
gst_ws_server_src_init (GstWsServerSrc *self)
{
  self->priv = new GstWsServerSrcPrivate ();
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_BYTES);
}

/* ---- connection side (runs in the connection's main context) ---- */

/* A message broke a limit: close the client with the failure's code and
 * fail, while the connection is open. Once a close is under way (libsoup
 * answered a protocol error with 1002, the application closed) the client
 * can be told nothing more: drop the message and all that follows, and end
 * with that close. On the connection's thread. */
static void
refuse_message (GstWsServerSrc *self, SoupWebsocketConnection *conn,
    Failure failure, const std::string &why)
{
  GstWsServerSrcPrivate *priv = self->priv;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    if (priv->failure != Failure::None || priv->dropping)
      return;
  }
  bool too_big = failure == Failure::MessageTooBig;
  gushort code = too_big ? wsrtmp::CLOSE_TOO_BIG : wsrtmp::CLOSE_SERVER_ERROR;
  bool sent = wsrtmp::websocket_close (conn, code,
      too_big ? "message too big" : "downstream too slow");
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    if (sent)
      priv->failure = failure;
    else
      priv->dropping = true;
    if (priv->disconnect_error.empty ())
      priv->disconnect_error = why;
  }
  priv->state_cond.notify_all ();
  if (sent) {
    GST_WARNING_OBJECT (self, "%s: closing the client with %u", why.c_str (),
        code);
    return;
  }
  GST_ELEMENT_WARNING (self, RESOURCE, READ,
      ("The client's WebSocket was already closing when it sent more than "
          "the element accepts; the stream ends with what was accepted "
          "before."), ("%s; dropped with what follows", why.c_str ()));
}

static void
on_message (SoupWebsocketConnection *conn, gint type, GBytes *message,
    GstWsServerSrc *self)
{
  GstWsServerSrcPrivate *priv = self->priv;
  gsize size = g_bytes_get_size (message);

  if (type == SOUP_WEBSOCKET_DATA_BINARY) {
    priv->messages_received++;
    priv->bytes_received += size;
  }
  /* libsoup before 3.7.1 only limits each frame: a message in fragments
   * arrives whole, whatever its size. */
  guint64 max_message_size;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    max_message_size = effective_max_message_size (priv->max_message_size);
  }
  if (size > max_message_size) {
    refuse_message (self, conn, Failure::MessageTooBig, "a message of " +
        std::to_string (size) + " bytes in fragments");
    return;
  }

  if (type == SOUP_WEBSOCKET_DATA_TEXT) {
    g_autofree char *text = g_strndup (
        static_cast<const char *> (g_bytes_get_data (message, nullptr)), size);
    GST_DEBUG_OBJECT (self, "text message: %s", text);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self),
            gst_structure_new (GST_WS_SERVER_SRC_TEXT_MESSAGE_NAME,
                GST_WS_SERVER_SRC_TEXT_MESSAGE_FIELD, G_TYPE_STRING, text, nullptr)));
    return;
  }

  if (size == 0)
    return;                     /* Chromium ends some recordings with one. */

  guint64 limit = priv->max_queued_bytes.load ();
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    if (priv->failure != Failure::None || priv->dropping || priv->client_gone)
      return;
    if (limit == 0 || priv->queue.bytes () + size <= limit) {
      priv->queue.push (message);
      limit = 0;
    }
  }
  if (limit != 0) {
    refuse_message (self, conn, Failure::DownstreamTooSlow, "more than " +
        std::to_string (limit) + " bytes queued");
    return;
  }
  priv->state_cond.notify_all ();
}

static void
on_error (SoupWebsocketConnection *conn, GError *error, GstWsServerSrc *self)
{
  GstWsServerSrcPrivate *priv = self->priv;

  GST_INFO_OBJECT (self, "connection error: %s", error->message);
  bool too_big = g_error_matches (error, SOUP_WEBSOCKET_ERROR,
      SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  bool sent = false;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    too_big = too_big && priv->failure == Failure::None && !priv->dropping;
  }
  /* libsoup drops the connection right after this signal without a close
   * frame, while the client is still sending: the client deserves to know
   * why, unless a close frame went out already. */
  if (too_big)
    sent = wsrtmp::websocket_close_after_error (conn, wsrtmp::CLOSE_TOO_BIG,
        "message too big");
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    if (sent)
      priv->failure = Failure::MessageTooBig;
    else if (too_big)
      priv->dropping = true;
    if (priv->disconnect_error.empty ())
      priv->disconnect_error = error->message;
  }
  priv->state_cond.notify_all ();
  if (too_big && !sent)
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("The client's WebSocket was already closing when it sent more than "
            "the element accepts; the stream ends with what was accepted "
            "before."), ("%s", error->message));
}

static void
on_closed (SoupWebsocketConnection *conn, GstWsServerSrc *self)
{
  GstWsServerSrcPrivate *priv = self->priv;
  int code = soup_websocket_connection_get_close_code (conn);

  GST_INFO_OBJECT (self, "client closed (code %d, reason \"%s\")", code,
      GST_STR_NULL (soup_websocket_connection_get_close_data (conn)));
  priv->client_close_code = code;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    priv->client_gone = true;
  }
  priv->state_cond.notify_all ();
}

/* Hands max-message-size to libsoup, never 0 or more than the cap: per
 * frame, and per message where libsoup can (3.7.1 and later; their
 * SoupServer would otherwise limit messages to 128 KiB). */
static void
set_soup_limits (SoupWebsocketConnection *conn, guint64 max_message_size)
{
  guint64 limit = effective_max_message_size (max_message_size);
  g_object_set (conn, "max-incoming-payload-size", limit, nullptr);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (conn),
          "max-total-message-size"))
    g_object_set (conn, "max-total-message-size", limit, nullptr);
}

static void
attach_connection (GstWsServerSrc *self, SoupWebsocketConnection *conn,
    bool adopted)
{
  GstWsServerSrcPrivate *priv = self->priv;
  guint64 max_message_size;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    max_message_size = priv->max_message_size;
    priv->connection = SOUP_WEBSOCKET_CONNECTION (g_object_ref (conn));
    priv->connection_context = g_main_context_ref_thread_default ();
    priv->adopted = adopted;
  }
  set_soup_limits (conn, max_message_size);
  /* connect_object: a handler can never run on a finalized element. */
  priv->message_handler = g_signal_connect_object (conn, "message",
      G_CALLBACK (on_message), self, GConnectFlags (0));
  priv->error_handler = g_signal_connect_object (conn, "error",
      G_CALLBACK (on_error), self, GConnectFlags (0));
  priv->closed_handler = g_signal_connect_object (conn, "closed",
      G_CALLBACK (on_closed), self, GConnectFlags (0));

  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    priv->client_served = true;
  }
  if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_CLOSED)
    on_closed (conn, self);
}

static void
detach_connection (GstWsServerSrc *self)
{
  GstWsServerSrcPrivate *priv = self->priv;
  if (!priv->connection)
    return;
  g_clear_signal_handler (&priv->message_handler, priv->connection);
  g_clear_signal_handler (&priv->error_handler, priv->connection);
  g_clear_signal_handler (&priv->closed_handler, priv->connection);
  SoupWebsocketConnection *connection;
  GMainContext *context;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    connection = std::exchange (priv->connection, nullptr);
    context = std::exchange (priv->connection_context, nullptr);
    priv->adopted = false;
  }
  g_object_unref (connection);
  g_main_context_unref (context);
}

static bool
is_adopted (GstWsServerSrcPrivate *priv)
{
  std::lock_guard<std::mutex> lock (priv->settings_lock);
  return priv->adopted;
}

/* On the connection's thread: libsoup objects are not thread-safe. */
static gboolean
apply_max_message_size (gpointer data)
{
  GstWsServerSrcPrivate *priv = GST_WS_SERVER_SRC (data)->priv;
  SoupWebsocketConnection *connection = nullptr;
  guint64 max_message_size;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    if (priv->connection)
      connection = SOUP_WEBSOCKET_CONNECTION (g_object_ref (priv->connection));
    max_message_size = priv->max_message_size;
  }
  if (connection) {
    set_soup_limits (connection, max_message_size);
    g_object_unref (connection);
  }
  return G_SOURCE_REMOVE;
}

static void
reset_stream_state (GstWsServerSrcPrivate *priv)
{
  std::lock_guard<std::mutex> lock (priv->state_lock);
  priv->queue.reset ();
  priv->client_gone = false;
  priv->client_served = false;
  priv->failure = Failure::None;
  priv->dropping = false;
  priv->disconnect_error.clear ();
  priv->bytes_received = 0;
  priv->messages_received = 0;
  priv->client_close_code = 0;
}

/* ---- listening mode (the listener: wslistener.h) ---- */

/* A client the listener accepted: on the listener's thread. */
static void
on_websocket (GstWsServerSrc *self, SoupServerMessage *msg,
    SoupWebsocketConnection *conn)
{
  GstWsServerSrcPrivate *priv = self->priv;
  const char *origin = soup_websocket_connection_get_origin (conn);
  GInetSocketAddress *remote =
      G_INET_SOCKET_ADDRESS (soup_server_message_get_remote_address (msg));
  g_autofree char *remote_str = remote ?
      g_inet_address_to_string (g_inet_socket_address_get_address (remote)) :
      g_strdup ("?");

  bool origin_allowed;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    origin_allowed = wsrtmp::origin_allowed (priv->allowed_origins, origin);
  }
  if (!origin_allowed) {
    GST_WARNING_OBJECT (self, "refusing client %s: origin \"%s\" not allowed",
        remote_str, GST_STR_NULL (origin));
    wsrtmp::websocket_refuse (conn, wsrtmp::CLOSE_POLICY_VIOLATION,
        "origin not allowed");
    return;
  }

  bool busy;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    busy = priv->client_served;
  }
  if (busy) {
    GST_WARNING_OBJECT (self, "refusing client %s: another client is "
        "already streaming", remote_str);
    wsrtmp::websocket_refuse (conn, wsrtmp::CLOSE_TRY_AGAIN_LATER,
        "another client is already streaming");
    return;
  }

  GST_INFO_OBJECT (self, "client %s connected (origin \"%s\")", remote_str,
      GST_STR_NULL (origin));
  attach_connection (self, conn, false);
}

/* The listener stops: on its thread, before its server goes. */
static void
on_listener_stopping (GstWsServerSrc *self)
{
  GstWsServerSrcPrivate *priv = self->priv;
  if (priv->connection && soup_websocket_connection_get_state (
          priv->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (priv->connection,
        SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server shutting down");
  detach_connection (self);
}

static gboolean
start_listening (GstWsServerSrc *self)
{
  GstWsServerSrcPrivate *priv = self->priv;
  wsrtmp::WsListener::Config config;
  g_autoptr (GTlsCertificate) certificate = nullptr;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    config.host = priv->host;
    config.port = priv->port;
    config.path = priv->path;
    if (priv->tls_certificate)
      certificate = G_TLS_CERTIFICATE (g_object_ref (priv->tls_certificate));
  }
  config.certificate = certificate;

  g_autoptr (GError) error = nullptr;
  if (!priv->listener.start (config,
          [self] (SoupServerMessage *msg, SoupWebsocketConnection *conn) {
            on_websocket (self, msg, conn);
          },
          [self] { on_listener_stopping (self); }, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not listen on %s:%u: %s. Choose another host or port, or "
            "stop whatever is using it.", config.host.c_str (), config.port,
            error->message),
        ("soup_server_listen failed: %s", error->message));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "listening on port %d", priv->listener.port ());
  g_object_notify (G_OBJECT (self), "current-port");
  return TRUE;
}

static void
stop_listening (GstWsServerSrc *self)
{
  self->priv->listener.stop ();
}

/* ---- GstBaseSrc ---- */

static gboolean
gst_ws_server_src_start (GstBaseSrc *basesrc)
{
  auto *self = GST_WS_SERVER_SRC (basesrc);
  GstWsServerSrcPrivate *priv = self->priv;

  /* An adopted connection may already have delivered data: keep it. */
  if (is_adopted (priv)) {
    GST_DEBUG_OBJECT (self, "reading from an adopted connection");
    return TRUE;
  }
  reset_stream_state (priv);
  return start_listening (self);
}

static gboolean
gst_ws_server_src_stop (GstBaseSrc *basesrc)
{
  auto *self = GST_WS_SERVER_SRC (basesrc);
  GstWsServerSrcPrivate *priv = self->priv;

  if (is_adopted (priv)) {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    priv->queue.clear ();
    return TRUE;
  }
  stop_listening (self);
  reset_stream_state (priv);
  return TRUE;
}

static gboolean
gst_ws_server_src_unlock (GstBaseSrc *basesrc)
{
  GstWsServerSrcPrivate *priv = GST_WS_SERVER_SRC (basesrc)->priv;
  {
    std::lock_guard<std::mutex> lock (priv->state_lock);
    priv->flushing = true;
  }
  priv->state_cond.notify_all ();
  return TRUE;
}

static gboolean
gst_ws_server_src_unlock_stop (GstBaseSrc *basesrc)
{
  GstWsServerSrcPrivate *priv = GST_WS_SERVER_SRC (basesrc)->priv;
  std::lock_guard<std::mutex> lock (priv->state_lock);
  priv->flushing = false;
  return TRUE;
}

static gboolean
gst_ws_server_src_is_seekable (GstBaseSrc *basesrc)
{
  return FALSE;
}

static GstFlowReturn
gst_ws_server_src_create (GstPushSrc *pushsrc, GstBuffer **buffer)
{
  auto *self = GST_WS_SERVER_SRC (pushsrc);
  GstWsServerSrcPrivate *priv = self->priv;
  Failure failure;
  std::string disconnect_error;

  {
    std::unique_lock<std::mutex> lock (priv->state_lock);
    priv->state_cond.wait (lock, [priv] {
      return priv->flushing || !priv->queue.empty () || priv->client_gone ||
          priv->failure != Failure::None;
    });
    if (priv->flushing)
      return GST_FLOW_FLUSHING;
    failure = priv->failure;
    /* Too slow downstream cannot be helped by pushing even more. Any other
     * end pushes every byte accepted first. */
    if (failure != Failure::DownstreamTooSlow && !priv->queue.empty ()) {
      *buffer = priv->queue.pop ().release ();
      return GST_FLOW_OK;
    }
    disconnect_error = priv->disconnect_error;
  }

  switch (failure) {
    case Failure::MessageTooBig: {
      guint64 limit;
      {
        std::lock_guard<std::mutex> lock (priv->settings_lock);
        limit = effective_max_message_size (priv->max_message_size);
      }
      GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, READ,
          ("The client sent a WebSocket message larger than max-message-size "
              "(%" G_GUINT64_FORMAT " bytes) and was closed with 1009. Raise "
              "max-message-size, or lower the client's bitrate or timeslice.",
              limit), ("%s", disconnect_error.c_str ()),
          (GST_WS_SERVER_SRC_ERROR_CLOSE_CODE, G_TYPE_INT, SOUP_WEBSOCKET_CLOSE_TOO_BIG, nullptr));
      return GST_FLOW_ERROR;
    }
    case Failure::DownstreamTooSlow:
      GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, NO_SPACE_LEFT,
          ("Downstream is too slow: more than max-queued-bytes (%"
              G_GUINT64_FORMAT " bytes) waited to be pushed, so the client was "
              "closed with 1011.", priv->max_queued_bytes.load ()),
          (nullptr),
          (GST_WS_SERVER_SRC_ERROR_CLOSE_CODE, G_TYPE_INT, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
              nullptr));
      return GST_FLOW_ERROR;
    case Failure::None:
      break;
  }

  int code = priv->client_close_code;
  if (code == 0 || code == SOUP_WEBSOCKET_CLOSE_ABNORMAL) {
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("The client disconnected without closing the WebSocket; the stream "
            "ends with what was received."),
        ("%s", disconnect_error.empty () ? "no close frame" :
            disconnect_error.c_str ()));
  }
  GST_INFO_OBJECT (self, "client gone (close code %d), EOS after %"
      G_GUINT64_FORMAT " bytes", code, priv->bytes_received.load ());
  return GST_FLOW_EOS;
}

/* ---- GObject ---- */

static void
gst_ws_server_src_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  auto *self = GST_WS_SERVER_SRC (object);
  GstWsServerSrcPrivate *priv = self->priv;

  switch (prop_id) {
    case PROP_HOST: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      const char *host = g_value_get_string (value);
      priv->host = host ? host : DEFAULT_HOST;
      break;
    }
    case PROP_PORT: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      priv->port = g_value_get_int (value);
      break;
    }
    case PROP_PATH: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      const char *path = g_value_get_string (value);
      priv->path = path && *path ? path : DEFAULT_PATH;
      break;
    }
    case PROP_TLS_CERTIFICATE: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      g_set_object (&priv->tls_certificate,
          static_cast<GTlsCertificate *> (g_value_get_object (value)));
      break;
    }
    case PROP_ALLOWED_ORIGINS: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      priv->allowed_origins = split_origins (g_value_get_string (value));
      break;
    }
    case PROP_CONNECTION: {
      auto *conn = static_cast<SoupWebsocketConnection *> (
          g_value_get_object (value));
      detach_connection (self);
      reset_stream_state (priv);
      if (conn)
        attach_connection (self, conn, true);
      break;
    }
    case PROP_MAX_MESSAGE_SIZE: {
      GMainContext *context = nullptr;
      {
        std::lock_guard<std::mutex> lock (priv->settings_lock);
        priv->max_message_size = g_value_get_uint64 (value);
        if (priv->connection_context)
          context = g_main_context_ref (priv->connection_context);
      }
      /* A connection already attached learns it on its own thread. */
      if (context) {
        g_main_context_invoke_full (context, G_PRIORITY_DEFAULT,
            apply_max_message_size, gst_object_ref (self), gst_object_unref);
        g_main_context_unref (context);
      }
      break;
    }
    case PROP_MAX_QUEUED_BYTES:
      priv->max_queued_bytes = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_ws_server_src_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  auto *self = GST_WS_SERVER_SRC (object);
  GstWsServerSrcPrivate *priv = self->priv;

  switch (prop_id) {
    case PROP_HOST: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      g_value_set_string (value, priv->host.c_str ());
      break;
    }
    case PROP_PORT: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      g_value_set_int (value, priv->port);
      break;
    }
    case PROP_CURRENT_PORT:
      g_value_set_int (value, priv->listener.port ());
      break;
    case PROP_PATH: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      g_value_set_string (value, priv->path.c_str ());
      break;
    }
    case PROP_TLS_CERTIFICATE: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      g_value_set_object (value, priv->tls_certificate);
      break;
    }
    case PROP_ALLOWED_ORIGINS: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      g_value_set_string (value, join_origins (priv->allowed_origins).c_str ());
      break;
    }
    case PROP_CONNECTION: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      g_value_set_object (value, priv->adopted ? priv->connection : nullptr);
      break;
    }
    case PROP_MAX_MESSAGE_SIZE: {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      g_value_set_uint64 (value, priv->max_message_size);
      break;
    }
    case PROP_MAX_QUEUED_BYTES:
      g_value_set_uint64 (value, priv->max_queued_bytes);
      break;
    case PROP_BYTES_RECEIVED:
      g_value_set_uint64 (value, priv->bytes_received);
      break;
    case PROP_MESSAGES_RECEIVED:
      g_value_set_uint64 (value, priv->messages_received);
      break;
    case PROP_CLIENT_CLOSE_CODE:
      g_value_set_int (value, priv->client_close_code);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* Before GObject drops our signal connections (connect_object) at the end
 * of dispose. */
static void
gst_ws_server_src_dispose (GObject *object)
{
  auto *self = GST_WS_SERVER_SRC (object);

  stop_listening (self);
  detach_connection (self);

  G_OBJECT_CLASS (parent_class)->dispose (object);
}

static void
gst_ws_server_src_finalize (GObject *object)
{
  auto *self = GST_WS_SERVER_SRC (object);
  GstWsServerSrcPrivate *priv = self->priv;

  g_clear_object (&priv->tls_certificate);
  delete priv;

  G_OBJECT_CLASS (parent_class)->finalize (object);
}
