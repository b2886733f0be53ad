/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "broadcast.h"
#include "destination_choice.h"
#include "mp4_recording.h"

#include <glib/gstdio.h>

#include <algorithm>
#include <cmath>

namespace wsrtmp {

namespace {

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

Broadcast::Broadcast (guint64 id, std::string key, const Config &config,
    const PipelineFactory &factory, Metrics &metrics,
    FinishedCallback finished)
    : id_ (id), key_ (std::move (key)), config_ (config), factory_ (factory),
      metrics_ (metrics), finished_ (std::move (finished)),
      started_us_ (g_get_monotonic_time ())
{
  metrics_.broadcast_started ();
}

Broadcast::~Broadcast ()
{
  for (guint *source : { &drain_timer_, &finish_idle_, &tick_timer_,
           &keyframe_timer_ }) {
    if (*source)
      g_source_remove (*source);
  }
  destination_set_.reset ();
  media_.reset ();
  metrics_.broadcast_finished ();
}

const char *
Broadcast::state_name (State state)
{
  switch (state) {
    case State::Starting: return "starting";
    case State::Live: return "live";
    case State::Reconnecting: return "reconnecting";
    case State::Ending: return "ending";
    case State::Ended: return "ended";
    case State::Error: return "error";
  }
  return "?";
}

void
Broadcast::log_event (GLogLevelFlags level, const std::string &text) const
{
  log_stream_event (level, "BROADCAST", "broadcast", id_, key_, "", text);
}

std::string
Broadcast::masked_location (const Destination &dest) const
{
  return describe_destination (dest, key_);
}

double
Broadcast::duration_s () const
{
  return (g_get_monotonic_time () - started_us_) / 1e6;
}

bool
Broadcast::accepting () const
{
  return running () && !finishing_;
}

bool
Broadcast::start (bool wait_for_previous, Failure &failure,
    std::string &detail)
{
  bool record = false;
  destinations_ = destinations_for (config_, key_, record,
      chosen_ ? &*chosen_ : nullptr);
  if (chosen_ && destinations_.empty () && !record) {
    failure = { CLOSE_POLICY_VIOLATION, "the streaming service gave no "
        "destination", "refused" };
    detail = "the --on-publish answer left the stream nowhere to go";
    return false;
  }
  if (record) {
    if (g_mkdir_with_parents (config_.record_dir.c_str (), 0755) != 0) {
      failure = { CLOSE_SERVER_ERROR, "cannot write the recording",
          "recording" };
      detail = "cannot create " + config_.record_dir + ": " +
          g_strerror (errno);
      return false;
    }
    destinations_.push_back (config_.record_mp4 ?
        recording_mp4_destination (config_.record_dir, key_,
            config_.record_segment_s) :
        recording_destination (recording_path (config_.record_dir, key_)));
  }

  MediaSpec spec;
  spec.destinations = destinations_;
  g_autoptr (GError) error = nullptr;
  media_ = factory_.create (spec, "broadcast" + std::to_string (id_), &error);
  if (!media_) {
    failure = { CLOSE_SERVER_ERROR, "internal pipeline error", "pipeline" };
    detail = std::string ("cannot build the pipeline: ") +
        (error ? error->message : "unknown error");
    return false;
  }
  splice_.reset (gst_bin_get_by_name (GST_BIN (media_->pipeline ()),
          MEDIA_SPLICE_NAME));
  DestinationPolicy policy;
  policy.retry_time_s = config_.rtmp_retry_time_s;
  policy.retry_first_connect = destinations_.size () > 1;
  policy.max_waiting_bytes = config_.destination_buffer_bytes;
  DestinationHooks hooks;
  hooks.log = [this] (GLogLevelFlags level, const std::string &text) {
    log_event (level, text);
  };
  hooks.changed = [this] { on_destinations_changed (); };
  hooks.keyframe_wanted = [this] {
    request_keyframe (KEYFRAME_REASON_DESTINATION);
  };
  destination_set_ = std::make_unique<DestinationSet> (*media_, policy,
      metrics_, std::move (hooks), [this] { on_all_destinations_failed (); });
  /* The inputs attached now see each destination's status. */
  destination_set_->set_frame_sink ([this] (JsonNode *frame) {
    for (Listener *listener : listeners ())
      listener->broadcast_frame (frame);
  });
  tick_timer_ = g_timeout_add_seconds (1, &Broadcast::on_tick, this);
  media_->set_bus_handler ([this] (GstMessage *message) {
    on_bus_message (message);
  });

  for (const auto &link : destination_set_->links ())
    destination_states_[link->name ()] = DestinationLink::state_name (
        link->state ());
  std::string where;
  for (const auto &dest : destinations_)
    where += (where.empty () ? "" : ", ") + dest.name + " (" +
        describe_destination (dest, key_) + ")";
  log_event (G_LOG_LEVEL_MESSAGE, std::string ("starting, streaming to ") +
      (chosen_ && chosen_->has_destinations ? "(chosen by --on-publish) " :
          "") + where);

  waiting_ = wait_for_previous;
  if (waiting_) {
    log_event (G_LOG_LEVEL_MESSAGE, "waiting for the previous broadcast "
        "with this key to finish");
    return true;
  }
  announce_started ();
  if (!media_->play ())
    log_event (G_LOG_LEVEL_INFO, "pipeline refused to start");
  return true;
}

void
Broadcast::release ()
{
  if (!waiting_)
    return;
  waiting_ = false;
  if (!running ())
    return;
  log_event (G_LOG_LEVEL_MESSAGE, "previous broadcast finished: starting");
  announce_started ();
  if (!media_->play ())
    log_event (G_LOG_LEVEL_INFO, "pipeline refused to start");
}

std::vector<Broadcast::Listener *>
Broadcast::listeners () const
{
  std::vector<Listener *> listeners;
  for (const auto &attached : inputs_)
    listeners.push_back (attached.listener);
  return listeners;
}

bool
Broadcast::attach (Input *input, Listener *listener, GError **error)
{
  GstElement *bin = input->element ();
  GstElement *pipeline = media_->pipeline ();
  GstPad *pad = gst_element_request_pad_simple (splice_.get (), "sink_%u");
  if (!pad) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_PAD,
        "flvsplice gave no input pad");
    return false;
  }
  GstObjectPtr<GstPad> splice_pad (pad);
  /* Joining a broadcast that already has a picture (on air from an older
   * input, or the slate): flvsplice drops this input's tags until its
   * first keyframe. */
  bool takeover = !inputs_.empty () || on_slate_ || bytes_out () > 0;
  /* The input holds the bin (sunk, not floating): gst_bin_add takes a
   * reference of its own, which gst_bin_remove drops. */
  gst_bin_add (GST_BIN (pipeline), bin);
  g_autoptr (GstPad) ghost = gst_element_get_static_pad (bin, "src");
  if (gst_pad_link (ghost, pad) != GST_PAD_LINK_OK) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "cannot link the connection's input");
    gst_bin_remove (GST_BIN (pipeline), bin);
    gst_element_release_request_pad (splice_.get (), pad);
    return false;
  }
  inputs_.push_back ({ input, listener, bin, std::move (splice_pad) });
  /* A waiting broadcast's pipeline is not started yet: the bin starts with
   * it and keeps what the client sends meanwhile. */
  if (!waiting_)
    gst_element_sync_state_with_parent (bin);
  if (takeover)
    request_keyframe (KEYFRAME_REASON_TAKEOVER);
  return true;
}

