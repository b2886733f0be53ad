/* One pipeline and everything attached to it (bus watch, pad probes), owned
 * RAII-style: destroying a Media stops the pipeline before anything it
 * points to goes away. Like GstRTSPMedia, it knows nothing about clients.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "util.h"

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace wsrtmp {

/* Application message a Media posts once FLV data first reaches a sink. */
constexpr const char *MEDIA_LIVE_MESSAGE = "wsrtmp-live";

/* State the pipeline's streaming threads update and the main thread reads.
 * Shared (not owned by Media) because probes and signal handlers hold it
 * until they are removed with their elements. */
struct MediaCounters {
  std::atomic<guint64> bytes_out { 0 };
  std::atomic<bool> live_posted { false };
};

class Media {
 public:
  /* Runs on the main context for every bus message. */
  using BusHandler = std::function<void (GstMessage *)>;

  Media (GstElement *pipeline, std::shared_ptr<MediaCounters> counters);
  ~Media ();
  Media (const Media &) = delete;
  Media &operator= (const Media &) = delete;

  void set_bus_handler (BusHandler handler);
  /* False when the pipeline refused to start (an error is on the bus). */
  bool play ();
  /* Ends the input as if the client had finished: what is queued is still
   * delivered. */
  void send_eos ();
  /* Stops every thread; safe to call more than once. */
  void stop ();

  GstElement *pipeline () const { return pipeline_.get (); }
  guint64 bytes_in () const;
  guint64 bytes_out () const { return counters_->bytes_out; }

 private:
  static gboolean on_bus_message (GstBus *bus, GstMessage *message,
      gpointer self);

  GstObjectPtr<GstElement> pipeline_;
  std::shared_ptr<MediaCounters> counters_;
  BusHandler bus_handler_;
  guint bus_watch_ = 0;
};

}  // namespace wsrtmp
