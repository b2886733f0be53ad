/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "whip_input.h"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

namespace wsrtmp {

namespace {

/* How long the answer waits for ICE gathering to complete: the host
 * candidates come at once, a STUN server's within a round trip; OBS gives
 * up on its POST after 8 s. */
constexpr gint64 GATHERING_TIMEOUT_MS = 3000;
/* An offer webrtcbin has not answered by then is refused. */
constexpr gint64 NEGOTIATION_TIMEOUT_US = 6 * G_USEC_PER_SEC;

/* Depayloader (and parser) per encoding, into what matroskamux takes.
 * H.264 is passed through untouched: h264parse only repeats SPS/PPS
 * before every IDR (OBS sends them once, Chrome in each STAP-A), for
 * late joiners and for flvencodebin's own parser. */
const char *
chain_for (const char *encoding)
{
  if (!g_ascii_strcasecmp (encoding, "H264"))
    return "rtph264depay request-keyframe=true wait-for-keyframe=true ! "
        "h264parse config-interval=-1 ! capsfilter "
        "caps=video/x-h264,stream-format=avc,alignment=au";
  if (!g_ascii_strcasecmp (encoding, "VP8"))
    return "rtpvp8depay request-keyframe=true wait-for-keyframe=true";
  if (!g_ascii_strcasecmp (encoding, "VP9"))
    return "rtpvp9depay request-keyframe=true wait-for-keyframe=true";
  if (!g_ascii_strcasecmp (encoding, "OPUS"))
    return "rtpopusdepay ! opusparse";
  return nullptr;
}

struct MainCall {
  std::shared_ptr<WhipInput::Relay> relay;
  std::function<void (WhipInput *)> fn;
};

/* From any thread: fn runs on the main context if the input still lives
 * then. */
void
post (const std::shared_ptr<WhipInput::Relay> &relay,
    std::function<void (WhipInput *)> fn)
{
  g_idle_add_full (G_PRIORITY_DEFAULT, [] (gpointer data) {
        auto *call = static_cast<MainCall *> (data);
        if (call->relay->owner)
          call->fn (call->relay->owner);
        return G_SOURCE_REMOVE;
      }, new MainCall { relay, std::move (fn) }, delete_data<MainCall>);
}

/* What a webrtcbin callback needs: the element and the way home. */
struct Negotiation {
  std::shared_ptr<WhipInput::Relay> relay;
  GstObjectPtr<GstElement> webrtc;
};

std::string
promise_error (GstPromise *promise, const char *what)
{
  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    return std::string (what) + ": no reply";
  const GstStructure *reply = gst_promise_get_reply (promise);
  g_autoptr (GError) error = nullptr;
  if (reply && gst_structure_has_field (reply, "error")) {
    gst_structure_get (reply, "error", G_TYPE_ERROR, &error, nullptr);
    return std::string (what) + ": " + (error ? error->message : "error");
  }
  return "";
}

/* The upstream event rtpsession turns into a PLI (or FIR) to the sender. */
GstEvent *
keyframe_request_event ()
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new (
          "GstForceKeyUnit", "all-headers", G_TYPE_BOOLEAN, TRUE, nullptr));
}

}  // namespace

WhipInput::WhipInput (guint64 id, std::string key, std::string peer,
    const Config &config, const PipelineFactory &factory, Metrics &metrics,
    FinishedCallback finished)
    : id_ (id), key_ (std::move (key)), peer_ (std::move (peer)),
      config_ (config), factory_ (factory), metrics_ (metrics),
      finished_ (std::move (finished)),
      relay_ (std::make_shared<Relay> (Relay { this }))
{
  metrics_.session_started ();
}

WhipInput::~WhipInput ()
{
  metrics_.session_finished (state_ == State::Error ?
      Metrics::Outcome::Error : Metrics::Outcome::Ended);
  relay_->owner = nullptr;
  for (guint *source : { &timer_, &gathering_timer_, &finish_idle_ }) {
    if (*source)
      g_source_remove (*source);
  }
  if (webrtc_)
    g_signal_handlers_disconnect_matched (webrtc_.get (),
        G_SIGNAL_MATCH_FUNC, 0, 0, nullptr,
        reinterpret_cast<gpointer> (&WhipInput::on_pad_added), nullptr);
}

