/* One destination's output in a broadcast's pipeline: the tee's request
 * pad, the output gate on it, and the sink bin that a reconnection
 * replaces (DestinationLink, destination_link.h, decides when). The
 * streaming threads' side is the gate's (output_gate.h).
 *
 * Lives on the main thread; the Media owns it and destroys it while the
 * pipeline still exists. Work that would block (a sink's state change,
 * pushing kept data into a sink that waits for the network) runs on the
 * Media's BackgroundJobs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "background_jobs.h"
#include "destination.h"
#include "media_counters.h"
#include "output_gate.h"
#include "util.h"

#include <gst/gst.h>

#include <memory>
#include <string>

namespace wsrtmp {

/* One destination (RTMP, SRT or the recording: see destination.h) whose
 * sink bin behind the tee can be replaced while the stream runs. A failing
 * sink never stops the tee (its flow errors become OK and the gate keeps
 * the data). */
class DestinationOutput {
 public:
  DestinationOutput (GstElement *pipeline, GstElement *tee,
      Destination destination, bool only_destination, std::string name,
      std::shared_ptr<MediaCounters> counters);
  ~DestinationOutput ();
  DestinationOutput (const DestinationOutput &) = delete;
  DestinationOutput &operator= (const DestinationOutput &) = delete;

  /* Builds a new sink bin and links it; data flows at once when open,
   * otherwise it is held back until open(). */
  bool attach (bool open, GError **error);
  /* Unlinks the sink and drops it off the main loop (its state change
   * waits for the streaming thread and the socket); data is kept (bounded)
   * meanwhile. */
  void detach ();
  /* Forgets the kept tags (a destination that could not keep up starts
   * again from the next keyframe). */
  void drop_kept ();
  /* Lets data (the kept tags first) reach the sink. When the input already
   * ended, the kept tags and the end are pushed off the main loop. */
  void open ();
  /* True when object is this output's pad on the tee, where its gate
   * sits (the source of the gate's OUTPUT_KEYFRAME_MESSAGE). */
  bool is_gate_pad (GstObject *object) const {
    return object == GST_OBJECT (tee_pad_.get ()); }
  /* True when object is the current sink bin or inside it. */
  bool owns (GstObject *object) const;
  /* True when object is an earlier sink of this output (its late messages
   * are ignored). */
  bool is_stale (GstObject *object) const;
  /* The current sink has connected and published (rtmp2sink: bytes
   * written; srtsink: a connected socket). */
  bool published () const;
  /* The current network sink is still connecting: neither published nor
   * failed. */
  bool connecting () const { return bin_ && !failed_ &&
      destination_.kind != Destination::Kind::File && !published (); }
  /* Bytes the current sink's connection accepted (its stats; for a file,
   * what was written). */
  guint64 accepted_bytes () const;
  /* Bytes handed to the current sink bin that it has not sent yet: what a
   * destination that cannot keep up piles up. */
  guint64 waiting_bytes () const;
  /* Bytes handed to any sink of this output since the start. */
  guint64 pushed_total () const { return gate_->pushed_total; }
  /* Bytes every sink of this output accepted since the start. */
  guint64 accepted_total () const { return gate_->accepted_before +
      accepted_bytes (); }
  /* The current sink got the end of the stream (it has all it will get). */
  bool finished () const { return bin_ && gate_->eos_at_sink; }
  const Destination &destination () const { return destination_; }
  /* Its sink posted an error (a failed connect ends there). */
  void mark_failed () { failed_ = true; }
  bool ever_delivered () const { return gate_->ever_delivered; }
  bool attached () const { return bin_ != nullptr; }
  gsize backlog_bytes () const;
  guint64 dropped_bytes () const;
  const std::string &name () const { return name_; }
  /* Where detach() and open() run what would block; set by Media. */
  void set_jobs (BackgroundJobs *jobs) { jobs_ = jobs; }

 private:
  /* The current network sink's "stats" (rtmp2sink, srtsink), or null;
   * the caller frees it. */
  GstStructure *sink_stats () const;

  GstElement *pipeline_;                /* not owned */
  BackgroundJobs *jobs_ = nullptr;      /* the Media's, outlives us */
  GstObjectPtr<GstElement> tee_;
  GstObjectPtr<GstPad> tee_pad_;
  Destination destination_;
  std::string description_;             /* printf pattern, %1$s = sink name */
  std::string name_;                    /* dest0, dest1... */
  std::shared_ptr<MediaCounters> counters_;
  std::shared_ptr<OutputGate> gate_;
  GstElement *bin_ = nullptr;           /* owned by the pipeline */
  std::string sink_name_;
  int attempts_ = 0;
  bool failed_ = false;
};

}  // namespace wsrtmp
