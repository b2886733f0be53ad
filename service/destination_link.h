/* Each destination of a broadcast on its own: its connection, its reconnect
 * loop (backoff, kept data from a keyframe on, --rtmp-retry-time), its
 * buffer bound and its status. Nothing one destination does reaches the
 * others or the browser's connection: a refused, lost, stalled or slow
 * destination only changes its own status.
 *
 * DestinationSet is what a broadcast holds: it routes the pipeline's
 * messages to the right link, sends the {"type":"destinations"} frame,
 * and says when every destination failed for good (then, and only then,
 * the stream fails).
 *
 * What the owner (the Broadcast, so that destinations outlive a
 * connection) does:
 *   - destinations = destinations_for (config, key, record) (+ the
 *     recording_destination () when record) into MediaSpec::destinations;
 *   - after the Media exists: a DestinationSet over it, with the policy
 *     (retry_first_connect when more than one destination), hooks (log,
 *     changed) and what to do when all failed; set_frame_sink () to send
 *     the frame to the client(s);
 *   - every bus ERROR/WARNING, and the output gates' application message
 *     (OUTPUT_KEYFRAME_MESSAGE): handle_message () first; true means
 *     handled;
 *   - once a second: tick () (sends the frame);
 *   - drain: progress includes bytes_handed (), and waits while
 *     any_reconnecting ();
 *   - at the end: stop (), and destroy the set before the Media.
 *
 * Main thread only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "media.h"
#include "metrics.h"

#include <json-glib/json-glib.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wsrtmp {

/* What a link needs from its owner. */
struct DestinationHooks {
  /* A log line about the broadcast (the owner adds its id and key). */
  std::function<void (GLogLevelFlags level, const std::string &text)> log;
  /* A destination's state changed (the frame is sent right away). */
  std::function<void ()> changed;
  /* A destination waits for a video keyframe (its connection was lost, or
   * it fell behind): what it sends next starts at one, and until then the
   * stream is lost to it. The owner may ask its input for one. */
  std::function<void ()> keyframe_wanted;
};

struct DestinationPolicy {
  /* How long a lost destination is retried (0: never). */
  int retry_time_s = 0;
  /* A destination that never connected is retried too (several
   * destinations: one wrong one must not end the stream); with a single
   * one the stream fails at once, as it always did. */
  bool retry_first_connect = false;
  /* Bytes a destination may have waiting before it counts as unable to
   * keep up and is dropped to a reconnection from the next keyframe. */
  guint64 max_waiting_bytes = 4 * 1024 * 1024;
  /* Seconds without a byte accepted before "live" becomes "stalled". */
  int stall_s = 5;
  /* Seconds a first connection may take before it is retried. */
  int connect_timeout_s = 10;
};

class DestinationLink {
 public:
  /* Stopped: an operator turned it off (the admin API); start () turns
   * it on again. */
  enum class State { Connecting, Live, Reconnecting, Stalled, Failed,
    Stopped };
  static const char *state_name (State state);

  DestinationLink (DestinationOutput &output, const DestinationPolicy &policy,
      Metrics &metrics, DestinationHooks &hooks);
  ~DestinationLink ();
  DestinationLink (const DestinationLink &) = delete;
  DestinationLink &operator= (const DestinationLink &) = delete;

  /* An error from this destination's current sink. */
  void on_error (GstMessage *message);
  /* Its gate started waiting for a video keyframe (output_gate.h). */
  void on_keyframe_wanted ();
  /* About once a second: bitrate, live/stalled, buffer bound, connect
   * timeout. */
  void tick ();
  /* The broadcast ends: no more reconnecting. */
  void stop ();
  /* An operator turns this destination off: its connection ends (the
   * server sees the publish end), nothing is kept for it meanwhile, and
   * the others go on. False when it is already stopped or failed. */
  bool operator_stop ();
  /* On again: a new connection, sending from the next keyframe (asked of
   * the input), reconnecting as after a loss if the first attempt fails.
   * A failed destination is tried again the same way. False unless it was
   * stopped or failed. */
  bool operator_start ();
  /* The stream ended and this destination did not take its end in time
   * (a stuck server): it fails, so the others can finish. True if it
   * did. */
  bool give_up_if_unfinished ();

