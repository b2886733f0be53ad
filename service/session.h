/* One WebSocket client feeding one broadcast: its ingest bin (wsserversrc !
 * flvencodebin inside the broadcast's pipeline), the checks on what it
 * sends, and the status messages and close codes it sees. The first kind
 * of Input (input.h): the Broadcast knows it only as that, and as the
 * Broadcast::Listener it attached with.
 *
 * Lives on the main thread; the Server owns it. It calls down into its
 * Broadcast (attach, end_after, end_input, detach); the Broadcast calls it
 * only through Input and Broadcast::Listener, until it detached or heard
 * broadcast_gone.
 *
 * States: connecting -> live -> ending -> ended, or -> error from any state
 * before ended. "live" means this connection's picture is on air;
 * "reconnecting" mirrors the broadcast's RTMP side being retried.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "broadcast.h"
#include "client_frames.h"
#include "daemon_config.h"
#include "failure.h"
#include "input.h"
#include "metrics.h"
#include "pipeline_factory.h"
#include "util.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace wsrtmp {

class Session final : public Input, public Broadcast::Listener {
 public:
  enum class State { Connecting, Live, Reconnecting, Ending, Ended, Error };
  /* Called (from an idle callback, never from inside the session's own
   * handlers) once the session is finished and may be destroyed. */
  using FinishedCallback = std::function<void (Session *)>;

  Session (guint64 id, std::string key, std::string peer,
      SoupWebsocketConnection *connection, const Config &config,
      const PipelineFactory &factory, Metrics &metrics,
      FinishedCallback finished);
  ~Session ();
  Session (const Session &) = delete;
  Session &operator= (const Session &) = delete;

  /* Joins broadcast: the welcome frame, then the ingest bin (it keeps what
   * the client sends from now on). resumed: the broadcast was already
   * running (on slate, or fed by an older connection). */
  void start (Broadcast *broadcast, bool resumed);
  /* Could not join: tells the client why and finishes. */
  void refuse (const Failure &failure, const std::string &detail);
  /* A newer connection for the same key arrived: end this one, delivering
   * what it already received, so the newer one can take over. */
  void replace ();
  /* The operator ended the stream (admin API): an error frame of kind
   * "kicked" with the operator's reason, then close 1008; what was
   * received is still delivered. The broadcast is ended by the caller
   * (Broadcast::end_by_operator), so no slate follows. */
  void kick (const std::string &reason);

  /* Input (what the broadcast knows of us). */
  /* The ingest bin. */
  GstElement *element () const override { return ingest_.get (); }
  /* A message from inside the ingest bin. */
  void on_message (GstMessage *message) override;
  /* Server shutdown: end the stream as if the client had stopped, so
   * everything received is still delivered. */
  void finish () override;
  /* Tells the client: {"type":"keyframe","reason":…} (README). */
  void request_keyframe (const char *reason) override;

  /* Broadcast::Listener (what the broadcast announces to us). */
  /* The broadcast's state changed (live, RTMP reconnecting, ending...). */
  void broadcast_changed (Broadcast::State state) override;
  /* This connection's picture is on air (resumed: after a slate). */
  void input_active (bool resumed) override;
  /* flvsplice has all of this connection's data: leave the broadcast. */
  void input_ended () override;
  /* The broadcast failed: tell the client. */
  void broadcast_failed (const Failure &failure) override;
  /* The broadcast's pipeline is down: finish. */
  void broadcast_gone () override;
  /* A frame about the broadcast (its destinations) for the client. */
  void broadcast_frame (JsonNode *frame) override {
    send_json (connection_.get (), frame); }

  guint64 id () const { return id_; }
  const std::string &key () const { return key_; }
  const std::string &peer () const { return peer_; }
  State state () const { return state_; }
  static const char *state_name (State state);
  /* The broadcast it feeds (nullptr before start, once it left or the
   * broadcast is gone). */
  const Broadcast *broadcast () const { return broadcast_; }
  /* When the connection was accepted (unix microseconds). */
  gint64 connected_unix_us () const { return connected_unix_us_; }
  /* Media received over the last second (kbit/s). */
  guint bitrate_kbps () const { return bitrate_kbps_; }
  /* "passthrough" or "transcode" once flvencodebin decided, "" before. */
  const std::string &output_mode () const { return output_mode_; }

 private:
  void on_client_closed ();
  void set_state (State state);
  void send_state (const char *state);
  void send_welcome (bool resumed);
  void begin_ending (const char *why);
  void fail (const Failure &failure, const std::string &detail);
  void close_with (const Failure &failure, const std::string &detail);
  void leave_broadcast ();
  void log_ended () const;
  void schedule_finish ();
  void update_stats (bool send);
  void log_event (GLogLevelFlags level, const std::string &text) const;
  bool streaming () const { return state_ == State::Connecting ||
      state_ == State::Live || state_ == State::Reconnecting; }
  guint64 source_counter (const char *property) const;
  bool check_unfinished_message (guint64 bytes_in);
  void check_idle ();

  static void on_closed_signal (SoupWebsocketConnection *conn, gpointer self);
  static void on_message_signal (SoupWebsocketConnection *conn, gint type,
      GBytes *message, gpointer self);
  static gboolean on_stats_timer (gpointer self);
  void watch_input_end ();
  static gboolean on_input_end_check (gpointer self);
  void count_finished ();
  static gboolean on_finish_idle (gpointer self);

  const guint64 id_;
  const std::string key_;
  const std::string peer_;
  GObjectPtr<SoupWebsocketConnection> connection_;
  const Config &config_;
  const PipelineFactory &factory_;
  Metrics &metrics_;
  FinishedCallback finished_;

  Broadcast *broadcast_ = nullptr;      /* until detached or gone */
  GstObjectPtr<GstElement> ingest_;
  GstObjectPtr<GstElement> src_;
  State state_ = State::Connecting;
  gint64 started_us_;
  const gint64 connected_unix_us_ = g_get_real_time ();
  gulong closed_handler_ = 0, message_handler_ = 0;
  guint stats_timer_ = 0, finish_idle_ = 0, input_end_timer_ = 0;
  /* While the input drains after the client left: output last seen
   * growing at input_progress_us_. */
  guint64 input_progress_bytes_ = 0;
  gint64 input_progress_us_ = 0;
  bool counted_ = false;
  bool leaving_ = false;
  bool input_ended_ = false;
  bool on_air_ = false;
  guint64 last_bytes_in_ = 0, last_bytes_out_ = 0;
  guint bitrate_kbps_ = 0;
  /* Idle timeout: bytes_in last seen changing at idle_since_us_. */
  guint64 idle_bytes_in_ = 0;
  gint64 idle_since_us_ = 0;
  gint64 first_input_us_ = 0;
  /* What the ingest bin's streaming threads report (probes hold refs). */
  struct IngestProgress {
    std::atomic<guint64> bytes_out { 0 };       /* FLV out of the bin */
    std::atomic<bool> source_ended { false };   /* wsserversrc pushed EOS */
  };
  std::shared_ptr<IngestProgress> progress_ =
      std::make_shared<IngestProgress> ();
  /* Video output as flvencodebin last reported it; "" until it decided. */
  std::string output_mode_;
};

}  // namespace wsrtmp