const char *
WhipInput::state_name (State state)
{
  switch (state) {
    case State::Negotiating: return "negotiating";
    case State::Connecting: return "connecting";
    case State::Live: return "live";
    case State::Ending: return "ending";
    case State::Ended: return "ended";
    case State::Error: return "error";
  }
  return "?";
}

void
WhipInput::log_event (GLogLevelFlags level, const std::string &text) const
{
  log_stream_event (level, "SESSION", "whip", id_, key_, " from " + peer_,
      text);
}

void
WhipInput::set_state (State state)
{
  state_ = state;
}

void
WhipInput::on_main (std::function<void (WhipInput *)> fn) const
{
  post (relay_, std::move (fn));
}

/* The ingest bin: webrtcbin, and the FLV tail the factory makes. */
bool
WhipInput::build (int twcc_ext_id, std::string &error)
{
  g_autoptr (GError) gerror = nullptr;
  GstElement *bin = factory_.create_whip_ingest ("whip" + std::to_string (
          id_), &gerror);
  if (!bin) {
    error = gerror ? gerror->message : "cannot make the ingest bin";
    return false;
  }
  bin_.reset (GST_ELEMENT (gst_object_ref_sink (bin)));
  mux_.reset (gst_bin_get_by_name (GST_BIN (bin), WHIP_MUX_NAME));
  GstElement *webrtc = gst_element_factory_make ("webrtcbin", "webrtc");
  if (!webrtc) {
    error = "webrtcbin is not installed (gstreamer1.0-plugins-bad)";
    return false;
  }
  webrtc_.reset (GST_ELEMENT (gst_object_ref (webrtc)));
  gst_bin_add (GST_BIN (bin), webrtc);
  g_object_set (webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE,
      "latency", (guint) config_.whip_jitter_ms, nullptr);
  if (!config_.stun_server.empty ())
    g_object_set (webrtc, "stun-server", config_.stun_server.c_str (),
        nullptr);
  for (const auto &turn : config_.turn_servers) {
    gboolean added = FALSE;
    g_signal_emit_by_name (webrtc, "add-turn-server", turn.c_str (), &added);
  }
  if (config_.webrtc_port_min > 0) {
    GstObject *agent = nullptr;
    g_object_get (webrtc, "ice-agent", &agent, nullptr);
    if (agent) {
      g_object_set (agent, "min-rtp-port", (guint) config_.webrtc_port_min,
          "max-rtp-port", (guint) config_.webrtc_port_max, nullptr);
      gst_object_unref (agent);
    }
  }
  /* NACK is answered (the senders' RTX is kept in the offer), and
   * transport-wide congestion control too when the sender offers it: as
   * codec preferences, which webrtcbin intersects with the offer. */
  GstCaps *preferences = nullptr;
  if (twcc_ext_id > 0) {
    preferences = gst_caps_new_empty_simple ("application/x-rtp");
    gst_caps_set_simple (preferences, ("extmap-" + std::to_string (
                twcc_ext_id)).c_str (), G_TYPE_STRING, TWCC_EXTENSION_URI,
        nullptr);
  }
  g_signal_connect_data (webrtc, "on-new-transceiver", G_CALLBACK (+[] (
              GstElement *, GstWebRTCRTPTransceiver *transceiver,
              GstCaps *preferences) {
        g_object_set (transceiver, "do-nack", TRUE, nullptr);
        if (preferences)
          g_object_set (transceiver, "codec-preferences", preferences,
              nullptr);
      }), preferences, [] (gpointer caps, GClosure *) {
        if (caps)
          gst_caps_unref (GST_CAPS (caps));
      }, GConnectFlags (0));
  g_signal_connect_data (webrtc, "notify::ice-gathering-state",
      G_CALLBACK (+[] (GstElement *element, GParamSpec *,
              std::shared_ptr<Relay> *relay) {
        GstWebRTCICEGatheringState state;
        g_object_get (element, "ice-gathering-state", &state, nullptr);
        if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
          post (*relay, [] (WhipInput *self) { self->on_gathering_done (); });
      }), new std::shared_ptr<Relay> (relay_),
      [] (gpointer data, GClosure *) {
        delete static_cast<std::shared_ptr<Relay> *> (data);
      }, GConnectFlags (0));
  g_signal_connect_data (webrtc, "notify::ice-connection-state",
      G_CALLBACK (+[] (GstElement *element, GParamSpec *,
              std::shared_ptr<Relay> *relay) {
        GstWebRTCICEConnectionState state;
        g_object_get (element, "ice-connection-state", &state, nullptr);
        post (*relay, [state] (WhipInput *self) {
          self->on_ice_state (state);
        });
      }), new std::shared_ptr<Relay> (relay_),
      [] (gpointer data, GClosure *) {
        delete static_cast<std::shared_ptr<Relay> *> (data);
      }, GConnectFlags (0));
  g_signal_connect (webrtc, "pad-added", G_CALLBACK (&WhipInput::on_pad_added),
      this);

  /* FLV bytes out of the bin (draining). */
  g_autoptr (GstPad) out = gst_element_get_static_pad (bin, "src");
  gst_pad_add_probe (out, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [] (GstPad *, GstPadProbeInfo *info, gpointer data) {
        auto &progress = **static_cast<std::shared_ptr<Progress> *> (data);
        if (GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info))
          progress.flv_bytes += gst_buffer_get_size (buffer);
        else
          progress.flv_bytes += 1;
        return GST_PAD_PROBE_OK;
      }, new std::shared_ptr<Progress> (progress_),
      delete_data<std::shared_ptr<Progress>>);
  return true;
}

