/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "session.h"
#include "fair_input_stream.h"
#include "gstwsserversrc.h"

#include <glib/gstdio.h>

#include <algorithm>
#include <cstring>

namespace wsrtmp {

namespace {

bool
factory_is (GstObject *object, const char *name)
{
  if (!GST_IS_ELEMENT (object))
    return false;
  GstElementFactory *factory = gst_element_get_factory (GST_ELEMENT (object));
  return factory && g_str_equal (GST_OBJECT_NAME (factory), name);
}

bool
klass_contains (GstObject *object, const char *word)
{
  if (!GST_IS_ELEMENT (object))
    return false;
  GstElementFactory *factory = gst_element_get_factory (GST_ELEMENT (object));
  const char *klass = factory ? gst_element_factory_get_metadata (factory,
      GST_ELEMENT_METADATA_KLASS) : nullptr;
  return klass && strstr (klass, word);
}

bool
contains_any (const std::string &text, std::initializer_list<const char *> words)
{
  g_autofree char *lower = g_ascii_strdown (text.c_str (), -1);
  for (const char *word : words) {
    if (strstr (lower, word))
      return true;
  }
  return false;
}

/* {"type":"error","message":…,"kind":…}: the page decides on kind (the
 * word /metrics counts, README's table), the message is for people. */
JsonNode *
error_frame (const std::string &message, const std::string &kind)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "error");
  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, kind.c_str ());
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message.c_str ());
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

std::string
utc_timestamp ()
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *text = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  return text;
}

/* <dir>/<key>-<UTC timestamp>.flv, never overwriting an earlier one. */
std::string
recording_path (const std::string &dir, const std::string &key)
{
  std::string base = dir + "/" + key + "-" + utc_timestamp ();
  std::string path = base + ".flv";
  for (int n = 1; g_file_test (path.c_str (), G_FILE_TEST_EXISTS); n++)
    path = base + "-" + std::to_string (n) + ".flv";
  return path;
}

std::string
describe_destination (const Destination &dest, const std::string &key)
{
  /* The key is the last path element of both kinds of location. */
  std::string text = dest.masked ();
  auto at = text.rfind (key);
  if (!key.empty () && at != std::string::npos)
    text.replace (at, key.size (), mask_key (key));
  return text;
}

}  // namespace

SessionFailure
classify_error (GstMessage *message)
{
  g_autoptr (GError) error = nullptr;
  g_autofree char *debug = nullptr;
  gst_message_parse_error (message, &error, &debug);
  const GstStructure *details = nullptr;
  gst_message_parse_error_details (message, &details);
  GstObject *origin = GST_MESSAGE_SRC (message);

  int close_code = 0;
  if (details && gst_structure_get_int (details,
          GST_WS_SERVER_SRC_ERROR_CLOSE_CODE, &close_code)) {
    if (close_code == CLOSE_TOO_BIG)
      return { CLOSE_TOO_BIG, "message too big: lower the bitrate or the "
          "recorder timeslice", "too_big" };
    if (close_code == CLOSE_SERVER_ERROR)
      return { CLOSE_SERVER_ERROR, "server too slow to keep up with the "
          "stream", "too_slow" };
    return { static_cast<gushort> (close_code), "stream closed", "input" };
  }

  if (factory_is (origin, "rtmp2sink")) {
    /* rtmp2sink reports both failures as RESOURCE errors; only the text
     * tells a socket that never opened from a server that said no. */
    std::string text = error->message;
    if (contains_any (text, { "connection refused", "could not connect",
                "resolv", "timed out", "timeout", "unreachable", "no route",
                "not known", "name or service" }))
      return { CLOSE_SERVER_ERROR, "cannot connect to the RTMP server",
          "rtmp_connect" };
    if (contains_any (text, { "cmd failed", "rejected", "refused",
                "badname", "publish", "denied", "auth" }))
      return { CLOSE_SERVER_ERROR, "refused by the RTMP server",
          "rtmp_refused" };
    return { CLOSE_SERVER_ERROR, "lost the connection to the RTMP server",
        "rtmp" };
  }
  if (factory_is (origin, "filesink"))
    return { CLOSE_SERVER_ERROR, "cannot write the recording", "recording" };

  if (error->domain == GST_STREAM_ERROR) {
    switch (error->code) {
      case GST_STREAM_ERROR_CODEC_NOT_FOUND:
        return { CLOSE_UNSUPPORTED_DATA, "unsupported codec", "codec" };
      case GST_STREAM_ERROR_ENCODE:
        return { CLOSE_SERVER_ERROR, "encoder error", "encoder" };
      case GST_STREAM_ERROR_TYPE_NOT_FOUND:
      case GST_STREAM_ERROR_WRONG_TYPE:
      case GST_STREAM_ERROR_DEMUX:
      case GST_STREAM_ERROR_DECODE:
      case GST_STREAM_ERROR_FORMAT:
        if (!klass_contains (origin, "Encoder"))
          return { CLOSE_UNSUPPORTED_DATA, "not a media stream we can read",
              "input" };
        break;
      default:
        break;
    }
  }
  if (klass_contains (origin, "Encoder"))
    return { CLOSE_SERVER_ERROR, "encoder error", "encoder" };
  if (klass_contains (origin, "Decoder") || klass_contains (origin, "Demux"))
    return { CLOSE_UNSUPPORTED_DATA, "not a media stream we can read",
        "input" };
  return { CLOSE_SERVER_ERROR, "internal pipeline error", "pipeline" };
}

