/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "session.h"
#include "fair_input_stream.h"
#include "gstwsserversrc.h"
#include "media_counters.h"

#include <glib/gstdio.h>

#include <algorithm>

namespace wsrtmp {

Session::Session (guint64 id, std::string key, std::string peer,
    SoupWebsocketConnection *connection, const Config &config,
    const PipelineFactory &factory, Metrics &metrics,
    FinishedCallback finished)
    : id_ (id), key_ (std::move (key)), peer_ (std::move (peer)),
      connection_ (SOUP_WEBSOCKET_CONNECTION (g_object_ref (connection))),
      config_ (config), factory_ (factory), metrics_ (metrics),
      finished_ (std::move (finished)),
      started_us_ (g_get_monotonic_time ())
{
  metrics_.session_started ();
}

Session::~Session ()
{
  for (gulong handler : { closed_handler_, message_handler_ }) {
    if (handler)
      g_signal_handler_disconnect (connection_.get (), handler);
  }
  for (guint *source : { &stats_timer_, &finish_idle_, &input_end_timer_ }) {
    if (*source)
      g_source_remove (*source);
  }
  /* The ingest bin is down (detached, or its pipeline stopped): hand the
   * adopted connection back while the element's signal handlers still
   * exist (it would otherwise try to drop them after dispose). */
  if (src_)
    g_object_set (src_.get (), GST_WS_SERVER_SRC_PROP_CONNECTION, nullptr,
        nullptr);
  /* Should the session be destroyed early (process exit), the client still
   * learns why. */
  close_websocket (connection_.get (), CLOSE_GOING_AWAY,
      "server shutting down");
  count_finished ();
}

/* Once, when the session leaves the server's list (so /metrics agrees with
 * /healthz at every moment), or at destruction if it never did. */
void
Session::count_finished ()
{
  if (counted_)
    return;
  counted_ = true;
  metrics_.session_finished (state_ == State::Ended ?
      Metrics::Outcome::Ended : Metrics::Outcome::Error);
}

const char *
Session::state_name (State state)
{
  switch (state) {
    case State::Connecting: return "connecting";
    case State::Live: return "live";
    case State::Reconnecting: return "reconnecting";
    case State::Ending: return "ending";
    case State::Ended: return "ended";
    case State::Error: return "error";
  }
  return "?";
}

void
Session::log_event (GLogLevelFlags level, const std::string &text) const
{
  log_stream_event (level, "SESSION", "session", id_, key_, " from " + peer_,
      text);
}

void
Session::send_welcome (bool resumed)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "welcome");
  json_builder_set_member_name (builder, "continuity_timeout_s");
  json_builder_add_int_value (builder, factory_.continuity_timeout_s ());
  json_builder_set_member_name (builder, "resumed");
  json_builder_add_boolean_value (builder, resumed);
  /* What a page that encodes by itself (WebCodecs) should use: the
   * output's, which passthrough H.264 must keep (h264switch.h). */
  json_builder_set_member_name (builder, "keyframe_interval_s");
  json_builder_add_double_value (builder, factory_.keyframe_interval_s ());
  json_builder_set_member_name (builder, "broadcast_duration_s");
  json_builder_add_double_value (builder, broadcast_ ?
      broadcast_->duration_s () : 0.0);
  json_builder_end_object (builder);
  g_autoptr (JsonNode) node = json_builder_get_root (builder);
  send_json (connection_.get (), node);
}