/* Requested before any media: matroskamux writes its header once every
 * pad has caps, and takes no pad after that. The first caps of a track
 * stay: a later picture size or SPS (the browser adapting to the link)
 * travels in-band, where flvencodebin's parser reads it; matroskamux
 * would refuse the change. */
static GstPadProbeReturn
keep_first_caps (GstPad *pad, GstPadProbeInfo *info, gpointer)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  g_autoptr (GstCaps) current = gst_pad_get_current_caps (pad);
  return current ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

void
WhipInput::start (Broadcast *broadcast, bool resumed, const std::string &sdp,
    AnswerCallback answered)
{
  answered_ = std::move (answered);
  broadcast_ = broadcast;
  on_air_ = !resumed;
  std::string why;
  WhipOffer offer;
  if (!read_whip_offer (sdp, offer, why) || !build (offer.twcc_ext_id,
          why)) {
    broadcast_ = nullptr;
    fail ({ CLOSE_SERVER_ERROR, why, "pipeline" }, why);
    return;
  }
  mids_ = offer.mids;
  ice_ufrag_ = offer.ice_ufrag;
  for (const auto &track : offer.tracks) {
    GstPad *pad = gst_element_request_pad_simple (mux_.get (),
        track == "video" ? "video_%u" : "audio_%u");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        keep_first_caps, nullptr, nullptr);
    if (track == "video")
      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
          [] (GstPad *, GstPadProbeInfo *info, gpointer data) {
            auto &progress = **static_cast<std::shared_ptr<Progress> *> (
                data);
            if (!GST_BUFFER_FLAG_IS_SET (GST_PAD_PROBE_INFO_BUFFER (info),
                    GST_BUFFER_FLAG_DELTA_UNIT))
              progress.keyframe_us = g_get_monotonic_time ();
            return GST_PAD_PROBE_OK;
          }, new std::shared_ptr<Progress> (progress_),
          delete_data<std::shared_ptr<Progress>>);
    mux_pads_.emplace_back (track, GstObjectPtr<GstPad> (pad));
  }

  g_autoptr (GError) error = nullptr;
  if (!broadcast_->attach (this, this, &error)) {
    broadcast_ = nullptr;
    fail ({ CLOSE_SERVER_ERROR, "internal pipeline error", "pipeline" },
        std::string ("cannot join the broadcast: ") + (error ?
            error->message : "unknown error"));
    return;
  }
  /* A waiting broadcast starts its pipeline later: webrtcbin negotiates
   * from READY on (its thread and ICE agent). */
  if (broadcast_->waiting ())
    gst_element_set_state (webrtc_.get (), GST_STATE_READY);
  log_event (G_LOG_LEVEL_MESSAGE, std::string (resumed ? "offer, joining "
          "the broadcast" : "offer") + " (" + std::to_string (
          offer.tracks.size ()) + " tracks)");
  timer_ = g_timeout_add (TICK_US / 1000, &WhipInput::on_timer, this);

  g_autoptr (GstSDPMessage) message = nullptr;
  gst_sdp_message_new_from_text (offer.sdp.c_str (), &message);
  GstWebRTCSessionDescription *description =
      gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER,
          static_cast<GstSDPMessage *> (g_steal_pointer (&message)));
  auto *negotiation = new Negotiation { relay_, GstObjectPtr<GstElement> (
      GST_ELEMENT (gst_object_ref (webrtc_.get ()))) };
  /* Remote description set, then the answer made and set (webrtcbin's
   * thread), then back here. */
  GstPromise *promise = gst_promise_new_with_change_func (
      [] (GstPromise *promise, gpointer data) {
        auto *negotiation = static_cast<Negotiation *> (data);
        std::string why = promise_error (promise, "the offer");
        gst_promise_unref (promise);
        if (!why.empty ()) {
          post (negotiation->relay, [why] (WhipInput *self) {
            self->fail ({ CLOSE_UNSUPPORTED_DATA, why, "input" }, why);
          });
          return;
        }
        GstPromise *answer_promise = gst_promise_new_with_change_func (
            [] (GstPromise *promise, gpointer data) {
              auto *negotiation = static_cast<Negotiation *> (data);
              std::string why = promise_error (promise, "the answer");
              GstWebRTCSessionDescription *answer = nullptr;
              const GstStructure *reply = gst_promise_get_reply (promise);
              if (why.empty () && reply)
                gst_structure_get (reply, "answer",
                    GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
              gst_promise_unref (promise);
              if (!answer) {
                if (why.empty ())
                  why = "webrtcbin made no answer";
                post (negotiation->relay, [why] (WhipInput *self) {
                  self->fail ({ CLOSE_UNSUPPORTED_DATA, why, "input" }, why);
                });
                return;
              }
              g_signal_emit_by_name (negotiation->webrtc.get (),
                  "set-local-description", answer, nullptr);
              gst_webrtc_session_description_free (answer);
              post (negotiation->relay, [] (WhipInput *self) {
                self->on_answer_created ();
              });
            }, data, delete_data<Negotiation>);
        g_signal_emit_by_name (negotiation->webrtc.get (), "create-answer",
            nullptr, answer_promise);
      }, negotiation, nullptr);
  g_signal_emit_by_name (webrtc_.get (), "set-remote-description",
      description, promise);
  gst_webrtc_session_description_free (description);
}

