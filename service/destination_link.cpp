/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "destination_link.h"
#include "failure.h"

#include <algorithm>

namespace wsrtmp {

namespace {

/* text with the destination's secrets masked. */
std::string
without_secrets (const Destination &dest, std::string text)
{
  for (const std::string *secret : { &dest.secret_query, &dest.secret,
           &dest.srt_streamid, &dest.srt_passphrase }) {
    /* A secret of a few characters is no secret, and masking it would
     * garble every word holding those letters. */
    if (secret->size () < 4)
      continue;
    std::string masked = secret == &dest.srt_passphrase ? "***" :
        secret == &dest.secret_query ? "?***" : mask_key (*secret);
    for (auto at = text.find (*secret); at != std::string::npos;
         at = text.find (*secret, at + masked.size ()))
      text.replace (at, secret->size (), masked);
  }
  return text;
}

const char *
protocol_word (const Destination &dest)
{
  return dest.kind == Destination::Kind::Srt ? "SRT" : "RTMP";
}

}  // namespace

const char *
DestinationLink::state_name (State state)
{
  switch (state) {
    case State::Connecting: return "connecting";
    case State::Live: return "live";
    case State::Reconnecting: return "reconnecting";
    case State::Stalled: return "stalled";
    case State::Failed: return "failed";
    case State::Stopped: return "stopped";
  }
  return "?";
}

DestinationLink::DestinationLink (DestinationOutput &output,
    const DestinationPolicy &policy, Metrics &metrics, DestinationHooks &hooks)
    : output_ (output), policy_ (policy), metrics_ (metrics), hooks_ (hooks),
      state_since_us_ (g_get_monotonic_time ())
{
  last_tick_us_ = accepted_since_us_ = state_since_us_;
  metrics_.destination_state (name (), nullptr, state_name (state_));
}

DestinationLink::~DestinationLink ()
{
  stop_timers ();
  metrics_.destination_state (name (), state_name (state_), nullptr);
  if (last_error_)
    gst_message_unref (last_error_);
}

void
DestinationLink::log (GLogLevelFlags level, const std::string &text) const
{
  if (hooks_.log)
    hooks_.log (level, name () + ": " + without_secrets (
            output_.destination (), text));
}

void
DestinationLink::set_state (State state)
{
  if (state == state_)
    return;
  metrics_.destination_state (name (), state_name (state_),
      state_name (state));
  state_ = state;
  state_since_us_ = g_get_monotonic_time ();
  if (state == State::Live)
    error_.clear ();
  if (hooks_.changed)
    hooks_.changed ();
}

void
DestinationLink::on_error (GstMessage *message)
{
  output_.mark_failed ();
  if (state_ == State::Failed || state_ == State::Stopped)
    return;
  g_autoptr (GError) error = nullptr;
  g_autofree char *debug = nullptr;
  gst_message_parse_error (message, &error, &debug);
  if (last_error_)
    gst_message_unref (last_error_);
  last_error_ = gst_message_ref (message);
  const Destination &dest = output_.destination ();
  std::string words = describe_sink_error (dest, error);
  g_autofree char *origin = gst_object_get_path_string (
      GST_MESSAGE_SRC (message));
  std::string detail = std::string (origin) + ": " + error->message +
      (debug ? std::string (" (") + debug + ")" : "");
  bool network = dest.kind != Destination::Kind::File;
  if (network && policy_.retry_time_s > 0 && (reconnecting_ ||
          output_.ever_delivered () || (policy_.retry_first_connect &&
              !sink_error_is_permanent (error)))) {
    lost (words, detail);
    return;
  }
  fail_for_good (words, detail);
}

void
DestinationLink::on_keyframe_wanted ()
{
  /* A destination that failed for good sends nothing more: its gate
   * still waits, but no keyframe is worth asking for. */
  if (state_ == State::Failed || state_ == State::Stopped)
    return;
  log (G_LOG_LEVEL_DEBUG, "waiting for a video keyframe");
  if (hooks_.keyframe_wanted)
    hooks_.keyframe_wanted ();
}

void
DestinationLink::fail_for_good (const std::string &words,
    const std::string &detail)
{
  stop_timers ();
  reconnecting_ = false;
  error_ = words;
  detail_ = without_secrets (output_.destination (), detail);
  kbps_ = 0;
  log (G_LOG_LEVEL_WARNING, "failed: " + words + " (" + detail + ")");
  /* Its sink goes; the gate keeps nothing more than its bound meanwhile
   * and the tee goes on for the others. */
  output_.detach ();
  set_state (State::Failed);
}

/* A connection dropped, a new attempt failed or the destination cannot
 * keep up: keep the stream running and this destination's data (from a
 * keyframe on, bounded), and try again with backoff until
 * --rtmp-retry-time has passed since the loss. */
void
DestinationLink::lost (const std::string &words, const std::string &detail)
{
  stop_timers ();
  error_ = words;
  kbps_ = 0;
  if (!reconnecting_) {
    reconnecting_ = true;
    reconnect_since_us_ = g_get_monotonic_time ();
    reconnect_backoff_ms_ = 500;
    reconnect_attempts_ = 0;
    reconnects_++;
    metrics_.error (RTMP_LOST_KIND);
    metrics_.destination_reconnect (name ());
    log (G_LOG_LEVEL_WARNING, std::string ("lost the ") +
        protocol_word (output_.destination ()) + " connection (" + detail +
        "); reconnecting for up to " + std::to_string (policy_.retry_time_s) +
        " s, keeping the data");
  } else {
    log (G_LOG_LEVEL_INFO, "reconnection attempt " +
        std::to_string (reconnect_attempts_) + " failed: " + detail);
    reconnect_backoff_ms_ = std::min<guint> (reconnect_backoff_ms_ * 2, 5000);
  }
  output_.detach ();
  set_state (State::Reconnecting);
  schedule_reconnect ();
}

void
DestinationLink::schedule_reconnect ()
{
  gint64 elapsed_ms = (g_get_monotonic_time () - reconnect_since_us_) / 1000;
  gint64 left_ms = policy_.retry_time_s * 1000LL - elapsed_ms;
  if (left_ms <= 0) {
    gave_up_ = true;
    fail_for_good (error_.empty () ? "lost the connection to " + name () :
        error_, "no connection for " + std::to_string (policy_.retry_time_s) +
        " s (" + std::to_string (reconnect_attempts_) + " attempts)");
    return;
  }
  reconnect_timer_ = g_timeout_add (std::min<gint64> (reconnect_backoff_ms_,
          left_ms), &DestinationLink::on_reconnect_timer, this);
}

void
DestinationLink::stop_timers ()
{
  for (guint *source : { &reconnect_timer_, &reconnect_poll_ }) {
    if (*source) {
      g_source_remove (*source);
      *source = 0;
    }
  }
}

void
DestinationLink::stop ()
{
  stop_timers ();
  reconnecting_ = false;
}

bool
DestinationLink::operator_stop ()
{
  if (state_ == State::Failed || state_ == State::Stopped)
    return false;
  stop_timers ();
  reconnecting_ = false;
  error_.clear ();
  kbps_ = 0;
  log (G_LOG_LEVEL_MESSAGE, "stopped by the operator");
  output_.detach ();
  output_.drop_kept ();
  set_state (State::Stopped);
  return true;
}

bool
DestinationLink::operator_start ()
{
  if (state_ != State::Stopped && state_ != State::Failed)
    return false;
  log (G_LOG_LEVEL_MESSAGE, "started again by the operator");
  gave_up_ = false;
  /* What came while it was off is not sent: it starts live, at the next
   * keyframe. */
  output_.drop_kept ();
  reconnecting_ = true;
  reconnect_since_us_ = g_get_monotonic_time ();
  reconnect_backoff_ms_ = 500;
  reconnect_attempts_ = 0;
  error_.clear ();
  set_state (State::Connecting);
  reconnect_timer_ = g_idle_add (&DestinationLink::on_reconnect_timer, this);
  if (hooks_.keyframe_wanted)
    hooks_.keyframe_wanted ();
  return true;
}

bool
DestinationLink::give_up_if_unfinished ()
{
  if (state_ == State::Failed || state_ == State::Stopped ||
      output_.finished ())
    return false;
  fail_for_good (name () + " did not take the end of the stream in time",
      "the stream ended; still " + std::to_string (output_.waiting_bytes ()) +
      " bytes waiting");
  return true;
}

gboolean
DestinationLink::on_reconnect_timer (gpointer data)
{
  auto *self = static_cast<DestinationLink *> (data);
  self->reconnect_timer_ = 0;
  self->reconnect_attempts_++;
  g_autoptr (GError) error = nullptr;
  /* Held back until published: a failed attempt then loses nothing. */
  if (!self->output_.attach (false, &error)) {
    self->lost (self->error_, error ? error->message :
        "cannot build the sink");
    return G_SOURCE_REMOVE;
  }
  /* A connection that neither publishes nor fails (a black-holed server)
   * counts as failed after 5 s. */
  self->reconnect_poll_until_us_ = std::min (g_get_monotonic_time () +
      5 * G_USEC_PER_SEC, self->reconnect_since_us_ +
      self->policy_.retry_time_s * G_USEC_PER_SEC);
  self->reconnect_poll_ = g_timeout_add (100,
      &DestinationLink::on_reconnect_poll, self);
  return G_SOURCE_REMOVE;
}

gboolean
DestinationLink::on_reconnect_poll (gpointer data)
{
  auto *self = static_cast<DestinationLink *> (data);
  DestinationOutput &output = self->output_;
  if (output.published ()) {
    self->reconnect_poll_ = 0;
    self->reconnecting_ = false;
    char text[200];
    g_snprintf (text, sizeof text, "%s reconnected after %.1f s (attempt "
        "%u), sending %" G_GSIZE_FORMAT " kept bytes first",
        protocol_word (output.destination ()),
        (g_get_monotonic_time () - self->reconnect_since_us_) / 1e6,
        self->reconnect_attempts_, output.backlog_bytes ());
    self->log (G_LOG_LEVEL_MESSAGE, text);
    output.open ();
    self->last_accepted_ = output.accepted_bytes ();
    self->accepted_since_us_ = g_get_monotonic_time ();
    self->set_state (State::Live);
    return G_SOURCE_REMOVE;
  }
  if (g_get_monotonic_time () < self->reconnect_poll_until_us_)
    return G_SOURCE_CONTINUE;
  self->reconnect_poll_ = 0;
  self->lost (self->error_.empty () ? "cannot reach " + self->name () :
      self->error_, "no connection in time");
  return G_SOURCE_REMOVE;
}

void
DestinationLink::tick ()
{
  gint64 now = g_get_monotonic_time ();
  if (state_ == State::Stopped)
    output_.drop_kept ();       /* nothing piles up for it while off */
  if (state_ == State::Failed || state_ == State::Stopped || reconnecting_) {
    last_tick_us_ = now;
    return;
  }
  guint64 accepted = output_.accepted_bytes ();
  gint64 elapsed = std::max<gint64> (now - last_tick_us_, 1);
  guint64 delta = accepted > last_accepted_ ? accepted - last_accepted_ : 0;
  kbps_ = static_cast<guint> (delta * 8 * 1000 / elapsed);
  metrics_.add_destination_bytes (name (), delta);
  last_accepted_ = accepted;
  last_tick_us_ = now;
  if (delta > 0)
    accepted_since_us_ = now;

  /* Its buffer bound: a destination that cannot keep up (a slow or
   * black-holed server) must not hold the others' data or the memory. */
  guint64 waiting = output_.waiting_bytes ();
  if (policy_.max_waiting_bytes > 0 && waiting > policy_.max_waiting_bytes) {
    char text[240];
    g_snprintf (text, sizeof text, "cannot keep up: %" G_GUINT64_FORMAT
        " bytes waiting, over its bound of %" G_GUINT64_FORMAT "; dropping "
        "them and reconnecting from the next keyframe", waiting,
        policy_.max_waiting_bytes);
    log (G_LOG_LEVEL_WARNING, text);
    if (policy_.retry_time_s > 0) {
      lost (name () + " cannot keep up with the stream", "buffer full");
      output_.drop_kept ();
    } else {
      fail_for_good (name () + " cannot keep up with the stream",
          "buffer full");
    }
    return;
  }

  if (state_ == State::Connecting) {
    if (output_.published ()) {
      accepted_since_us_ = now;
      set_state (State::Live);
    } else if (output_.destination ().kind != Destination::Kind::File &&
        policy_.retry_first_connect && policy_.retry_time_s > 0 &&
        now - state_since_us_ > policy_.connect_timeout_s * G_USEC_PER_SEC) {
      lost ("cannot reach " + name () + " (no answer)", "no connection in " +
          std::to_string (policy_.connect_timeout_s) + " s");
    }
    return;
  }
  /* "live" only while bytes are accepted. */
  bool stalled = now - accepted_since_us_ >= policy_.stall_s * G_USEC_PER_SEC;
  if (stalled && state_ == State::Live) {
    log (G_LOG_LEVEL_WARNING, "stalled: nothing accepted for " +
        std::to_string (policy_.stall_s) + " s");
    set_state (State::Stalled);
  } else if (!stalled && state_ == State::Stalled) {
    log (G_LOG_LEVEL_MESSAGE, "accepting data again");
    set_state (State::Live);
  }
}

DestinationSet::DestinationSet (Media &media, const DestinationPolicy &policy,
    Metrics &metrics, DestinationHooks hooks, AllFailed all_failed)
    : media_ (media), hooks_ (std::move (hooks)),
      all_failed_ (std::move (all_failed))
{
  link_hooks_.log = hooks_.log;
  link_hooks_.changed = [this] { changed (); };
  link_hooks_.keyframe_wanted = hooks_.keyframe_wanted;
  for (size_t i = 0; i < media.output_count (); i++)
    links_.push_back (std::make_unique<DestinationLink> (
            media.output (i), policy, metrics, link_hooks_));
}

DestinationSet::~DestinationSet ()
{
  stop ();
}

bool
DestinationSet::handle_message (GstMessage *message)
{
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_APPLICATION) {
    if (!gst_message_has_name (message, OUTPUT_KEYFRAME_MESSAGE))
      return false;
    /* From a streaming thread (the gate's probe), here on the main one. */
    for (size_t i = 0; i < media_.output_count (); i++) {
      if (media_.output (i).is_gate_pad (GST_MESSAGE_SRC (message))) {
        links_[i]->on_keyframe_wanted ();
        break;
      }
    }
    return true;
  }
  bool stale = false;
  int output = media_.output_of (GST_MESSAGE_SRC (message), &stale);
  if (output < 0)
    return false;
  if (stale)
    return true;        /* from a sink already replaced */
  DestinationLink &link = *links_[output];
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    link.on_error (message);
  } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_WARNING) {
    g_autoptr (GError) error = nullptr;
    gst_message_parse_warning (message, &error, nullptr);
    if (hooks_.log)
      hooks_.log (G_LOG_LEVEL_INFO, link.name () + ": warning from " +
          GST_MESSAGE_SRC_NAME (message) + ": " + describe_sink_error (
              media_.output (output).destination (), error));
  }
  return true;
}