void
Session::start (Broadcast *broadcast, bool resumed)
{
  broadcast_ = broadcast;
  /* The first connection of a broadcast is on air as soon as the broadcast
   * is; a later one once flvsplice switched to it (input_active). */
  on_air_ = !resumed;
  /* Before wsserversrc adopts the connection: this handler then runs
   * before the element's, so a clean Stop reaches flvsplice ("finish")
   * before the end of the input does. */
  closed_handler_ = g_signal_connect (connection_.get (), "closed",
      G_CALLBACK (&Session::on_closed_signal), this);
  /* No control messages are defined: a text frame closes with 1003.
   * wsserversrc enforces the message size limit and sends 1009 itself. */
  message_handler_ = g_signal_connect (connection_.get (), "message",
      G_CALLBACK (&Session::on_message_signal), this);
  send_welcome (resumed);

  g_autoptr (GError) error = nullptr;
  std::string name = "ingest" + std::to_string (id_);
  GstElement *bin = factory_.create_ingest (connection_.get (),
      config_.max_message_size, name, &error);
  if (bin) {
    ingest_.reset (GST_ELEMENT (gst_object_ref_sink (bin)));
    src_.reset (gst_bin_get_by_name (GST_BIN (bin), MEDIA_SOURCE_NAME));
    /* FLV bytes this connection produced. */
    g_autoptr (GstPad) out = gst_element_get_static_pad (bin, "src");
    gst_pad_add_probe (out, static_cast<GstPadProbeType> (
            GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
        [] (GstPad *, GstPadProbeInfo *info, gpointer data) {
          auto &progress = **static_cast<std::shared_ptr<IngestProgress> *> (
              data);
          progress.bytes_out += probe_data_size (info);
          return GST_PAD_PROBE_OK;
        }, new std::shared_ptr<IngestProgress> (progress_),
        delete_data<std::shared_ptr<IngestProgress>>);
    /* Everything received went into the encoder. */
    g_autoptr (GstPad) source_out = gst_element_get_static_pad (src_.get (),
        "src");
    gst_pad_add_probe (source_out, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        [] (GstPad *, GstPadProbeInfo *info, gpointer data) {
          if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS)
            (*static_cast<std::shared_ptr<IngestProgress> *> (data))->
                source_ended = true;
          return GST_PAD_PROBE_OK;
        }, new std::shared_ptr<IngestProgress> (progress_),
        delete_data<std::shared_ptr<IngestProgress>>);
  }
  if (!bin || !broadcast_->attach (this, this, &error)) {
    if (src_)
      g_object_set (src_.get (), GST_WS_SERVER_SRC_PROP_CONNECTION, nullptr,
          nullptr);
    src_.reset ();
    ingest_.reset ();
    broadcast_ = nullptr;
    fail ({ CLOSE_SERVER_ERROR, "internal pipeline error", "pipeline" },
        std::string ("cannot build the pipeline: ") +
        (error ? error->message : "unknown error"));
    return;
  }
  log_event (G_LOG_LEVEL_MESSAGE, resumed ? "connected, joining the "
      "broadcast" : "connected");
  set_state (State::Connecting);
  idle_since_us_ = g_get_monotonic_time ();
  stats_timer_ = g_timeout_add_seconds (1, &Session::on_stats_timer, this);
  /* The client may have gone while we were setting up. */
  if (soup_websocket_connection_get_state (connection_.get ()) ==
      SOUP_WEBSOCKET_STATE_CLOSED)
    on_client_closed ();
}

void
Session::refuse (const Failure &failure, const std::string &detail)
{
  fail (failure, detail);
}

void
Session::replace ()
{
  const char *reason = "replaced by a newer connection with the same key";
  if (!streaming ())
    return;
  begin_ending (reason);
  g_autoptr (JsonNode) node = error_frame (reason, "replaced");
  send_json (connection_.get (), node);
  /* The element turns the closing handshake into the end of this input,
   * after the last byte received: the newer connection takes over then. */
  close_websocket (connection_.get (), CLOSE_POLICY_VIOLATION, reason);
  /* A connection that has sent nothing for a while is a dead one the
   * browser already left (a half-open TCP connection): its closing
   * handshake would hold the newer one back for seconds (while what the
   * newer one sends piles up, and then plays late). Nothing of it is
   * pending: end its input now. */
  gint64 silent_us = g_get_monotonic_time () - idle_since_us_;
  if (broadcast_ && idle_since_us_ && silent_us > 3 * G_USEC_PER_SEC) {
    log_event (G_LOG_LEVEL_INFO, "replaced after " +
        std::to_string (silent_us / 1000) + " ms without data: its input "
        "ends now");
    broadcast_->end_input (this);
  }
}

void
Session::kick (const std::string &reason)
{
  if (!streaming ())
    return;
  metrics_.error ("kicked");
  update_stats (false);
  log_event (G_LOG_LEVEL_MESSAGE, "kicked by the operator: " + reason);
  g_autoptr (JsonNode) node = error_frame (reason, "kicked");
  send_json (connection_.get (), node);
  set_state (State::Error);
  /* As for a replaced connection, the element turns the closing handshake
   * into the end of this input, after the last byte received. */
  close_websocket (connection_.get (), CLOSE_POLICY_VIOLATION,
      "kicked by the operator");
  if (!broadcast_ || !ingest_)
    leave_broadcast ();
  else
    watch_input_end ();
}

