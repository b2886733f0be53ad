/* One broadcast's pipeline and everything attached to it (bus watch, pad
 * probes, its destinations' outputs), owned RAII-style: destroying a Media
 * stops the pipeline before anything it points to goes away. Like
 * GstRTSPMedia, it knows nothing about clients.
 *
 * Lives on the main thread (its bus handler runs on the main context);
 * the Broadcast owns it. What the streaming threads count is in
 * media_counters.h, what they do for each destination in output_gate.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "background_jobs.h"
#include "destination_output.h"
#include "media_counters.h"
#include "util.h"

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <vector>

namespace wsrtmp {

class Media {
 public:
  /* Runs on the main context for every bus message. */
  using BusHandler = std::function<void (GstMessage *)>;

  Media (GstElement *pipeline, std::shared_ptr<MediaCounters> counters,
      std::vector<std::unique_ptr<DestinationOutput>> outputs = {});
  ~Media ();
  Media (const Media &) = delete;
  Media &operator= (const Media &) = delete;

  void set_bus_handler (BusHandler handler);
  /* False when the pipeline refused to start (an error is on the bus). */
  bool play ();
  /* Stops every thread, blocking; safe to call more than once. For the
   * destructor: a running daemon uses stop_async(). */
  void stop ();
  /* Stops listening to the bus and stops every thread off the main loop;
   * stopped runs on the main context once the pipeline (and any sink being
   * replaced or fed kept data) is down. Not called back if the Media is
   * destroyed first. */
  void stop_async (std::function<void ()> stopped);

  GstElement *pipeline () const { return pipeline_.get (); }
  guint64 bytes_out () const { return counters_->bytes_out; }
  /* How far the output runs behind real time (take_output_delay_ms); -1
   * with no output since the last call. */
  gint64 take_output_delay_ms () {
    return wsrtmp::take_output_delay_ms (*counters_); }
  /* Where work that would block the main loop runs (see BackgroundJobs);
   * stop_async waits for it too. */
  BackgroundJobs &jobs () { return jobs_; }

  /* The destination output whose current sink posted a message from
   * origin (-1: none); stale is set when origin is an earlier, replaced
   * sink. */
  int output_of (GstObject *origin, bool *stale) const;
  DestinationOutput &output (size_t index) { return *outputs_[index]; }
  size_t output_count () const { return outputs_.size (); }
  /* Some network sink (RTMP, SRT) is still connecting. */
  bool connecting () const;
  /* Output so far, with kept data sent after the input ended: what a
   * drain that still progresses increases. */
  guint64 bytes_delivered () const { return counters_->bytes_out +
      counters_->kept_bytes_sent; }

 private:
  static gboolean on_bus_message (GstBus *bus, GstMessage *message,
      gpointer self);

  GstObjectPtr<GstElement> pipeline_;
  std::shared_ptr<MediaCounters> counters_;
  BusHandler bus_handler_;
  guint bus_watch_ = 0;
  /* After pipeline_: its jobs hold their own refs and are waited for
   * before the pipeline is released. */
  BackgroundJobs jobs_;
  bool stopped_ = false;
  /* After pipeline_: destroyed first, while the pipeline still exists. */
  std::vector<std::unique_ptr<DestinationOutput>> outputs_;
};

}  // namespace wsrtmp