void
WhipInput::on_answer_created ()
{
  if (!answered_)
    return;
  GstWebRTCICEGatheringState gathering;
  g_object_get (webrtc_.get (), "ice-gathering-state", &gathering, nullptr);
  if (gathering == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) {
    answer_now ();
    return;
  }
  gathering_timer_ = g_timeout_add (GATHERING_TIMEOUT_MS,
      &WhipInput::on_gathering_timeout, this);
}

void
WhipInput::on_gathering_done ()
{
  /* Before the answer was set, on_answer_created reads the state. */
  if (answered_ && gathering_timer_)
    answer_now ();
}

gboolean
WhipInput::on_gathering_timeout (gpointer data)
{
  auto *self = static_cast<WhipInput *> (data);
  self->gathering_timer_ = 0;
  self->log_event (G_LOG_LEVEL_INFO, "ICE gathering not complete after " +
      std::to_string (GATHERING_TIMEOUT_MS) + " ms: answering with the "
      "candidates so far");
  self->answer_now ();
  return G_SOURCE_REMOVE;
}

/* The local description holds the candidates gathered so far. */
void
WhipInput::answer_now ()
{
  if (gathering_timer_) {
    g_source_remove (gathering_timer_);
    gathering_timer_ = 0;
  }
  if (!answered_)
    return;
  GstWebRTCSessionDescription *local = nullptr;
  g_object_get (webrtc_.get (), "local-description", &local, nullptr);
  if (!local) {
    fail ({ CLOSE_SERVER_ERROR, "no local description", "pipeline" },
        "webrtcbin has no local description after the answer");
    return;
  }
  g_autofree char *text = gst_sdp_message_as_text (local->sdp);
  gst_webrtc_session_description_free (local);
  std::string answer = announce_public_ip (text, config_.webrtc_public_ip);
  auto answered = std::move (answered_);
  answered_ = nullptr;
  set_state (State::Connecting);
  media_since_us_ = g_get_monotonic_time ();
  /* Put on air while negotiating (the input it took over from ended
   * first): live now. */
  if (on_air_ && broadcast_)
    broadcast_changed (broadcast_->state ());
  answered (answer, "");
}