void
refuse_websocket (SoupWebsocketConnection *conn, gushort code,
    const std::string &reason, const std::string &kind)
{
  g_autoptr (JsonNode) node = error_frame (reason, kind);
  g_autofree char *text = json_to_string (node, FALSE);
  websocket_refuse (conn, code, reason.c_str (), text);
}

void
close_websocket (SoupWebsocketConnection *conn, gushort code,
    const std::string &reason)
{
  websocket_close (conn, code, reason.c_str ());
}

void
send_json (SoupWebsocketConnection *conn, JsonNode *node)
{
  if (soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_autofree char *text = json_to_string (node, FALSE);
  soup_websocket_connection_send_text (conn, text);
}

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
  for (guint *source : { &stats_timer_, &drain_timer_, &finish_idle_ }) {
    if (*source)
      g_source_remove (*source);
  }
  /* Pipeline down before the connection it reads from is released. */
  destination_set_.reset ();
  media_.reset ();
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
  std::string session = std::to_string (id_);
  std::string masked = mask_key (key_);
  g_log_structured (G_LOG_DOMAIN, level,
      "SESSION", session.c_str (),
      "STREAM_KEY", masked.c_str (),
      "MESSAGE", "session %s [%s] from %s: %s", session.c_str (),
      masked.c_str (), peer_.c_str (), text.c_str ());
}

void
Session::start (bool wait_for_previous)
{
  bool record = false;
  destinations_ = config_.destinations_for (key_, record);
  if (record) {
    if (g_mkdir_with_parents (config_.record_dir.c_str (), 0755) != 0) {
      fail ({ CLOSE_SERVER_ERROR, "cannot write the recording", "recording" },
          "cannot create " + config_.record_dir + ": " + g_strerror (errno));
      return;
    }
    destinations_.push_back (recording_destination (
        recording_path (config_.record_dir, key_)));
  }

  MediaSpec spec;
  spec.connection = connection_.get ();
  spec.max_message_size = config_.max_message_size;
  spec.destinations = destinations_;
  g_autoptr (GError) error = nullptr;
  std::string name = "session" + std::to_string (id_);
  media_ = factory_.create (spec, name, &error);
  if (!media_) {
    fail ({ CLOSE_SERVER_ERROR, "internal pipeline error", "pipeline" },
        std::string ("cannot build the pipeline: ") +
        (error ? error->message : "unknown error"));
    return;
  }
  DestinationPolicy policy;
  policy.retry_time_s = config_.rtmp_retry_time_s;
  policy.retry_first_connect = destinations_.size () > 1;
  policy.max_waiting_bytes = config_.destination_buffer_bytes;
  DestinationHooks hooks;
  hooks.log = [this] (GLogLevelFlags level, const std::string &text) {
    log_event (level, text);
  };
  hooks.changed = [this] { on_destinations_changed (); };
  destination_set_ = std::make_unique<DestinationSet> (*media_, policy,
      metrics_, std::move (hooks), [this] { on_all_destinations_failed (); });
  destination_set_->set_frame_sink ([this] (JsonNode *frame) {
    send_json (connection_.get (), frame);
  });
  media_->set_bus_handler ([this] (GstMessage *message) {
    on_bus_message (message);
  });
  closed_handler_ = g_signal_connect (connection_.get (), "closed",
      G_CALLBACK (&Session::on_closed_signal), this);
  /* No control messages are defined: a text frame closes with 1003.
   * wsserversrc enforces the message size limit and sends 1009 itself. */
  message_handler_ = g_signal_connect (connection_.get (), "message",
      G_CALLBACK (&Session::on_message_signal), this);

  std::string where;
  for (const auto &dest : destinations_)
    where += (where.empty () ? "" : ", ") + dest.name + " (" +
        describe_destination (dest, key_) + ")";
  log_event (G_LOG_LEVEL_MESSAGE, "connected, streaming to " + where);
  set_state (State::Connecting);
  idle_since_us_ = g_get_monotonic_time ();
  stats_timer_ = g_timeout_add_seconds (1, &Session::on_stats_timer, this);

  waiting_ = wait_for_previous;
  if (waiting_)
    log_event (G_LOG_LEVEL_MESSAGE, "waiting for the previous session with "
        "this key to finish");
  else if (!media_->play ()) {
    /* The reason is on the bus; the watch delivers it next. */
    log_event (G_LOG_LEVEL_INFO, "pipeline refused to start");
  }
  /* The client may have gone while we were setting up. */
  if (soup_websocket_connection_get_state (connection_.get ()) ==
      SOUP_WEBSOCKET_STATE_CLOSED)
    on_client_closed ();
}

