/* One pipeline and everything attached to it (bus watch, pad probes), owned
 * RAII-style: destroying a Media stops the pipeline before anything it
 * points to goes away. Like GstRTSPMedia, it knows nothing about clients.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "background_jobs.h"
#include "destination.h"
#include "util.h"

#include <gst/gst.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace wsrtmp {

/* Application message a Media posts once FLV data first reaches a sink. */
constexpr const char *MEDIA_LIVE_MESSAGE = "wsrtmp-live";

/* State the pipeline's streaming threads update and the main thread reads.
 * Shared (not owned by Media) because probes and signal handlers hold it
 * until they are removed with their elements. */
struct MediaCounters {
  std::atomic<guint64> bytes_out { 0 };
  /* Kept during an RTMP outage and sent after the input ended. */
  std::atomic<guint64> kept_bytes_sent { 0 };
  std::atomic<bool> live_posted { false };
};

/* Posts MEDIA_LIVE_MESSAGE on pipeline once the first buffer reaches pad. */
void add_live_probe (GstPad *pad, std::shared_ptr<MediaCounters> counters,
    GstElement *pipeline);

/* What flows from the tee to one RTMP destination, shared with the
 * streaming threads. While the connection is down ("closed") the FLV tags
 * are kept, from a video keyframe on and bounded in bytes; when a new
 * connection is published they are sent first, then the live ones. */
struct RtmpGate {
  std::mutex lock;
  bool open = true;
  /* A keyframe was seen since the connection was lost (tags before the
   * first keyframe are useless to a new connection). */
  bool synced = true;
  bool eos_pending = false;     /* EOS arrived while closed */
  guint generation = 0;         /* bumped per sink: stale sinks are ignored */
  std::deque<GstBuffer *> backlog;
  gsize backlog_bytes = 0;
  gsize max_backlog_bytes = 64 * 1024 * 1024;
  guint64 dropped_bytes = 0;    /* lost while waiting for a keyframe or over the bound */
  /* A sink of this output rendered FLV data at least once: the server had
   * accepted the stream, so losing it is worth a reconnection. */
  std::atomic<bool> ever_delivered { false };
  /* Bytes handed to the current sink bin, and to every sink so far. */
  std::atomic<guint64> pushed_bytes { 0 };
  std::atomic<guint64> pushed_total { 0 };
  /* The current sink received the end of the stream. */
  std::atomic<bool> eos_at_sink { false };
  /* Bytes the sinks' connections accepted, summed over replaced sinks. */
  std::atomic<guint64> accepted_before { 0 };
  /* The next sink starts without the FLV header (a reconnection): send the
   * caps' streamheader first, for sinks that do not (flvdemux). */
  bool needs_header = false;
  ~RtmpGate ();

  /* The rest are called with lock held. */
  /* False (and counted as dropped) for what comes before the first video
   * keyframe since the connection was lost: useless to a new one. */
  bool sync (GstBuffer *buffer);
  /* Closed: keeps a ref to buffer, then drops whole GOPs from the front
   * while over max_backlog_bytes, so the kept tags still start with a
   * keyframe. */
  void keep (GstBuffer *buffer);
};

/* An FLV video tag holding a keyframe (frame type 1). */
bool is_flv_video_keyframe (GstBuffer *buffer);

/* One destination (RTMP, SRT or the recording: see destination.h) whose
 * sink bin behind the tee can be replaced while the stream runs. A failing
 * sink never stops the tee (its flow errors become OK and the gate keeps
 * the data). Main thread only. */
class RtmpOutput {
 public:
  RtmpOutput (GstElement *pipeline, GstElement *tee, Destination destination,
      bool only_destination, std::string name,
      std::shared_ptr<MediaCounters> counters);
  ~RtmpOutput ();
  RtmpOutput (const RtmpOutput &) = delete;
  RtmpOutput &operator= (const RtmpOutput &) = delete;

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
  std::shared_ptr<RtmpGate> gate_;
  GstElement *bin_ = nullptr;           /* owned by the pipeline */
  std::string sink_name_;
  int attempts_ = 0;
  bool failed_ = false;
};

class Media {
 public:
  /* Runs on the main context for every bus message. */
  using BusHandler = std::function<void (GstMessage *)>;

  Media (GstElement *pipeline, std::shared_ptr<MediaCounters> counters,
      std::vector<std::unique_ptr<RtmpOutput>> rtmp_outputs = {});
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
  /* Where work that would block the main loop runs (see BackgroundJobs);
   * stop_async waits for it too. */
  BackgroundJobs &jobs () { return jobs_; }

  /* The RTMP output whose current sink posted a message from origin (-1:
   * none); stale is set when origin is an earlier, replaced sink. */
  int rtmp_output_of (GstObject *origin, bool *stale) const;
  RtmpOutput &rtmp_output (size_t index) { return *rtmp_outputs_[index]; }
  size_t rtmp_output_count () const { return rtmp_outputs_.size (); }
  /* Some RTMP sink is still connecting. */
  bool rtmp_connecting () const;
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
  std::vector<std::unique_ptr<RtmpOutput>> rtmp_outputs_;
};

}  // namespace wsrtmp