bool
WhipInput::add_candidates (const std::string &fragment, std::string &why)
{
  auto candidates = read_trickle (fragment, mids_);
  if (candidates.empty ()) {
    why = "no a=candidate line for a known a=mid";
    return false;
  }
  for (const auto &[index, candidate] : candidates)
    g_signal_emit_by_name (webrtc_.get (), "add-ice-candidate", index,
        candidate.c_str ());
  return true;
}

/* A track's RTP from webrtcbin (its streaming thread): its depayloader
 * into the muxer's pad for that kind. Reads only what is fixed once the
 * bin runs (bin_, webrtc_, mux_pads_); the input outlives the bin's
 * threads (it is destroyed after detach stopped the bin, or after the
 * pipeline went down), and the destructor disconnects this handler. */
void
WhipInput::on_pad_added (GstElement *, GstPad *pad, gpointer data)
{
  auto *self = static_cast<WhipInput *> (data);
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const char *media = gst_structure_get_string (s, "media");
  const char *encoding = gst_structure_get_string (s, "encoding-name");
  const char *chain = encoding ? chain_for (encoding) : nullptr;
  GstPad *mux_pad = nullptr;
  for (const auto &[track, pad] : self->mux_pads_) {
    if (media && track == media && !gst_pad_is_linked (pad.get ()))
      mux_pad = pad.get ();
  }
  if (!chain || !mux_pad) {
    GST_ELEMENT_WARNING (self->webrtc_.get (), STREAM, CODEC_NOT_FOUND,
        (nullptr), ("track %s (%s) not taken", media ? media : "?",
            encoding ? encoding : "?"));
    GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
    gst_bin_add (GST_BIN (self->bin_.get ()), sink);
    gst_element_sync_state_with_parent (sink);
    g_autoptr (GstPad) sink_pad = gst_element_get_static_pad (sink, "sink");
    gst_pad_link (pad, sink_pad);
    return;
  }
  g_autoptr (GError) error = nullptr;
  GstElement *depay = gst_parse_bin_from_description (chain, TRUE, &error);
  if (!depay) {
    GST_ELEMENT_ERROR (self->webrtc_.get (), CORE, MISSING_PLUGIN, (nullptr),
        ("%s", error->message));
    return;
  }
  gst_bin_add (GST_BIN (self->bin_.get ()), depay);
  g_autoptr (GstPad) depay_sink = gst_element_get_static_pad (depay, "sink");
  g_autoptr (GstPad) depay_src = gst_element_get_static_pad (depay, "src");
  gst_pad_link (depay_src, mux_pad);
  gst_element_sync_state_with_parent (depay);
  gst_pad_add_probe (pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [] (GstPad *, GstPadProbeInfo *info, gpointer data) {
        auto &progress = **static_cast<std::shared_ptr<Progress> *> (data);
        if (GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info))
          progress.rtp_bytes += gst_buffer_get_size (buffer);
        else
          progress.rtp_bytes += 1;
        return GST_PAD_PROBE_OK;
      }, new std::shared_ptr<Progress> (self->progress_),
      delete_data<std::shared_ptr<Progress>>);
  gst_pad_link (pad, depay_sink);
}