void
Session::release ()
{
  if (!waiting_)
    return;
  waiting_ = false;
  /* A client that already closed still has its data delivered. */
  if (state_ == State::Ended || state_ == State::Error)
    return;
  log_event (G_LOG_LEVEL_MESSAGE, "previous session finished: starting");
  idle_since_us_ = g_get_monotonic_time ();
  if (!media_->play ())
    log_event (G_LOG_LEVEL_INFO, "pipeline refused to start");
}

void
Session::replace ()
{
  const char *reason = "replaced by a newer connection with the same key";
  /* Never started: nothing to deliver. */
  if (waiting_ && streaming ()) {
    fail ({ CLOSE_POLICY_VIOLATION, reason, "replaced" }, "never started");
    return;
  }
  if (!streaming ())
    return;
  begin_ending (reason);
  g_autoptr (JsonNode) node = error_frame (reason, "replaced");
  send_json (connection_.get (), node);
  close_websocket (connection_.get (), CLOSE_POLICY_VIOLATION, reason);
}

void
Session::shutdown ()
{
  if (waiting_ && streaming ()) {
    fail ({ CLOSE_GOING_AWAY, "server shutting down", "shutdown" },
        "never started");
    return;
  }
  if (!streaming ())
    return;
  begin_ending ("server shutting down");
  /* The element turns the closing handshake into EOS after the last byte
   * received, so the stream drains like a normal end. */
  close_websocket (connection_.get (), CLOSE_GOING_AWAY,
      "server shutting down");
}

void
Session::set_state (State state)
{
  state_ = state;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "state");
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, state_name (state));
  json_builder_end_object (builder);
  g_autoptr (JsonNode) node = json_builder_get_root (builder);
  send_json (connection_.get (), node);
}

void
Session::begin_ending (const char *why)
{
  set_state (State::Ending);
  log_event (G_LOG_LEVEL_INFO, std::string ("ending: ") + why);
  drain_bytes_out_ = (media_ ? media_->bytes_delivered () : 0) +
      (destination_set_ ? destination_set_->bytes_handed () : 0);
  if (!drain_timer_)
    drain_timer_ = g_timeout_add_seconds (config_.drain_timeout_s,
        &Session::on_drain_timeout, this);
}