void
Session::finish ()
{
  if (!streaming ())
    return;
  begin_ending ("server shutting down");
  close_websocket (connection_.get (), CLOSE_GOING_AWAY,
      "server shutting down");
}

void
Session::request_keyframe (const char *reason)
{
  if (!streaming ())
    return;
  g_autoptr (JsonNode) node = string_frame ("keyframe",
      { { "reason", reason } });
  send_json (connection_.get (), node);
  log_event (G_LOG_LEVEL_INFO, std::string ("asked the client for a "
        "keyframe (") + reason + ")");
}

void
Session::send_state (const char *state)
{
  g_autoptr (JsonNode) node = string_frame ("state", { { "state", state } });
  send_json (connection_.get (), node);
}

void
Session::set_state (State state)
{
  state_ = state;
  send_state (state_name (state));
}

void
Session::begin_ending (const char *why)
{
  set_state (State::Ending);
  log_event (G_LOG_LEVEL_INFO, std::string ("ending: ") + why);
  watch_input_end ();
}

/* The client is gone: its input normally ends by itself (wsserversrc turns
 * the close into EOS after the last byte, flvencodebin drains). An input
 * that never produced any output has no stream for EOS to travel on, and
 * one that stops making progress would hold the broadcast: both are ended
 * here (checked once a second). */
void
Session::watch_input_end ()
{
  if (input_end_timer_ || input_ended_ || !ingest_)
    return;
  input_progress_bytes_ = progress_->bytes_out;
  input_progress_us_ = g_get_monotonic_time ();
  input_end_timer_ = g_timeout_add (250, &Session::on_input_end_check, this);
}

gboolean
Session::on_input_end_check (gpointer data)
{
  auto *self = static_cast<Session *> (data);
  if (self->input_ended_ || !self->broadcast_) {
    self->input_end_timer_ = 0;
    return G_SOURCE_REMOVE;
  }
  /* A waiting broadcast has not started this input yet. */
  if (self->broadcast_->waiting ())
    return G_SOURCE_CONTINUE;
  guint64 out = self->progress_->bytes_out;
  gint64 now = g_get_monotonic_time ();
  if (out != self->input_progress_bytes_) {
    self->input_progress_bytes_ = out;
    self->input_progress_us_ = now;
    return G_SOURCE_CONTINUE;
  }
  /* Everything was read and none of it became FLV: a second for the
   * encoder to say otherwise. */
  bool never = out == 0 && self->progress_->source_ended &&
      now - self->input_progress_us_ >= G_USEC_PER_SEC;
  bool stuck = now - self->input_progress_us_ >=
      self->config_.drain_timeout_s * G_USEC_PER_SEC;
  if (!never && !stuck)
    return G_SOURCE_CONTINUE;
  self->input_end_timer_ = 0;
  self->log_event (G_LOG_LEVEL_INFO, never ? "the input produced nothing: "
      "ending it" : "the input stopped draining: ending it");
  self->broadcast_->end_input (self);
  return G_SOURCE_REMOVE;
}

void
Session::on_client_closed ()
{
  if (!streaming ())
    return;
  int code = soup_websocket_connection_get_close_code (connection_.get ());
  if (code == CLOSE_NORMAL) {
    /* "The show is over": the broadcast ends after this input's data. */
    if (broadcast_)
      broadcast_->end_after (this);
    begin_ending ("client closed the stream");
    return;
  }
  std::string why = code == 0 || code == SOUP_WEBSOCKET_CLOSE_ABNORMAL ?
      "client disconnected without closing" : "client closed with " +
      std::to_string (code);
  if (broadcast_ && broadcast_->continuous ())
    why += "; the broadcast goes on (slate) until it reconnects";
  begin_ending (why.c_str ());
}

void
Session::input_active (bool resumed)
{
  if (!streaming () || on_air_)
    return;
  on_air_ = true;
  if (resumed) {
    send_state ("resumed");
    log_event (G_LOG_LEVEL_MESSAGE, "resumed the broadcast");
  }
  if (broadcast_)
    broadcast_changed (broadcast_->state ());
}