void
WhipInput::on_ice_state (int state)
{
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED ||
      state == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED) {
    if (!ice_connected_)
      log_event (G_LOG_LEVEL_MESSAGE, "ICE connected");
    ice_connected_ = true;
    return;
  }
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED ||
      state == GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED)
    drop (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED ?
        "ICE failed" : "ICE disconnected");
}

gboolean
WhipInput::on_timer (gpointer data)
{
  static_cast<WhipInput *> (data)->on_tick ();
  return G_SOURCE_CONTINUE;
}

void
WhipInput::on_tick ()
{
  gint64 now = g_get_monotonic_time ();
  if (state_ == State::Negotiating && answered_ &&
      now - started_us_ > NEGOTIATION_TIMEOUT_US) {
    fail ({ CLOSE_SERVER_ERROR, "no answer in time", "pipeline" },
        "webrtcbin did not answer the offer");
    return;
  }
  if (state_ == State::Connecting || state_ == State::Live) {
    guint64 rtp = progress_->rtp_bytes;
    if (now - rate_since_us_ >= G_USEC_PER_SEC) {
      bitrate_kbps_ = rate_since_us_ ? static_cast<guint> ((rtp - rate_bytes_)
          * 8 * 1000 / (now - rate_since_us_)) : 0;
      metrics_.add_bytes_in (rtp - rate_bytes_);
      rate_bytes_ = rtp;
      rate_since_us_ = now;
    }
    if (rtp != media_bytes_) {
      media_bytes_ = rtp;
      media_since_us_ = now;
    } else if (!broadcast_ || !broadcast_->waiting ()) {
      if (now - media_since_us_ >= config_.idle_timeout_s * G_USEC_PER_SEC) {
        drop ("no media for " + std::to_string (config_.idle_timeout_s) +
            " s");
        return;
      }
    }
    /* Keyframes at most keyframe-interval apart: ask before it is over. */
    gint64 keyframe = progress_->keyframe_us;
    if (keyframe != seen_keyframe_us_) {
      seen_keyframe_us_ = keyframe;
      keyframes_.keyframe (keyframe);
    }
    if (keyframes_.due (now, gint64 (factory_.keyframe_interval_s () *
                G_USEC_PER_SEC)))
      send_pli ();
  }
  /* The media ended: the input ends once its FLV drained, or was never
   * going to come, or stopped coming (as a WebSocket's). */
  if (media_ended_ && !input_ended_ && broadcast_ &&
      !broadcast_->waiting ()) {
    guint64 flv = progress_->flv_bytes;
    if (flv != drain_bytes_) {
      drain_bytes_ = flv;
      drain_since_us_ = now;
    } else if ((flv == 0 && now - drain_since_us_ >= G_USEC_PER_SEC) ||
        now - drain_since_us_ >= config_.drain_timeout_s * G_USEC_PER_SEC) {
      log_event (G_LOG_LEVEL_INFO, flv == 0 ? "the input produced nothing: "
          "ending it" : "the input stopped draining: ending it");
      input_ended_ = true;
      broadcast_->end_input (this);
    }
  }
}

void
WhipInput::send_pli ()
{
  keyframes_.requested (g_get_monotonic_time ());
  GstIterator *pads = gst_element_iterate_src_pads (webrtc_.get ());
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (pads, &item) == GST_ITERATOR_OK) {
    auto *pad = GST_PAD (g_value_get_object (&item));
    g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
    const char *media = caps ? gst_structure_get_string (
        gst_caps_get_structure (caps, 0), "media") : nullptr;
    if (media && g_str_equal (media, "video"))
      gst_pad_send_event (pad, keyframe_request_event ());
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (pads);
}