void
Session::on_client_closed ()
{
  if (!streaming ())
    return;
  int code = soup_websocket_connection_get_close_code (connection_.get ());
  begin_ending (code == 0 || code == SOUP_WEBSOCKET_CLOSE_ABNORMAL ?
      "client disconnected without closing" : "client closed the stream");
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

/* No media for --idle-timeout seconds (before the first byte or a stall
 * mid-stream): the client is gone or stuck, and holds a slot. Data that
 * never turns into any output (a stream joined mid-way, without its
 * header; a format no demuxer recognises but none rejects either) is not
 * media we can read: 1003 once it has gone on for --idle-timeout seconds
 * (at least 5). */
void
Session::check_idle ()
{
  if (!media_ || !streaming () || waiting_)
    return;
  guint64 bytes_in = media_->bytes_in ();
  if (check_unfinished_message (bytes_in))
    return;
  gint64 now = g_get_monotonic_time ();
  if (bytes_in > 0 && first_input_us_ == 0)
    first_input_us_ = now;
  bool no_output = bytes_in > 0 && media_->bytes_out () == 0;
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
  guint64 accounted = bytes_in + 14 * media_->messages_in ();
  if (read <= accounted || read - accounted <=
      config_.max_message_size + 1024 * 1024)
    return false;
  fail ({ CLOSE_TOO_BIG, "message too big: lower the bitrate or the "
      "recorder timeslice", "too_big" }, std::to_string (read - accounted) +
      " bytes of a message still unfinished (sent in fragments), over "
      "--max-message-size");
  return true;
}

/* A destination changed state: the stream as a whole is live while one
 * destination is, reconnecting while none is and one is being retried. */
void
Session::on_destinations_changed ()
{
  if (!destination_set_)
    return;
  bool live = destination_set_->any_live ();
  bool reconnecting = destination_set_->any_reconnecting ();
  if (state_ == State::Reconnecting && live)
    set_state (State::Live);
  else if ((state_ == State::Live || state_ == State::Connecting) && !live &&
      reconnecting)
    set_state (State::Reconnecting);
}

/* Every destination failed for good: only now does the stream fail. */
void
Session::on_all_destinations_failed ()
{
  const DestinationLink *link = destination_set_->last_failed ();
  if (!link || link->gave_up () || !link->last_error ()) {
    fail ({ CLOSE_SERVER_ERROR, "lost the connection to the RTMP server",
        "rtmp" }, link ? link->name () + ": " + link->detail () :
        "no destination left");
    return;
  }
  fail (classify_error (link->last_error ()), link->name () + ": " +
      link->detail ());
}

void
Session::on_closed_signal (SoupWebsocketConnection *, gpointer self)
{
  static_cast<Session *> (self)->on_client_closed ();
}

void
Session::on_bus_message (GstMessage *message)
{
  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) error = nullptr;
      g_autofree char *debug = nullptr;
      gst_message_parse_error (message, &error, &debug);
      /* A destination's own trouble is its own (destination_link.h). */
      if (destination_set_ && destination_set_->handle_message (message))
        break;
      g_autofree char *origin = gst_object_get_path_string (
          GST_MESSAGE_SRC (message));
      fail (classify_error (message), std::string (origin) + ": " +
          error->message + (debug ? std::string (" (") + debug + ")" : ""));
      break;
    }
    case GST_MESSAGE_WARNING: {
      if (destination_set_ && destination_set_->handle_message (message))
        break;
      g_autoptr (GError) error = nullptr;
      gst_message_parse_warning (message, &error, nullptr);
      log_event (G_LOG_LEVEL_INFO, std::string ("warning from ") +
          GST_MESSAGE_SRC_NAME (message) + ": " + error->message);
      break;
    }
    case GST_MESSAGE_EOS:
      end_normally ();
      break;
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (message, "flvencodebin-output")) {
        const GstStructure *s = gst_message_get_structure (message);
        output_mode_ = gst_structure_get_string (s, "mode");
        log_event (G_LOG_LEVEL_MESSAGE, "video output: " + output_mode_ +
            " (" + gst_structure_get_string (s, "reason") + ")");
      }
      break;
    case GST_MESSAGE_APPLICATION:
      if (gst_message_has_name (message, MEDIA_LIVE_MESSAGE) &&
          state_ == State::Connecting) {
        set_state (State::Live);
        log_event (G_LOG_LEVEL_MESSAGE, "live");
      }
      break;
    default:
      break;
  }
}

void
Session::end_normally ()
{
  if (state_ == State::Ended || state_ == State::Error)
    return;
  update_stats (false);
  double duration = (g_get_monotonic_time () - started_us_) / 1e6;
  char text[160];
  g_snprintf (text, sizeof text, "ended after %.1f s, %" G_GUINT64_FORMAT
      " bytes in, %" G_GUINT64_FORMAT " bytes out", duration, last_bytes_in_,
      last_bytes_out_);
  log_event (G_LOG_LEVEL_MESSAGE, text);
  set_state (State::Ended);
  close_websocket (connection_.get (), CLOSE_NORMAL, "stream ended");
  schedule_finish ();
}

void
Session::fail (const SessionFailure &failure, const std::string &detail)
{
  if (state_ == State::Ended || state_ == State::Error)
    return;
  if (media_)
    update_stats (false);
  if (destination_set_)
    destination_set_->stop ();
  metrics_.error (failure.kind);
  std::string detail_masked = detail;
  for (auto at = detail_masked.find (key_); !key_.empty () &&
      at != std::string::npos; at = detail_masked.find (key_, at))
    detail_masked.replace (at, key_.size (), mask_key (key_));
  double duration = (g_get_monotonic_time () - started_us_) / 1e6;
  char head[96];
  g_snprintf (head, sizeof head, "error after %.1f s, close %u \"",
      duration, failure.code);
  log_event (G_LOG_LEVEL_WARNING, head + failure.reason + "\": " +
      detail_masked);

  g_autoptr (JsonNode) node = error_frame (failure.reason, failure.kind);
  send_json (connection_.get (), node);
  set_state (State::Error);
  close_websocket (connection_.get (), failure.code, failure.reason);
  schedule_finish ();
}