void
Broadcast::detach (Input *input, std::function<void ()> done)
{
  auto found = std::find_if (inputs_.begin (), inputs_.end (),
      [input] (const Attached &in) { return in.input == input; });
  if (found == inputs_.end () || !media_) {
    if (found != inputs_.end ())
      inputs_.erase (found);
    media_ ? media_->jobs ().when_idle (std::move (done)) : done ();
    return;
  }
  GstElement *bin = found->bin;
  GstObjectPtr<GstPad> splice_pad = std::move (found->splice_pad);
  inputs_.erase (found);
  g_autoptr (GstPad) ghost = gst_element_get_static_pad (bin, "src");
  gst_pad_unlink (ghost, splice_pad.get ());
  gst_element_release_request_pad (splice_.get (), splice_pad.get ());
  gst_element_set_locked_state (bin, TRUE);
  /* Joins the bin's streaming threads: off the main loop. */
  std::shared_ptr<GstElement> pipeline (
      GST_ELEMENT (gst_object_ref (media_->pipeline ())), gst_object_unref);
  media_->jobs ().run (bin, [pipeline] (GstElement *bin) {
    gst_element_set_state (bin, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (pipeline.get ()), bin);
  });
  media_->jobs ().when_idle (std::move (done));
  /* Its last input left before anything was published: there is no
   * broadcast to keep alive (and no format for a slate). */
  if (inputs_.empty () && bytes_out () == 0 && !waiting_ &&
      state_ != State::Ended && state_ != State::Error) {
    log_event (G_LOG_LEVEL_INFO, "no connection left and nothing was "
        "published");
    end_normally ();
  }
}