void
WhipInput::request_keyframe (const char *)
{
  if (webrtc_ && state_ != State::Negotiating)
    send_pli ();
}

/* The end of the media: EOS into each of the muxer's inputs, so what was
 * received is muxed, encoded and delivered, and flvsplice sees this
 * input end. */
void
WhipInput::end_media ()
{
  if (media_ended_)
    return;
  media_ended_ = true;
  if (!bin_) {
    leave_broadcast ();
    return;
  }
  drain_since_us_ = g_get_monotonic_time ();
  drain_bytes_ = progress_->flv_bytes;
  /* Each off the main loop, on its own: a track's streaming thread may
   * wait inside matroskamux (holding its pad's stream lock) for the other
   * track, which only the other's EOS ends. */
  for (const auto &[track, pad] : mux_pads_)
    gst_element_call_async (bin_.get (), [] (GstElement *, gpointer pad) {
          gst_pad_send_event (GST_PAD (pad), gst_event_new_eos ());
        }, gst_object_ref (pad.get ()), gst_object_unref);
  if (!broadcast_)
    leave_broadcast ();
}

/* A drop: like a WebSocket that went away without closing. The broadcast
 * shows the slate (with --continuity-timeout) until a new POST. */
void
WhipInput::drop (const std::string &why)
{
  if (!streaming ())
    return;
  bool continuous = broadcast_ && broadcast_->continuous ();
  log_event (G_LOG_LEVEL_MESSAGE, why + (continuous ? "; the broadcast goes "
          "on (slate) until the sender comes back" : ""));
  if (answered_) {
    auto answered = std::move (answered_);
    answered_ = nullptr;
    answered ("", why);
  }
  set_state (State::Ending);
  end_media ();
}

void
WhipInput::stop ()
{
  if (!streaming ())
    return;
  log_event (G_LOG_LEVEL_MESSAGE, "DELETE: the sender ended the stream");
  if (broadcast_)
    broadcast_->end_after (this);
  set_state (State::Ending);
  end_media ();
}

void
WhipInput::replace ()
{
  if (!streaming ())
    return;
  log_event (G_LOG_LEVEL_MESSAGE, "replaced by a newer offer with the same "
      "key");
  set_state (State::Ending);
  end_media ();
}

void
WhipInput::kick (const std::string &reason)
{
  if (!streaming ())
    return;
  log_event (G_LOG_LEVEL_MESSAGE, "kicked by the operator: " + reason);
  set_state (State::Ending);
  end_media ();
}

void
WhipInput::fail (const Failure &failure, const std::string &detail)
{
  if (state_ == State::Ended || state_ == State::Error)
    return;
  log_event (G_LOG_LEVEL_WARNING, "error: " + failure.reason + ": " +
      mask_key_in (detail, key_));
  if (answered_) {
    auto answered = std::move (answered_);
    answered_ = nullptr;
    answered ("", detail);
  }
  set_state (State::Error);
  end_media ();
}

void
WhipInput::on_message (GstMessage *message)
{
  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) error = nullptr;
      g_autofree char *debug = nullptr;
      gst_message_parse_error (message, &error, &debug);
      g_autofree char *origin = gst_object_get_path_string (
          GST_MESSAGE_SRC (message));
      fail (classify_error (message), std::string (origin) + ": " +
          error->message + (debug ? std::string (" (") + debug + ")" : ""));
      /* Its streaming thread stopped: the input ends here. */
      if (broadcast_ && !input_ended_) {
        input_ended_ = true;
        broadcast_->end_input (this);
      }
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
        log_event (G_LOG_LEVEL_MESSAGE, std::string ("video output: ") +
            gst_structure_get_string (s, "mode") + " (" +
            gst_structure_get_string (s, "reason") + ")");
      }
      break;
    default:
      break;
  }
}

void
WhipInput::input_active (bool resumed)
{
  if (!streaming () || on_air_)
    return;
  on_air_ = true;
  if (resumed)
    log_event (G_LOG_LEVEL_MESSAGE, "resumed the broadcast");
  if (broadcast_)
    broadcast_changed (broadcast_->state ());
}