void
Session::broadcast_changed (Broadcast::State state)
{
  if (!streaming () || !broadcast_ || !on_air_)
    return;
  switch (state) {
    case Broadcast::State::Live:
      if (state_ != State::Live) {
        log_event (G_LOG_LEVEL_MESSAGE, "live");
        set_state (State::Live);
      }
      break;
    case Broadcast::State::Reconnecting:
      if (state_ != State::Reconnecting)
        set_state (State::Reconnecting);
      break;
    default:
      break;
  }
}

void
Session::input_ended ()
{
  input_ended_ = true;
  if (streaming ())
    begin_ending ("input ended");
  leave_broadcast ();
}

/* The client is gone and its data delivered: take the ingest bin out of
 * the broadcast, then finish. */
void
Session::leave_broadcast ()
{
  if (leaving_)
    return;
  leaving_ = true;
  if (stats_timer_) {
    update_stats (false);
    g_source_remove (stats_timer_);
    stats_timer_ = 0;
  }
  if (state_ == State::Ending || streaming ()) {
    state_ = State::Ended;
    log_ended ();
    close_websocket (connection_.get (), CLOSE_NORMAL, "stream ended");
  }
  if (!broadcast_) {
    schedule_finish ();
    return;
  }
  Broadcast *broadcast = broadcast_;
  broadcast_ = nullptr;
  broadcast->detach (this, [this] { schedule_finish (); });
}

/* The connection's summary: all it sent is in the broadcast (or the
 * broadcast is over). */
void
Session::log_ended () const
{
  char text[160];
  g_snprintf (text, sizeof text, "ended after %.1f s, %" G_GUINT64_FORMAT
      " bytes in", (g_get_monotonic_time () - started_us_) / 1e6,
      last_bytes_in_);
  log_event (G_LOG_LEVEL_MESSAGE, text);
}

void
Session::broadcast_failed (const Failure &failure)
{
  close_with (failure, "the broadcast failed");
}

void
Session::broadcast_gone ()
{
  broadcast_ = nullptr;
  if (streaming () || state_ == State::Ending) {
    update_stats (false);
    set_state (State::Ended);
    log_ended ();
    close_websocket (connection_.get (), CLOSE_NORMAL, "stream ended");
  }
  leaving_ = true;
  schedule_finish ();
}

void
Session::on_message_signal (SoupWebsocketConnection *, gint type,
    GBytes *message, gpointer data)
{
  auto *self = static_cast<Session *> (data);
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  gsize size;
  auto *text = static_cast<const char *> (g_bytes_get_data (message, &size));
  if (!self->streaming ())
    return;
  g_autofree char *shown = g_strescape (std::string (text,
          std::min<gsize> (size, 60)).c_str (), nullptr);
  self->fail ({ CLOSE_UNSUPPORTED_DATA, "unsupported message: send the "
      "recording as binary messages", "text" }, "text message of " +
      std::to_string (size) + " bytes: \"" + shown + "\"");
}

guint64
Session::source_counter (const char *property) const
{
  guint64 value = 0;
  if (src_)
    g_object_get (src_.get (), property, &value, nullptr);
  return value;
}

/* No media for --idle-timeout seconds (before the first byte or a stall
 * mid-stream): the client is gone or stuck, and holds a slot. Data that
 * never turns into any output (a stream joined mid-way, without its
 * header; a format no demuxer recognises but none rejects either) is not
 * media we can read: 1003 once it has gone on for --idle-timeout seconds
 * (at least 5). */