Broadcast::Attached *
Broadcast::attached_of (GstObject *origin)
{
  for (auto &input : inputs_) {
    if (origin == GST_OBJECT (input.bin) ||
        gst_object_has_as_ancestor (origin, GST_OBJECT (input.bin)))
      return &input;
  }
  return nullptr;
}

Broadcast::Attached *
Broadcast::attached_of (Input *input)
{
  for (auto &attached : inputs_) {
    if (attached.input == input)
      return &attached;
  }
  return nullptr;
}

Broadcast::Attached *
Broadcast::active_input ()
{
  for (auto &input : inputs_) {
    if (!input.ended)
      return &input;
  }
  return nullptr;
}

void
Broadcast::end_after (Input *input)
{
  /* Only the newest input speaks for the streamer: an older one that was
   * replaced and closes cleanly ends nothing. */
  if (inputs_.empty () || inputs_.back ().input != input || !running ())
    return;
  begin_ending ("the streamer stopped: ending after the data received");
  g_signal_emit_by_name (splice_.get (), "finish");
}

void
Broadcast::begin_ending (const std::string &why)
{
  if (finishing_)
    return;
  finishing_ = true;
  ending_why_ = why;
  log_event (G_LOG_LEVEL_INFO, why);
  set_state (State::Ending);
  drain_bytes_out_ = bytes_out () + (destination_set_ ?
      destination_set_->bytes_handed () : 0);
  if (!drain_timer_)
    drain_timer_ = g_timeout_add_seconds (config_.drain_timeout_s,
        &Broadcast::on_drain_timeout, this);
}

void
Broadcast::end_input (Input *input)
{
  Attached *attached = attached_of (input);
  if (!attached || attached->ended)
    return;
  GstElement *bin = attached->bin;
  g_autoptr (GstPad) ghost = gst_element_get_static_pad (bin, "src");
  gst_pad_unlink (ghost, attached->splice_pad.get ());
  /* EOS is serialized: it waits for a chain blocked in flvsplice (a newer
   * input waits its turn there), so it is sent off the main loop. */
  GstPad *pad = GST_PAD (gst_object_ref (attached->splice_pad.get ()));
  media_->jobs ().run (splice_.get (), [pad] (GstElement *) {
    gst_pad_send_event (pad, gst_event_new_eos ());
    gst_object_unref (pad);
  });
}

void
Broadcast::shutdown ()
{
  if (!running ())
    return;
  begin_ending ("server shutting down");
  g_signal_emit_by_name (splice_.get (), "finish");
  if (inputs_.empty ()) {
    /* On slate: nothing feeds flvsplice, so the end goes in directly. */
    end_normally ();
    return;
  }
  std::vector<Input *> inputs;
  for (const auto &attached : inputs_)
    inputs.push_back (attached.input);
  for (Input *input : inputs)
    input->finish ();
}

void
Broadcast::end_by_operator (const std::string &why)
{
  if (!running ())
    return;
  begin_ending (why);
  g_signal_emit_by_name (splice_.get (), "finish");
  /* On slate: nothing feeds flvsplice, so the end goes in directly. */
  if (inputs_.empty ())
    end_normally ();
}

Broadcast::Control
Broadcast::control_destination (const std::string &name, bool on)
{
  DestinationLink *link = destination_set_ ? destination_set_->link (name) :
      nullptr;
  if (!link)
    return Control::Unknown;
  if (!running ())
    return Control::Unchanged;
  return (on ? link->operator_start () : link->operator_stop ()) ?
      Control::Done : Control::Unchanged;
}

void
Broadcast::set_state (State state)
{
  state_ = state;
  for (Listener *listener : listeners ())
    listener->broadcast_changed (state);
}