void
Session::update_stats (bool send)
{
  guint64 bytes_in = media_->bytes_in ();
  guint64 bytes_out = media_->bytes_out ();
  metrics_.add_bytes_in (bytes_in - last_bytes_in_);
  metrics_.add_bytes_out (bytes_out - last_bytes_out_);
  bitrate_kbps_ = static_cast<guint> ((bytes_in - last_bytes_in_) * 8 / 1000);
  last_bytes_in_ = bytes_in;
  last_bytes_out_ = bytes_out;
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
  json_builder_set_member_name (builder, "duration_s");
  json_builder_add_double_value (builder,
      (g_get_monotonic_time () - started_us_) / 1e6);
  json_builder_end_object (builder);
  g_autoptr (JsonNode) node = json_builder_get_root (builder);
  send_json (connection_.get (), node);
}

gboolean
Session::on_stats_timer (gpointer data)
{
  auto *self = static_cast<Session *> (data);
  self->update_stats (true);
  if (self->destination_set_)
    self->destination_set_->tick ();
  self->check_idle ();
  /* check_idle may have failed the session, which removed this timer. */
  return self->stats_timer_ ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

gboolean
Session::on_drain_timeout (gpointer data)
{
  auto *self = static_cast<Session *> (data);
  /* A long backlog (a fast client, a busy machine) may take a while to
   * encode: only a drain that stopped making progress is a failure. */
  guint64 bytes_out = self->media_ ? self->media_->bytes_delivered () : 0;
  /* A slow destination still taking what it was given progresses too. */
  if (self->destination_set_)
    bytes_out += self->destination_set_->bytes_handed ();
  /* Waiting for the RTMP server to come back is bounded by its own
   * retry time. */
  if (bytes_out > self->drain_bytes_out_ || (self->destination_set_ &&
          self->destination_set_->any_reconnecting ())) {
    self->drain_bytes_out_ = bytes_out;
    return G_SOURCE_CONTINUE;
  }
  /* One stuck destination must not hold the others' end: it fails, and
   * the stream gets one more period to end normally. */
  if (self->destination_set_ && self->destination_set_->links ().size () > 1 &&
      !self->drain_gave_up_ && self->destination_set_->give_up_unfinished ()) {
    self->drain_gave_up_ = true;
    return self->drain_timer_ ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
  }
  self->drain_timer_ = 0;
  self->fail ({ CLOSE_SERVER_ERROR, "the stream did not finish in time",
      "drain_timeout" }, "no output and no EOS for " +
      std::to_string (self->config_.drain_timeout_s) + " s");
  return G_SOURCE_REMOVE;
}

void
Session::schedule_finish ()
{
  if (stats_timer_) {
    g_source_remove (stats_timer_);
    stats_timer_ = 0;
  }
  if (drain_timer_) {
    g_source_remove (drain_timer_);
    drain_timer_ = 0;
  }
  if (destination_set_)
    destination_set_->stop ();
  if (!finish_deadline_us_)
    finish_deadline_us_ = g_get_monotonic_time () + FINISH_WAIT_US;
  if (!finish_idle_)
    finish_idle_ = g_idle_add (&Session::on_finish_idle, this);
}

gboolean
Session::on_finish_idle (gpointer data)
{
  auto *self = static_cast<Session *> (data);
  self->finish_idle_ = 0;
  /* rtmp2sink stopped in the middle of its connect leaks the socket and
   * its main context (GStreamer 1.22): a client that fails at once, over
   * and over, would run the server out of fds. Let the connect end first
   * (published or failed, within rtmp2sink's own timeout). */
  if (self->media_ && self->media_->rtmp_connecting () &&
      g_get_monotonic_time () < self->finish_deadline_us_) {
    self->finish_idle_ = g_timeout_add (20, &Session::on_finish_idle, self);
    return G_SOURCE_REMOVE;
  }
  if (!self->media_) {
    self->count_finished ();
    self->finished_ (self);
    return G_SOURCE_REMOVE;
  }
  /* Off the main loop every client shares; finished only once the
   * pipeline is down (a newer session for this key publishes then). The
   * owner may destroy us from the callback. */
  self->media_->stop_async ([self] {
    self->count_finished ();
    self->finished_ (self);
  });
  return G_SOURCE_REMOVE;
}

}  // namespace wsrtmp
