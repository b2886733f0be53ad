/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "media.h"

namespace wsrtmp {

Media::Media (GstElement *pipeline, std::shared_ptr<MediaCounters> counters)
    : pipeline_ (pipeline), counters_ (std::move (counters))
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  bus_watch_ = gst_bus_add_watch (bus, &Media::on_bus_message, this);
}

Media::~Media ()
{
  /* The watch goes first so no callback can reach a half-destroyed owner. */
  if (bus_watch_)
    g_source_remove (bus_watch_);
  stop ();
  /* Hand the adopted connection back while the element's signal handlers
   * still exist (it would otherwise try to drop them after dispose). */
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline_.get ()),
      "src");
  if (src)
    g_object_set (src, "connection", nullptr, nullptr);
}

void
Media::set_bus_handler (BusHandler handler)
{
  bus_handler_ = std::move (handler);
}

bool
Media::play ()
{
  return gst_element_set_state (pipeline_.get (), GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE;
}

void
Media::send_eos ()
{
  gst_element_send_event (pipeline_.get (), gst_event_new_eos ());
}

void
Media::stop ()
{
  gst_element_set_state (pipeline_.get (), GST_STATE_NULL);
}

guint64
Media::bytes_in () const
{
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline_.get ()),
      "src");
  guint64 bytes = 0;
  if (src)
    g_object_get (src, "bytes-received", &bytes, nullptr);
  return bytes;
}

gboolean
Media::on_bus_message (GstBus *bus, GstMessage *message, gpointer data)
{
  auto *self = static_cast<Media *> (data);
  if (self->bus_handler_)
    self->bus_handler_ (message);
  return G_SOURCE_CONTINUE;
}

}  // namespace wsrtmp