void
Broadcast::on_splice_message (const GstStructure *s)
{
  if (gst_structure_has_name (s, "flvsplice-input-ended")) {
    const char *pad = gst_structure_get_string (s, "pad");
    for (auto &input : inputs_) {
      if (pad && g_str_equal (GST_OBJECT_NAME (input.splice_pad.get ()), pad)) {
        input.ended = true;
        input.listener->input_ended ();
        break;
      }
    }
    /* A newer connection takes over without a slate. */
    Attached *next = active_input ();
    if (next && !on_slate_)
      next->listener->input_active (false);
  } else if (gst_structure_has_name (s, "flvsplice-slate")) {
    on_slate_ = true;
    slate_since_us_ = g_get_monotonic_time ();
    metrics_.broadcast_gap ();
    const char *reason = gst_structure_get_string (s, "reason");
    bool stalled = reason && g_str_equal (reason, "stall");
    log_event (G_LOG_LEVEL_MESSAGE, std::string (stalled ? "input stalled" :
            "input gone") + ": viewers see the slate for up to " +
        std::to_string (factory_.continuity_timeout_s ()) + " s");
    g_autoptr (JsonObject) fields = json_object_new ();
    json_object_set_string_member (fields, "reason", stalled ? "stalled" :
        "gone");
    json_object_set_int_member (fields, "continuity_timeout_s",
        factory_.continuity_timeout_s ());
    announce ("broadcast.slate", fields);
  } else if (gst_structure_has_name (s, "flvsplice-resumed")) {
    double slate_s = (g_get_monotonic_time () - slate_since_us_) / 1e6;
    on_slate_ = false;
    metrics_.add_slate_seconds (slate_s);
    char text[96];
    g_snprintf (text, sizeof text, "resumed after %.1f s of slate", slate_s);
    log_event (G_LOG_LEVEL_MESSAGE, text);
    g_autoptr (JsonObject) fields = json_object_new ();
    json_object_set_double_member (fields, "slate_s",
        std::round (slate_s * 1000) / 1000);
    announce ("broadcast.resumed", fields);
    if (Attached *active = active_input ())
      active->listener->input_active (true);
  } else if (gst_structure_has_name (s, "flvsplice-timeout")) {
    if (on_slate_) {
      metrics_.add_slate_seconds ((g_get_monotonic_time () -
              slate_since_us_) / 1e6);
      on_slate_ = false;
    }
    log_event (G_LOG_LEVEL_MESSAGE, "no connection came back within " +
        std::to_string (factory_.continuity_timeout_s ()) + " s: ending");
    begin_ending ("the continuity window ran out");
  }
}