void
Session::check_idle ()
{
  if (!streaming () || !broadcast_ || broadcast_->waiting ())
    return;
  guint64 bytes_in = source_counter (GST_WS_SERVER_SRC_PROP_BYTES_RECEIVED);
  if (check_unfinished_message (bytes_in))
    return;
  gint64 now = g_get_monotonic_time ();
  if (bytes_in > 0 && first_input_us_ == 0)
    first_input_us_ = now;
  /* Readable: this connection's encoder produced FLV. */
  bool no_output = bytes_in > 0 && progress_->bytes_out == 0;
  if (bytes_in != idle_bytes_in_) {
    idle_bytes_in_ = bytes_in;
    idle_since_us_ = now;
    if (no_output && now - first_input_us_ >= std::max (
            config_.idle_timeout_s, 5) * G_USEC_PER_SEC)
      fail ({ CLOSE_UNSUPPORTED_DATA, "not a media stream we can read",
          "input" }, std::to_string (bytes_in) + " bytes received, none "
          "readable (no container header?)");
    return;
  }
  if (now - idle_since_us_ < config_.idle_timeout_s * G_USEC_PER_SEC)
    return;
  if (no_output) {
    fail ({ CLOSE_UNSUPPORTED_DATA, "not a media stream we can read",
        "input" }, std::to_string (bytes_in) + " bytes received, none "
        "readable (no container header?), then nothing for " +
        std::to_string (config_.idle_timeout_s) + " s");
    return;
  }
  fail ({ CLOSE_POLICY_VIOLATION, "no media received for " +
      std::to_string (config_.idle_timeout_s) + " s", "idle" },
      bytes_in ? "the client stopped sending" : "the client never sent media");
  /* Its input ends now, not when the close handshake does: a client that
   * stopped sending seldom answers our close frame, and libsoup waits 5 s
   * for it, while the browser's next connection (it gave up on this one
   * too) waits in the broadcast for this input's end, its media piling up
   * behind the slate that already covers that time. Nothing of this
   * connection's is left to deliver: it sent nothing for idle-timeout. */
  if (broadcast_)
    broadcast_->end_input (this);
}

/* libsoup 3.2 limits each frame to --max-message-size, not a message sent
 * in fragments: it keeps an unfinished message's fragments without bound,
 * and the element only sees whole messages. What the socket gave, less the
 * whole messages and their frame headers (at most 14 bytes each), is what
 * libsoup holds: over the limit (plus 1 MiB of slack for control frames),
 * close with 1009 as for one oversized frame. Checked once a second. */
bool
Session::check_unfinished_message (guint64 bytes_in)
{
  guint64 read = wsrtmp_fair_io_stream_get_bytes_read (
      soup_websocket_connection_get_io_stream (connection_.get ()));
  guint64 accounted = bytes_in + 14 * source_counter (
      GST_WS_SERVER_SRC_PROP_MESSAGES_RECEIVED);
  if (read <= accounted || read - accounted <=
      config_.max_message_size + 1024 * 1024)
    return false;
  fail ({ CLOSE_TOO_BIG, "message too big: lower the bitrate or the "
      "recorder timeslice", "too_big" }, std::to_string (read - accounted) +
      " bytes of a message still unfinished (sent in fragments), over "
      "--max-message-size");
  return true;
}

void
Session::on_closed_signal (SoupWebsocketConnection *, gpointer self)
{
  static_cast<Session *> (self)->on_client_closed ();
}

void
Session::on_message (GstMessage *message)
{
  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) error = nullptr;
      g_autofree char *debug = nullptr;
      gst_message_parse_error (message, &error, &debug);
      g_autofree char *origin = gst_object_get_path_string (
          GST_MESSAGE_SRC (message));
      /* A connection that closed before sending any media (a reconnect
       * attempt that died, the page's Stop while it was reconnecting) has
       * no stream to read: that is its end, not an error. */
      Failure failure = classify_error (message);
      if (state_ == State::Ending && failure.kind == "input" &&
          failure.code == CLOSE_UNSUPPORTED_DATA &&
          source_counter (GST_WS_SERVER_SRC_PROP_BYTES_RECEIVED) == 0) {
        log_event (G_LOG_LEVEL_INFO, "closed before sending any media");
        if (broadcast_)
          broadcast_->end_input (this);
        break;
      }
      fail (failure, std::string (origin) + ": " +
          error->message + (debug ? std::string (" (") + debug + ")" : ""));
      /* Its streaming thread stopped: the input ends here. */
      if (broadcast_)
        broadcast_->end_input (this);
      break;
    }
    case GST_MESSAGE_WARNING: {
      g_autoptr (GError) error = nullptr;
      gst_message_parse_warning (message, &error, nullptr);
      log_event (G_LOG_LEVEL_INFO, std::string ("warning from ") +
          GST_MESSAGE_SRC_NAME (message) + ": " + error->message);
      break;
    }
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (message, "flvencodebin-output")) {
        const GstStructure *s = gst_message_get_structure (message);
        output_mode_ = gst_structure_get_string (s, "mode");
        log_event (G_LOG_LEVEL_MESSAGE, "video output: " + output_mode_ +
            " (" + gst_structure_get_string (s, "reason") + ")");
      }
      break;
    default:
      break;
  }
}