  State state () const { return state_; }
  const std::string &name () const { return output_.destination ().name; }
  const Destination &destination () const { return output_.destination (); }
  guint kbps () const { return kbps_; }
  guint reconnects () const { return reconnects_; }
  /* In words, without secrets; "" when none. */
  const std::string &error () const { return error_; }
  /* The last error message from its sink (nullptr if none). */
  GstMessage *last_error () const { return last_error_; }
  /* Failed because --rtmp-retry-time passed without a connection (not
   * because of last_error () itself). */
  bool gave_up () const { return gave_up_; }
  /* Why it failed, for the log (secrets masked). */
  const std::string &detail () const { return detail_; }
  bool reconnecting () const { return reconnecting_; }

 private:
  void set_state (State state);
  void lost (const std::string &words, const std::string &detail);
  void fail_for_good (const std::string &words, const std::string &detail);
  void schedule_reconnect ();
  void stop_timers ();
  void log (GLogLevelFlags level, const std::string &text) const;
  static gboolean on_reconnect_timer (gpointer self);
  static gboolean on_reconnect_poll (gpointer self);

  DestinationOutput &output_;
  const DestinationPolicy policy_;
  Metrics &metrics_;
  DestinationHooks &hooks_;
  State state_ = State::Connecting;
  std::string error_, detail_;
  GstMessage *last_error_ = nullptr;
  bool gave_up_ = false;
  bool stall_logged_ = false;
  gint64 state_since_us_;
  /* Bitrate: accepted bytes at the last tick, and since when unchanged. */
  guint64 last_accepted_ = 0;
  gint64 last_tick_us_ = 0, accepted_since_us_ = 0;
  guint kbps_ = 0;
  guint reconnects_ = 0;
  bool reconnecting_ = false;
  gint64 reconnect_since_us_ = 0, reconnect_poll_until_us_ = 0;
  guint reconnect_backoff_ms_ = 500;
  guint reconnect_attempts_ = 0;
  guint reconnect_timer_ = 0, reconnect_poll_ = 0;
};

class DestinationSet {
 public:
  /* Called when every destination has failed for good: the stream fails
   * with last_failure ()'s error. */
  using AllFailed = std::function<void ()>;

  DestinationSet (Media &media, const DestinationPolicy &policy,
      Metrics &metrics, DestinationHooks hooks, AllFailed all_failed);
  ~DestinationSet ();

  /* True when message (an error or warning) came from a destination's
   * sink, current or replaced: it is handled here and must not fail the
   * stream. Also true for a gate's OUTPUT_KEYFRAME_MESSAGE (passed on to
   * hooks.keyframe_wanted). */
  bool handle_message (GstMessage *message);
  /* Once a second: every link's tick, then the frame. */
  void tick ();
  void stop ();

  bool any_live () const;
  bool any_reconnecting () const;
  bool all_failed () const;
  /* Bytes every destination accepted so far: what a drain that still
   * progresses increases. */
  guint64 bytes_handed () const;
  /* The drain stopped progressing: destinations that did not take the
   * end of the stream fail, so that the others end normally. How many. */
  int give_up_unfinished ();
  /* The destination that failed last (nullptr if none). */
  const DestinationLink *last_failed () const { return last_failed_; }
  /* {"type":"destinations","destinations":[{"name","state","kbps",
   * "reconnects","error"}]} */
  JsonNode *status_frame () const;
  /* Called with the frame on every change and every tick. */
  void set_frame_sink (std::function<void (JsonNode *)> sink);
  const std::vector<std::unique_ptr<DestinationLink>> &links () const {
    return links_; }
  /* The destination called name (nullptr: none). */
  DestinationLink *link (const std::string &name);

 private:
  void changed ();

  Media &media_;
  DestinationHooks hooks_;
  /* What the links call: the owner's log, and changed () here. */
  DestinationHooks link_hooks_;
  AllFailed all_failed_;
  std::function<void (JsonNode *)> frame_sink_;
  std::vector<std::unique_ptr<DestinationLink>> links_;
  const DestinationLink *last_failed_ = nullptr;
  bool reported_all_failed_ = false;
};

}  // namespace wsrtmp