void
Broadcast::on_bus_message (GstMessage *message)
{
  GstObject *origin = GST_MESSAGE_SRC (message);
  if (Attached *attached = attached_of (origin)) {
    attached->input->on_message (message);
    return;
  }
  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR: {
      /* A destination's own trouble is its own (destination_link.h). */
      if (destination_set_ && destination_set_->handle_message (message))
        break;
      g_autoptr (GError) error = nullptr;
      g_autofree char *debug = nullptr;
      gst_message_parse_error (message, &error, &debug);
      g_autofree char *path = gst_object_get_path_string (origin);
      fail (classify_error (message), std::string (path) + ": " +
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
      if (origin == GST_OBJECT (splice_.get ()))
        on_splice_message (gst_message_get_structure (message));
      else if (segments_ && (gst_message_has_name (message,
              "splitmuxsink-fragment-opened") || gst_message_has_name (
              message, "splitmuxsink-fragment-closed")))
        segments_ (gst_message_get_structure (message));
      break;
    case GST_MESSAGE_APPLICATION:
      /* An output gate waits for a keyframe (OUTPUT_KEYFRAME_MESSAGE). */
      if (destination_set_ && destination_set_->handle_message (message))
        break;
      if (gst_message_has_name (message, MEDIA_LIVE_MESSAGE) &&
          state_ == State::Starting) {
        log_event (G_LOG_LEVEL_MESSAGE, "live");
        announce ("broadcast.live");
        set_state (State::Live);
      }
      break;
    default:
      break;
  }
}

void
Broadcast::end_normally ()
{
  if (state_ == State::Ended || state_ == State::Error)
    return;
  if (on_slate_) {
    metrics_.add_slate_seconds ((g_get_monotonic_time () - slate_since_us_) /
        1e6);
    on_slate_ = false;
  }
  char text[160];
  g_snprintf (text, sizeof text, "ended after %.1f s, %" G_GUINT64_FORMAT
      " bytes out", duration_s (), bytes_out ());
  log_event (G_LOG_LEVEL_MESSAGE, text);
  announce_ended (ending_why_.empty () ? "no connection left" : ending_why_,
      "");
  set_state (State::Ended);
  schedule_finish ();
}

void
Broadcast::fail (const Failure &failure, const std::string &detail)
{
  if (state_ == State::Ended || state_ == State::Error)
    return;
  if (destination_set_)
    destination_set_->stop ();
  metrics_.error (failure.kind);
  char head[96];
  g_snprintf (head, sizeof head, "error after %.1f s, close %u \"",
      duration_s (), failure.code);
  log_event (G_LOG_LEVEL_WARNING, head + failure.reason + "\": " +
      mask_key_in (detail, key_));
  announce_ended (failure.reason, failure.kind);
  state_ = State::Error;
  for (Listener *listener : listeners ())
    listener->broadcast_failed (failure);
  schedule_finish ();
}

/* A destination changed state: the broadcast is live while one
 * destination is, reconnecting while none is and one is being retried. */
void
Broadcast::on_destinations_changed ()
{
  if (!destination_set_)
    return;
  for (const auto &link : destination_set_->links ()) {
    std::string state = DestinationLink::state_name (link->state ());
    std::string &known = destination_states_[link->name ()];
    if (known == state)
      continue;
    known = state;
    g_autoptr (JsonObject) fields = json_object_new ();
    json_object_set_string_member (fields, "name", link->name ().c_str ());
    json_object_set_string_member (fields, "state", state.c_str ());
    if (!link->error ().empty ())
      json_object_set_string_member (fields, "error", link->error ().c_str ());
    announce ("destination.state", fields);
  }
  bool live = destination_set_->any_live ();
  bool reconnecting = destination_set_->any_reconnecting ();
  if (state_ == State::Reconnecting && live)
    set_state (State::Live);
  else if (state_ == State::Live && !live && reconnecting)
    set_state (State::Reconnecting);
}

/* Every destination failed for good: only now does the broadcast fail. */
void
Broadcast::on_all_destinations_failed ()
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
Broadcast::announce (const char *type, JsonObject *fields)
{
  if (!events_ || !announced_started_ || announced_ended_)
    return;
  g_autoptr (JsonObject) all = json_object_new ();
  json_object_set_int_member (all, "broadcast", id_);
  if (fields) {
    JsonObjectIter iter;
    const char *name;
    JsonNode *value;
    json_object_iter_init (&iter, fields);
    while (json_object_iter_next (&iter, &name, &value))
      json_object_set_member (all, name, json_node_copy (value));
  }
  events_ (type, all);
}

void
Broadcast::announce_started ()
{
  if (announced_started_)
    return;
  announced_started_ = true;
  g_autoptr (JsonObject) fields = json_object_new ();
  JsonArray *names = json_array_new ();
  for (const auto &dest : destinations_)
    json_array_add_string_element (names, dest.name.c_str ());
  json_object_set_array_member (fields, "destinations", names);
  announce ("broadcast.started", fields);
}

void
Broadcast::announce_ended (const std::string &why, const std::string &kind)
{
  if (!announced_started_ || announced_ended_)
    return;
  g_autoptr (JsonObject) fields = json_object_new ();
  json_object_set_double_member (fields, "duration_s",
      std::round (duration_s () * 1000) / 1000);
  json_object_set_string_member (fields, "why", why.c_str ());
  /* "" after a normal end; the error's kind (README) after a failure. */
  json_object_set_string_member (fields, "error", kind.c_str ());
  json_object_set_int_member (fields, "bytes_out", bytes_out ());
  announce ("broadcast.ended", fields);
  announced_ended_ = true;
}

void
Broadcast::request_keyframe (const char *reason)
{
  if (!running () || keyframe_timer_)
    return;     /* over, or one is already due: it serves this cause too */
  gint64 since = g_get_monotonic_time () - keyframe_requested_us_;
  if (keyframe_requested_us_ && since < KEYFRAME_REQUEST_INTERVAL_US) {
    keyframe_reason_ = reason;
    guint wait_ms = static_cast<guint> ((KEYFRAME_REQUEST_INTERVAL_US -
            since + 999) / 1000);
    keyframe_timer_ = g_timeout_add (wait_ms, &Broadcast::on_keyframe_timer,
        this);
    log_event (G_LOG_LEVEL_DEBUG, std::string ("keyframe request (") +
        reason + ") in " + std::to_string (wait_ms) + " ms: one was just "
        "sent");
    return;
  }
  send_keyframe_request (reason);
}

/* To the newest input that has not ended: the one on air, or the one about
 * to take over from it (whose first keyframe is the next the output
 * carries; the older one was told it is replaced). */
void
Broadcast::send_keyframe_request (const char *reason)
{
  Attached *target = nullptr;
  for (auto &input : inputs_) {
    if (!input.ended)
      target = &input;
  }
  if (!target) {
    /* On slate: its own keyframes come every keyframe interval. */
    log_event (G_LOG_LEVEL_DEBUG, std::string ("keyframe wanted (") +
        reason + "), no input to ask");
    return;
  }
  keyframe_requested_us_ = g_get_monotonic_time ();
  target->input->request_keyframe (reason);
}

gboolean
Broadcast::on_keyframe_timer (gpointer data)
{
  auto *self = static_cast<Broadcast *> (data);
  self->keyframe_timer_ = 0;
  if (self->running ())
    self->send_keyframe_request (self->keyframe_reason_);
  return G_SOURCE_REMOVE;
}

gboolean
Broadcast::on_tick (gpointer data)
{
  auto *self = static_cast<Broadcast *> (data);
  guint64 out = self->bytes_out ();
  self->kbps_out_ = static_cast<guint> ((out - std::min (out,
          self->tick_bytes_out_)) * 8 / 1000);
  self->tick_bytes_out_ = out;
  if (self->destination_set_)
    self->destination_set_->tick ();
  return G_SOURCE_CONTINUE;
}

gboolean
Broadcast::on_drain_timeout (gpointer data)
{
  auto *self = static_cast<Broadcast *> (data);
  /* A long backlog may take a while to encode: only a drain that stopped
   * making progress is a failure. Waiting for the RTMP server to come back
   * is bounded by its own retry time. */
  guint64 bytes_out = self->media_ ? self->media_->bytes_delivered () : 0;
  /* A slow destination still taking what it was given progresses too. */
  if (self->destination_set_)
    bytes_out += self->destination_set_->bytes_handed ();
  if (bytes_out > self->drain_bytes_out_ || (self->destination_set_ &&
          self->destination_set_->any_reconnecting ())) {
    self->drain_bytes_out_ = bytes_out;
    return G_SOURCE_CONTINUE;
  }
  /* One stuck destination must not hold the others' end: it fails, and
   * the broadcast gets one more period to end normally. */
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
Broadcast::schedule_finish ()
{
  for (guint *source : { &drain_timer_, &tick_timer_, &keyframe_timer_ }) {
    if (*source) {
      g_source_remove (*source);
      *source = 0;
    }
  }
  if (destination_set_)
    destination_set_->stop ();
  if (!finish_deadline_us_)
    finish_deadline_us_ = g_get_monotonic_time () + FINISH_WAIT_US;
  if (!finish_idle_)
    finish_idle_ = g_idle_add (&Broadcast::on_finish_idle, this);
}

gboolean
Broadcast::on_finish_idle (gpointer data)
{
  auto *self = static_cast<Broadcast *> (data);
  self->finish_idle_ = 0;
  /* rtmp2sink stopped in the middle of its connect leaks the socket and
   * its main context (GStreamer 1.22): a client that fails at once, over
   * and over, would run the server out of fds. Let the connect end first
   * (published or failed, within rtmp2sink's own timeout). */
  if (self->media_ && self->media_->connecting () &&
      g_get_monotonic_time () < self->finish_deadline_us_) {
    self->finish_idle_ = g_timeout_add (20, &Broadcast::on_finish_idle, self);
    return G_SOURCE_REMOVE;
  }
  auto done = [self] {
    /* The inputs' elements went down with the pipeline. */
    for (Listener *listener : self->listeners ())
      listener->broadcast_gone ();
    self->inputs_.clear ();
    self->finished_ (self);
  };
  if (!self->media_) {
    done ();
    return G_SOURCE_REMOVE;
  }
  /* Off the main loop every client shares; finished only once the
   * pipeline is down (a newer broadcast for this key publishes then). The
   * owner may destroy us from the callback. */
  self->media_->stop_async (done);
  return G_SOURCE_REMOVE;
}

}  // namespace wsrtmp