void
DestinationSet::tick ()
{
  for (auto &link : links_)
    link->tick ();
  if (frame_sink_ && !links_.empty ()) {
    g_autoptr (JsonNode) node = status_frame ();
    frame_sink_ (node);
  }
}

void
DestinationSet::stop ()
{
  for (auto &link : links_)
    link->stop ();
}

void
DestinationSet::changed ()
{
  for (const auto &link : links_) {
    if (link->state () == DestinationLink::State::Failed &&
        (!last_failed_ || last_failed_->state () !=
            DestinationLink::State::Failed))
      last_failed_ = link.get ();
  }
  if (hooks_.changed)
    hooks_.changed ();
  if (frame_sink_) {
    g_autoptr (JsonNode) node = status_frame ();
    frame_sink_ (node);
  }
  if (all_failed () && !reported_all_failed_) {
    reported_all_failed_ = true;
    if (all_failed_)
      all_failed_ ();
  }
}

bool
DestinationSet::any_live () const
{
  for (const auto &link : links_)
    if (link->state () == DestinationLink::State::Live ||
        link->state () == DestinationLink::State::Stalled)
      return true;
  return false;
}

bool
DestinationSet::any_reconnecting () const
{
  for (const auto &link : links_)
    if (link->reconnecting ())
      return true;
  return false;
}

