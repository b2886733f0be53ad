/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "media.h"

#include <algorithm>

namespace wsrtmp {

Media::Media (GstElement *pipeline, std::shared_ptr<MediaCounters> counters,
    std::vector<std::unique_ptr<DestinationOutput>> outputs)
    : pipeline_ (pipeline), counters_ (std::move (counters)),
      outputs_ (std::move (outputs))
{
  for (auto &output : outputs_)
    output->set_jobs (&jobs_);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  bus_watch_ = gst_bus_add_watch (bus, &Media::on_bus_message, this);
}

Media::~Media ()
{
  /* The watch goes first so no callback can reach a half-destroyed owner. */
  if (bus_watch_)
    g_source_remove (bus_watch_);
  /* Destroyed while stopping (process exit): let the jobs end first. */
  jobs_.wait ();
  stop ();
  outputs_.clear ();
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
Media::stop ()
{
  if (stopped_)
    return;
  stopped_ = true;
  gst_element_set_state (pipeline_.get (), GST_STATE_NULL);
}

void
Media::stop_async (std::function<void ()> stopped)
{
  if (bus_watch_) {
    g_source_remove (bus_watch_);
    bus_watch_ = 0;
  }
  if (!stopped_) {
    stopped_ = true;
    /* Joins every streaming thread (the encoders finish their frame, the
     * sinks close their sockets): tens of milliseconds per pipeline. */
    jobs_.run (pipeline_.get (), [] (GstElement *pipeline) {
      gst_element_set_state (pipeline, GST_STATE_NULL);
    });
  }
  jobs_.when_idle (std::move (stopped));
}

gboolean
Media::on_bus_message (GstBus *bus, GstMessage *message, gpointer data)
{
  auto *self = static_cast<Media *> (data);
  if (self->bus_handler_)
    self->bus_handler_ (message);
  return G_SOURCE_CONTINUE;
}

bool
Media::connecting () const
{
  return std::any_of (outputs_.begin (), outputs_.end (),
      [] (const auto &output) { return output->connecting (); });
}

int
Media::output_of (GstObject *origin, bool *stale) const
{
  *stale = false;
  for (size_t i = 0; i < outputs_.size (); i++) {
    if (outputs_[i]->owns (origin))
      return static_cast<int> (i);
    if (outputs_[i]->is_stale (origin)) {
      *stale = true;
      return static_cast<int> (i);
    }
  }
  return -1;
}

}  // namespace wsrtmp