/* What the client is told on an error, logged with the key masked. */
void
Session::close_with (const Failure &failure, const std::string &detail)
{
  if (state_ == State::Ended || state_ == State::Error)
    return;
  update_stats (false);
  double duration = (g_get_monotonic_time () - started_us_) / 1e6;
  char head[96];
  g_snprintf (head, sizeof head, "error after %.1f s, close %u \"",
      duration, failure.code);
  log_event (G_LOG_LEVEL_WARNING, head + failure.reason + "\": " +
      mask_key_in (detail, key_));
  g_autoptr (JsonNode) node = error_frame (failure.reason, failure.kind);
  send_json (connection_.get (), node);
  set_state (State::Error);
  close_websocket (connection_.get (), failure.code, failure.reason);
}

/* This connection's own failure (its input, its messages): the client is
 * closed with the code; the element turns our close into the end of its
 * input, so what it received is still delivered and the broadcast goes on
 * (slate) or ends, as for any other end of a connection. */
void
Session::fail (const Failure &failure, const std::string &detail)
{
  if (state_ == State::Ended || state_ == State::Error)
    return;
  metrics_.error (failure.kind);
  close_with (failure, detail);
  if (!broadcast_ || !ingest_)
    leave_broadcast ();
  else
    watch_input_end ();
}

void
Session::update_stats (bool send)
{
  guint64 bytes_in = source_counter (GST_WS_SERVER_SRC_PROP_BYTES_RECEIVED);
  guint64 bytes_out = broadcast_ ? broadcast_->bytes_out () : last_bytes_out_;
  metrics_.add_bytes_in (bytes_in - last_bytes_in_);
  if (bytes_out > last_bytes_out_)
    metrics_.add_bytes_out (bytes_out - last_bytes_out_);
  bitrate_kbps_ = static_cast<guint> ((bytes_in - last_bytes_in_) * 8 / 1000);
  last_bytes_in_ = bytes_in;
  last_bytes_out_ = std::max (last_bytes_out_, bytes_out);
  if (!send)
    return;

  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "stats");
  json_builder_set_member_name (builder, "bytes_in");
  json_builder_add_int_value (builder, bytes_in);
  json_builder_set_member_name (builder, "bitrate_kbps");
  json_builder_add_int_value (builder, bitrate_kbps_);
  json_builder_set_member_name (builder, "output");
  json_builder_add_string_value (builder, output_mode_.c_str ());
  json_builder_set_member_name (builder, "bytes_out");
  json_builder_add_int_value (builder, bytes_out);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, state_name (state_));
  /* The broadcast's age: the page's clock runs on across reconnections. */
  json_builder_set_member_name (builder, "duration_s");
  json_builder_add_double_value (builder, broadcast_ ?
      broadcast_->duration_s () : (g_get_monotonic_time () - started_us_) /
      1e6);
  json_builder_end_object (builder);
  g_autoptr (JsonNode) node = json_builder_get_root (builder);
  send_json (connection_.get (), node);
}

gboolean
Session::on_stats_timer (gpointer data)
{
  auto *self = static_cast<Session *> (data);
  self->update_stats (true);
  self->check_idle ();
  /* check_idle may have failed the session, which removed this timer. */
  return self->stats_timer_ ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void
Session::schedule_finish ()
{
  if (stats_timer_) {
    g_source_remove (stats_timer_);
    stats_timer_ = 0;
  }
  if (!finish_idle_)
    finish_idle_ = g_idle_add (&Session::on_finish_idle, this);
}

gboolean
Session::on_finish_idle (gpointer data)
{
  auto *self = static_cast<Session *> (data);
  self->finish_idle_ = 0;
  /* The owner may destroy us from the callback. */
  self->count_finished ();
  self->finished_ (self);
  return G_SOURCE_REMOVE;
}

}  // namespace wsrtmp
