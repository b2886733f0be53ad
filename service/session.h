/* One WebSocket client streaming one broadcast: its state machine, the
 * status messages and close codes the client sees, and the Media that does
 * the work. Lives on the main thread; the Server owns it.
 *
 * States: connecting -> live -> ending -> ended, or -> error from any state
 * before ended. "live" means FLV data reached a destination. live ->
 * reconnecting -> live while a dropped RTMP connection is retried (the
 * browser's data is kept meanwhile, bounded).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "config.h"
#include "destination_link.h"
#include "media.h"
#include "metrics.h"
#include "pipeline_factory.h"
#include "util.h"
#include "wsclose.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <functional>
#include <memory>
#include <string>

namespace wsrtmp {

/* What a failed session tells the client and counts in the metrics. */
struct SessionFailure {
  gushort code;
  std::string reason;           /* short, for the streamer */
  /* A machine word, the same in the {"type":"error"} frame (the page
   * decides on it) and in wsrtmp_errors_total{kind}; README.md lists
   * them all with their close codes. */
  std::string kind;
};

/* Maps a pipeline error to what the client is told. Public for tests. */
SessionFailure classify_error (GstMessage *error_message);

/* The close codes (CloseCode) and how a WebSocket is closed are shared with
 * wsserversrc: plugin/wsclose.h. */

/* Closes a WebSocket (websocket_close), keeping it alive until the closing
 * handshake is done even if its owner goes away first. */
void close_websocket (SoupWebsocketConnection *conn, gushort code,
    const std::string &reason);
/* Refuses a just-accepted WebSocket: an error message (with its kind, as in
 * SessionFailure), then the close code (any code, including those libsoup
 * will not send itself, like 1013). */
void refuse_websocket (SoupWebsocketConnection *conn, gushort code,
    const std::string &reason, const std::string &kind);
/* Sends a JSON text frame if the connection is still open. */
void send_json (SoupWebsocketConnection *conn, JsonNode *node);

class Session {
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

  /* Builds the pipeline (it keeps what the client sends from now on) and,
   * unless told to wait, starts it. A session waits while an older one for
   * the same key still holds the RTMP stream: the server would refuse a
   * second publish under one name. */
  void start (bool wait_for_previous = false);
  /* The older session for this key is gone: go live. */
  void release ();
  /* A newer connection for the same key arrived: end this one, delivering
   * what it already received, so the newer one can take over. */
  void replace ();
  /* Server shutdown: end the stream as if the client had stopped, so
   * everything received is still delivered. */
  void shutdown ();

  guint64 id () const { return id_; }
  const std::string &key () const { return key_; }
  bool waiting () const { return waiting_; }
  const std::string &peer () const { return peer_; }
  State state () const { return state_; }
  static const char *state_name (State state);

 private:
  void on_bus_message (GstMessage *message);
  void on_client_closed ();
  void set_state (State state);
  void begin_ending (const char *why);
  void end_normally ();
  void fail (const SessionFailure &failure, const std::string &detail);
  void schedule_finish ();
  void update_stats (bool send);
  void log_event (GLogLevelFlags level, const std::string &text) const;
  bool streaming () const { return state_ == State::Connecting ||
      state_ == State::Live || state_ == State::Reconnecting; }
  bool check_unfinished_message (guint64 bytes_in);
  void check_idle ();
  void on_destinations_changed ();
  void on_all_destinations_failed ();

  static void on_closed_signal (SoupWebsocketConnection *conn, gpointer self);
  static void on_message_signal (SoupWebsocketConnection *conn, gint type,
      GBytes *message, gpointer self);
  static gboolean on_stats_timer (gpointer self);
  static gboolean on_drain_timeout (gpointer self);
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

  std::unique_ptr<Media> media_;
  std::vector<Destination> destinations_;
  /* Each destination's connection, reconnects and status (after media_:
   * destroyed first). */
  std::unique_ptr<DestinationSet> destination_set_;
  State state_ = State::Connecting;
  gint64 started_us_;
  gulong closed_handler_ = 0, message_handler_ = 0;
  guint stats_timer_ = 0, drain_timer_ = 0, finish_idle_ = 0;
  /* How long finishing may wait for an RTMP connect in progress. */
  static constexpr gint64 FINISH_WAIT_US = 6 * G_USEC_PER_SEC;
  gint64 finish_deadline_us_ = 0;
  bool counted_ = false;
  bool waiting_ = false;
  guint64 last_bytes_in_ = 0, last_bytes_out_ = 0;
  guint64 drain_bytes_out_ = 0;
  bool drain_gave_up_ = false;  /* stuck destinations were failed */
  guint bitrate_kbps_ = 0;
  /* Idle timeout: bytes_in last seen changing at idle_since_us_. */
  guint64 idle_bytes_in_ = 0;
  gint64 idle_since_us_ = 0;
  gint64 first_input_us_ = 0;
  /* Video output as flvencodebin last reported it; "" until it decided. */
  std::string output_mode_;
};

}  // namespace wsrtmp