guint64
DestinationSet::bytes_handed () const
{
  guint64 total = 0;
  for (size_t i = 0; i < media_.output_count (); i++)
    total += media_.output (i).pushed_total () +
        media_.output (i).accepted_total ();
  return total;
}

int
DestinationSet::give_up_unfinished ()
{
  int count = 0;
  for (auto &link : links_)
    count += link->give_up_if_unfinished ();
  return count;
}

bool
DestinationSet::all_failed () const
{
  for (const auto &link : links_)
    if (link->state () != DestinationLink::State::Failed)
      return false;
  return !links_.empty ();
}

DestinationLink *
DestinationSet::link (const std::string &name)
{
  for (auto &link : links_) {
    if (link->name () == name)
      return link.get ();
  }
  return nullptr;
}

void
DestinationSet::set_frame_sink (std::function<void (JsonNode *)> sink)
{
  frame_sink_ = std::move (sink);
}

JsonNode *
DestinationSet::status_frame () const
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "destinations");
  json_builder_set_member_name (builder, "destinations");
  json_builder_begin_array (builder);
  for (const auto &link : links_) {
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "name");
    json_builder_add_string_value (builder, link->name ().c_str ());
    json_builder_set_member_name (builder, "state");
    json_builder_add_string_value (builder,
        DestinationLink::state_name (link->state ()));
    json_builder_set_member_name (builder, "kbps");
    json_builder_add_int_value (builder, link->kbps ());
    json_builder_set_member_name (builder, "reconnects");
    json_builder_add_int_value (builder, link->reconnects ());
    json_builder_set_member_name (builder, "error");
    json_builder_add_string_value (builder, link->error ().c_str ());
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

}  // namespace wsrtmp
