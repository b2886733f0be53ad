/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fair_input_stream.h"

struct _WsrtmpFairInputStream {
  GFilterInputStream parent;

  /* The whole connection: closing this stream closes it (closing only its
   * input stream would leave the socket open). */
  GIOStream *connection;
  gsize budget;
  /* Of budget, in this dispatch. At 0 reads are refused for the budget,
   * not for lack of data: more may be waiting where no poll sees it (inside
   * a TLS layer), so the reader's source fires on the next turn whatever
   * the socket says. */
  gsize left;
  GSource *source;              /* the reader's current source, not owned */
  guint64 bytes_read;           /* from the connection, in all */
};

static void wsrtmp_fair_input_stream_pollable_init (
    GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (WsrtmpFairInputStream, wsrtmp_fair_input_stream,
    G_TYPE_FILTER_INPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
        wsrtmp_fair_input_stream_pollable_init))

static GPollableInputStream *
base_of (WsrtmpFairInputStream *self)
{
  return G_POLLABLE_INPUT_STREAM (g_filter_input_stream_get_base_stream (
          G_FILTER_INPUT_STREAM (self)));
}

static gboolean
fair_can_poll (GPollableInputStream *stream)
{
  auto *base = base_of (WSRTMP_FAIR_INPUT_STREAM (stream));
  return G_IS_POLLABLE_INPUT_STREAM (base) &&
      g_pollable_input_stream_can_poll (base);
}

static gboolean
fair_is_readable (GPollableInputStream *stream)
{
  auto *self = WSRTMP_FAIR_INPUT_STREAM (stream);
  return self->left > 0 && g_pollable_input_stream_is_readable (
      base_of (self));
}

static gssize
fair_read_nonblocking (GPollableInputStream *stream, void *buffer,
    gsize count, GError **error)
{
  auto *self = WSRTMP_FAIR_INPUT_STREAM (stream);
  if (self->left == 0) {
    if (self->source && !g_source_is_destroyed (self->source))
      g_source_set_ready_time (self->source, 0);
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
        "read budget of this main loop iteration used up");
    return -1;
  }
  gssize n = g_pollable_input_stream_read_nonblocking (base_of (self),
      buffer, MIN (count, self->left), nullptr, error);
  if (n > 0) {
    self->left -= n;
    self->bytes_read += n;
  }
  return n;
}

/* The source handed to the reader: it fires when the connection's own
 * source does, and refills the budget right before the reader runs. */
struct FairSource {
  GSource source;
  WsrtmpFairInputStream *stream;  /* owned */
};

static gboolean
fair_source_dispatch (GSource *source, GSourceFunc callback,
    gpointer user_data)
{
  auto *fair = reinterpret_cast<FairSource *> (source);
  fair->stream->left = fair->stream->budget;
  g_source_set_ready_time (source, -1);
  auto func = reinterpret_cast<GPollableSourceFunc> (callback);
  return func (G_OBJECT (fair->stream), user_data);
}

static void
fair_source_finalize (GSource *source)
{
  auto *fair = reinterpret_cast<FairSource *> (source);
  if (fair->stream->source == source)
    fair->stream->source = nullptr;
  g_clear_object (&fair->stream);
}

static GSourceFuncs fair_source_funcs = {
  nullptr, nullptr, fair_source_dispatch, fair_source_finalize,
  nullptr, nullptr,
};

static GSource *
fair_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  auto *self = WSRTMP_FAIR_INPUT_STREAM (stream);
  GSource *source = g_source_new (&fair_source_funcs, sizeof (FairSource));
  g_source_set_static_name (source, "WsrtmpFairInputStream");
  reinterpret_cast<FairSource *> (source)->stream =
      WSRTMP_FAIR_INPUT_STREAM (g_object_ref (self));
  self->source = source;
  if (self->left == 0)
    g_source_set_ready_time (source, 0);

  GSource *base = g_pollable_input_stream_create_source (base_of (self),
      cancellable);
  g_source_set_dummy_callback (base);
  g_source_add_child_source (source, base);
  g_source_unref (base);
  return source;
}

static void
wsrtmp_fair_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = fair_can_poll;
  iface->is_readable = fair_is_readable;
  iface->create_source = fair_create_source;
  iface->read_nonblocking = fair_read_nonblocking;
}

static gboolean
fair_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  auto *self = WSRTMP_FAIR_INPUT_STREAM (stream);
  return g_io_stream_close (self->connection, cancellable, error);
}

static void
wsrtmp_fair_input_stream_finalize (GObject *object)
{
  g_clear_object (&WSRTMP_FAIR_INPUT_STREAM (object)->connection);
  G_OBJECT_CLASS (wsrtmp_fair_input_stream_parent_class)->finalize (object);
}

static void
wsrtmp_fair_input_stream_class_init (WsrtmpFairInputStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = wsrtmp_fair_input_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->close_fn = fair_close;
}

static void
wsrtmp_fair_input_stream_init (WsrtmpFairInputStream *)
{
}

GIOStream *
wsrtmp_fair_io_stream_new (GIOStream *connection, gsize budget)
{
  auto *input = WSRTMP_FAIR_INPUT_STREAM (g_object_new (
          WSRTMP_TYPE_FAIR_INPUT_STREAM,
          "base-stream", g_io_stream_get_input_stream (connection),
          "close-base-stream", FALSE, nullptr));
  input->connection = G_IO_STREAM (g_object_ref (connection));
  input->budget = input->left = MAX (budget, (gsize) 1);
  GIOStream *stream = g_simple_io_stream_new (G_INPUT_STREAM (input),
      g_io_stream_get_output_stream (connection));
  g_object_unref (input);
  /* libsoup marks the streams it hands out with their socket; keep the mark
   * (wsclose.cpp finds the socket to close by it). */
  gpointer socket = g_object_get_data (G_OBJECT (connection), "GSocket");
  if (socket)
    g_object_set_data_full (G_OBJECT (stream), "GSocket",
        g_object_ref (socket), g_object_unref);
  return stream;
}

guint64
wsrtmp_fair_io_stream_get_bytes_read (GIOStream *stream)
{
  GInputStream *input = g_io_stream_get_input_stream (stream);
  return WSRTMP_IS_FAIR_INPUT_STREAM (input) ?
      WSRTMP_FAIR_INPUT_STREAM (input)->bytes_read : 0;
}
