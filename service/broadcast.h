/* One broadcast: the output side of one stream key (flvsplice, the tee and
 * the destinations: one RTMP publish), which outlives the connections that
 * feed it. Like a shared GstRTSPMedia it knows its clients only as inputs
 * (input.h): each adds its element with attach() and leaves with detach();
 * what the broadcast has to say it announces to the Listener each input
 * gave with attach(). Between two inputs flvsplice shows a slate for up to
 * --continuity-timeout seconds.
 *
 * States: starting -> live -> ending -> ended, or -> error from any state
 * before ended. live -> reconnecting -> live while no destination is live
 * and one is being retried (each destination on its own: see
 * destination_link.h; the broadcast fails only when all of them did).
 *
 * Keyframes: when the output waits for a video keyframe (a destination
 * reconnecting or fallen behind, a new connection joining) the broadcast
 * asks its newest input for one (Input::request_keyframe), at most once
 * per KEYFRAME_REQUEST_INTERVAL_US; a request inside that time is sent
 * when it ends, several then as one.
 *
 * Lives on the main thread; the Server owns it. Its inputs are not its
 * own: each stays attached until it detaches or the broadcast is gone.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "daemon_config.h"
#include "destination_choice.h"
#include "destination_link.h"
#include "failure.h"
#include "input.h"
#include "media.h"
#include "metrics.h"
#include "pipeline_factory.h"
#include "util.h"

#include <json-glib/json-glib.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wsrtmp {

class Broadcast {
 public:
  enum class State { Starting, Live, Reconnecting, Ending, Ended, Error };
  /* Called (from an idle callback) once the pipeline is down and no
   * input is attached any more: the broadcast may be destroyed. */
  using FinishedCallback = std::function<void (Broadcast *)>;

  /* What the broadcast announces to one attached input, from attach()
   * until detach() or broadcast_gone (), on the main thread. A call may
   * come from inside the input's own call into the broadcast (a state
   * change, say). */
  class Listener {
   public:
    /* The broadcast's state changed (live, destinations reconnecting,
     * ending...). */
    virtual void broadcast_changed (State state) = 0;
    /* This input's picture is on air (resumed: after a slate). */
    virtual void input_active (bool resumed) = 0;
    /* flvsplice has all of this input's data: time to detach. */
    virtual void input_ended () = 0;
    /* The broadcast failed. */
    virtual void broadcast_failed (const Failure &failure) = 0;
    /* The pipeline is down, the input's element with it: the last call,
     * the input is no longer attached. */
    virtual void broadcast_gone () = 0;
    /* A frame about the broadcast (its destinations' status) for the
     * client. */
    virtual void broadcast_frame (JsonNode *frame) = 0;

   protected:
    ~Listener () = default;
  };

  Broadcast (guint64 id, std::string key, const Config &config,
      const PipelineFactory &factory, Metrics &metrics,
      FinishedCallback finished);
  ~Broadcast ();
  Broadcast (const Broadcast &) = delete;
  Broadcast &operator= (const Broadcast &) = delete;

  /* Where the broadcast's events go (webhooks.h): broadcast.started,
   * .live, .slate, .resumed, .ended, destination.state, with their fields
   * (not taken; "broadcast" is this id). Set before start (). */
  using EventSink = std::function<void (const char *type,
      JsonObject *fields)>;
  void set_event_sink (EventSink sink) { events_ = std::move (sink); }
  /* The MP4 recording's splitmuxsink messages ("splitmuxsink-fragment-
   * opened" and "-closed": location, running-time), for the recordings'
   * index (recording_index.h). Set before start (). */
  using SegmentSink = std::function<void (const GstStructure *message)>;
  void set_segment_sink (SegmentSink sink) { segments_ = std::move (sink); }
  /* What the --on-publish hook chose for this broadcast (hook_client.h),
   * instead of the configuration's; before start (). */
  void choose_destinations (const DestinationOverride &chosen) {
    chosen_ = chosen; }

  /* Builds the pipeline (destinations, the recording). False when it cannot
   * (failure says what to tell the client). Unless told to wait, starts it.
   * A broadcast waits while an older one for the same key still holds the
   * RTMP stream: the server would refuse a second publish under one name. */
  bool start (bool wait_for_previous, Failure &failure, std::string &detail);
  /* The older broadcast for this key is gone: go live. */
  void release ();
  bool waiting () const { return waiting_; }

  /* Adds input's element to the pipeline, fed to a new flvsplice input: it
   * takes over once the inputs before it ended. listener hears what the
   * broadcast announces while input is attached. */
  bool attach (Input *input, Listener *listener, GError **error);
  /* Removes input's element (off the main loop); done runs on the main
   * context once it is down. Its listener is not called after this. */
  void detach (Input *input, std::function<void ()> done);
  /* The newest input's streamer stopped (a WebSocket's close 1000): the
   * broadcast ends once that input's data is delivered, without a slate. */
  void end_after (Input *input);
  /* input ended or failed inside the pipeline (its streaming thread
   * stopped, it produced nothing): its flvsplice input ends here, as if
   * it had closed. */
  void end_input (Input *input);
  /* Server shutdown: end after what was received is delivered (every
   * input is told to finish). */
  void shutdown ();

  /* An operator ends the broadcast (the admin API's kick): like the
   * streamer's Stop, it ends after what was received is delivered, without
   * a slate; the server closes the inputs itself. */
  void end_by_operator (const std::string &why);
  /* An operator turns the destination called name off (on: on again);
   * the others are untouched. */
  enum class Control { Done, Unchanged, Unknown };
  Control control_destination (const std::string &name, bool on);

  /* A new connection may join (not ending). */
  bool accepting () const;
  /* Connections may come and go without ending the broadcast. */
  bool continuous () const { return factory_.continuity_timeout_s () > 0; }
  guint64 id () const { return id_; }
  const std::string &key () const { return key_; }
  State state () const { return state_; }
  static const char *state_name (State state);
  double duration_s () const;
  guint64 bytes_out () const { return media_ ? media_->bytes_out () : 0; }
  /* How far its output runs behind real time, ms, for the overload guard
   * (take_output_delay_ms, media_counters.h); -1 with no
   * output since the last call. */
  gint64 take_output_delay_ms () {
    return media_ ? media_->take_output_delay_ms () : -1; }
  bool on_slate () const { return on_slate_; }
  /* When it started (unix microseconds). */
  gint64 started_unix_us () const { return started_unix_us_; }
  /* Output over the last second (kbit/s). */
  guint kbps_out () const { return kbps_out_; }
  /* Each destination's status (nullptr before start ()). */
  const DestinationSet *destination_set () const {
    return destination_set_.get (); }
  /* dest's location without its secrets, nor this broadcast's key. */
  std::string masked_location (const Destination &dest) const;

 private:
  /* An input while it is attached. */
  struct Attached {
    Input *input;
    Listener *listener;
    /* The input's element: the input owns it; the pipeline holds a
     * reference of its own from attach() until detach()'s job removes it. */
    GstElement *bin;
    GstObjectPtr<GstPad> splice_pad;
    bool ended = false;         /* flvsplice saw its EOS */
  };

  void on_bus_message (GstMessage *message);
  void on_splice_message (const GstStructure *s);
  Attached *attached_of (GstObject *origin);
  Attached *attached_of (Input *input);
  Attached *active_input ();
  /* The listeners now, oldest input first (a copy: a call may detach). */
  std::vector<Listener *> listeners () const;
  void set_state (State state);
  void begin_ending (const std::string &why);
  void end_normally ();
  void fail (const Failure &failure, const std::string &detail);
  void schedule_finish ();
  void log_event (GLogLevelFlags level, const std::string &text) const;
  bool running () const { return state_ == State::Starting ||
      state_ == State::Live || state_ == State::Reconnecting; }
  void on_destinations_changed ();
  void on_all_destinations_failed ();
  /* An event for the sink (fields: its own, may be nullptr). */
  void announce (const char *type, JsonObject *fields = nullptr);
  void announce_started ();
  void announce_ended (const std::string &why, const std::string &kind);
  /* The output waits for a video keyframe (reason: KEYFRAME_REASON_*):
   * asks the newest input now, or when the rate limit allows. */
  void request_keyframe (const char *reason);
  void send_keyframe_request (const char *reason);
  static gboolean on_keyframe_timer (gpointer self);
  static gboolean on_tick (gpointer self);
  static gboolean on_drain_timeout (gpointer self);
  static gboolean on_finish_idle (gpointer self);

  const guint64 id_;
  const std::string key_;
  const Config &config_;
  const PipelineFactory &factory_;
  Metrics &metrics_;
  FinishedCallback finished_;

  std::unique_ptr<Media> media_;
  /* Each destination's connection, reconnects and status (after media_:
   * destroyed first). */
  std::unique_ptr<DestinationSet> destination_set_;
  GstObjectPtr<GstElement> splice_;
  std::vector<Destination> destinations_;
  std::vector<Attached> inputs_;        /* oldest first */
  State state_ = State::Starting;
  gint64 started_us_;
  const gint64 started_unix_us_ = g_get_real_time ();
  guint64 tick_bytes_out_ = 0;
  guint kbps_out_ = 0;
  bool waiting_ = false;
  bool on_slate_ = false;
  gint64 slate_since_us_ = 0;
  guint drain_timer_ = 0, finish_idle_ = 0, tick_timer_ = 0;
  /* Keyframe requests: at most one per interval (each makes the browser
   * spend a keyframe's bits; a burst of causes needs only one). */
  static constexpr gint64 KEYFRAME_REQUEST_INTERVAL_US = 500 * 1000;
  gint64 keyframe_requested_us_ = 0;    /* the last one sent; 0: none */
  guint keyframe_timer_ = 0;            /* a request waits for the limit */
  const char *keyframe_reason_ = nullptr;       /* its reason */
  guint64 drain_bytes_out_ = 0;
  bool drain_gave_up_ = false;  /* stuck destinations were failed */
  /* How long finishing may wait for an RTMP connect in progress. */
  static constexpr gint64 FINISH_WAIT_US = 6 * G_USEC_PER_SEC;
  gint64 finish_deadline_us_ = 0;
  bool finishing_ = false;
  /* Events (set_event_sink): started is announced once the pipeline
   * plays; ended only after started, once. */
  EventSink events_;
  SegmentSink segments_;
  bool announced_started_ = false, announced_ended_ = false;
  std::string ending_why_;      /* what begin_ending was told */
  std::map<std::string, std::string> destination_states_;
  std::optional<DestinationOverride> chosen_;
};

}  // namespace wsrtmp