void
WhipInput::broadcast_changed (Broadcast::State state)
{
  if (state == Broadcast::State::Live && on_air_ &&
      state_ == State::Connecting) {
    log_event (G_LOG_LEVEL_MESSAGE, "live");
    set_state (State::Live);
  }
}

void
WhipInput::broadcast_frame (JsonNode *frame)
{
  destinations_.reset (json_node_copy (frame), json_node_unref);
}

const char *
WhipInput::state_word () const
{
  if (state_ == State::Negotiating)
    return "connecting";
  /* The broadcast's own state while it is ours. */
  if (state_ == State::Live && broadcast_ &&
      broadcast_->state () == Broadcast::State::Reconnecting)
    return "reconnecting";
  return state_name (state_);
}

JsonNode *
WhipInput::status () const
{
  const char *state = state_word ();
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, state);
  json_builder_set_member_name (builder, "duration_s");
  json_builder_add_double_value (builder, broadcast_ ?
      broadcast_->duration_s () : (g_get_monotonic_time () - started_us_) /
      1e6);
  json_builder_set_member_name (builder, "bytes_in");
  json_builder_add_int_value (builder, progress_->rtp_bytes);
  json_builder_set_member_name (builder, "bitrate_kbps");
  json_builder_add_int_value (builder, bitrate_kbps_);
  json_builder_set_member_name (builder, "bytes_out");
  json_builder_add_int_value (builder, broadcast_ ? broadcast_->bytes_out () :
      0);
  json_builder_set_member_name (builder, "output");
  json_builder_add_string_value (builder, output_mode_.c_str ());
  json_builder_set_member_name (builder, "keyframe_interval_s");
  json_builder_add_double_value (builder, factory_.keyframe_interval_s ());
  json_builder_set_member_name (builder, "continuity_timeout_s");
  json_builder_add_int_value (builder, factory_.continuity_timeout_s ());
  json_builder_set_member_name (builder, "destinations");
  JsonNode *rows = destinations_ ? json_object_get_member (
      json_node_get_object (destinations_.get ()), "destinations") : nullptr;
  if (rows)
    json_builder_add_value (builder, json_node_copy (rows));
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

void
WhipInput::input_ended ()
{
  input_ended_ = true;
  leave_broadcast ();
}

void
WhipInput::broadcast_failed (const Failure &failure)
{
  fail (failure, "the broadcast failed");
}

void
WhipInput::broadcast_gone ()
{
  broadcast_ = nullptr;
  leaving_ = true;
  if (state_ != State::Error)
    set_state (State::Ended);
  schedule_finish ();
}

void
WhipInput::leave_broadcast ()
{
  if (leaving_)
    return;
  leaving_ = true;
  if (state_ != State::Error) {
    set_state (State::Ended);
    char text[96];
    g_snprintf (text, sizeof text, "ended after %.1f s, %" G_GUINT64_FORMAT
        " RTP bytes in", (g_get_monotonic_time () - started_us_) / 1e6,
        (guint64) progress_->rtp_bytes);
    log_event (G_LOG_LEVEL_MESSAGE, text);
  }
  if (!broadcast_) {
    schedule_finish ();
    return;
  }
  Broadcast *broadcast = broadcast_;
  broadcast_ = nullptr;
  broadcast->detach (this, [this] { schedule_finish (); });
}

void
WhipInput::schedule_finish ()
{
  if (answered_) {
    auto answered = std::move (answered_);
    answered_ = nullptr;
    answered ("", "the broadcast ended before the answer");
  }
  if (timer_) {
    g_source_remove (timer_);
    timer_ = 0;
  }
  if (!finish_idle_)
    finish_idle_ = g_idle_add (&WhipInput::on_finish_idle, this);
}

gboolean
WhipInput::on_finish_idle (gpointer data)
{
  auto *self = static_cast<WhipInput *> (data);
  self->finish_idle_ = 0;
  self->finished_ (self);
  return G_SOURCE_REMOVE;
}

}  // namespace wsrtmp
