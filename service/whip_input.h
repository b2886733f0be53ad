/* One WHIP sender feeding one broadcast: the second kind of Input (input.h)
 * beside the WebSocket Session. Its bin is webrtcbin (ICE, DTLS, SRTP, the
 * jitterbuffer, NACK/RTX) ! a depayloader per track ! matroskamux !
 * flvencodebin, so the media takes the WebSocket path's road from there:
 * H.264 passed through (SPS/PPS before every IDR), Opus to AAC with the
 * daemon's audio settings, VP8/VP9 transcoded, keyframes at most
 * keyframe-interval apart (else flvencodebin transcodes from there).
 *
 * The HTTP side (the offer, the answer, trickle, DELETE) is the
 * WhipEndpoint's (whip_endpoint.h); this class answers an offer it was
 * given (whip_offer.h made it one we take) and runs the media.
 *
 * Ends: stop () (DELETE: the show is over, like the page's Stop), replace
 * () (a newer POST with the same key takes over), a drop (ICE failed, or
 * no media for --idle-timeout s: the broadcast shows the slate as for a
 * WebSocket drop), kick () (the operator).
 *
 * Main thread only; webrtcbin's own threads reach it only through
 * main-context callbacks that check it is still there (Relay).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "broadcast.h"
#include "daemon_config.h"
#include "failure.h"
#include "input.h"
#include "keyframe_pacer.h"
#include "metrics.h"
#include "pipeline_factory.h"
#include "util.h"
#include "whip_offer.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wsrtmp {

class WhipInput final : public Input, public Broadcast::Listener {
 public:
  enum class State { Negotiating, Connecting, Live, Ending, Ended, Error };
  /* The answer's SDP (with our candidates), or "" and why not. */
  using AnswerCallback = std::function<void (const std::string &answer,
      const std::string &error)>;
  /* Called from an idle callback once the input may be destroyed. */
  using FinishedCallback = std::function<void (WhipInput *)>;

  /* Counted in metrics as a session from here to the destructor. */
  WhipInput (guint64 id, std::string key, std::string peer,
      const Config &config, const PipelineFactory &factory, Metrics &metrics,
      FinishedCallback finished);
  ~WhipInput ();
  WhipInput (const WhipInput &) = delete;
  WhipInput &operator= (const WhipInput &) = delete;

  /* Joins broadcast and answers offer (an SDP we take: whip_offer.h);
   * answered runs once, on the main thread, after ICE gathering completed
   * (or WHIP_GATHERING_TIMEOUT_US passed): OBS sends no trickle, so the
   * answer must hold our candidates. */
  void start (Broadcast *broadcast, bool resumed, const std::string &offer,
      AnswerCallback answered);
  /* Trickle (PATCH): a=candidate lines for the m-line of each a=mid
   * before them (or the first). False with why when none parsed. */
  bool add_candidates (const std::string &fragment, std::string &why);
  /* DELETE: the show is over; what was received is delivered, no slate. */
  void stop ();
  /* A newer POST with the same key takes over. */
  void replace ();
  /* The operator ended the stream (Broadcast::end_by_operator ends the
   * broadcast). */
  void kick (const std::string &reason);

  /* Input. */
  GstElement *element () const override { return bin_.get (); }
  void on_message (GstMessage *message) override;
  void finish () override { drop ("server shutting down"); }
  /* A PLI to the sender (browsers honour it; OBS does not). */
  void request_keyframe (const char *reason) override;

  /* Broadcast::Listener: nothing to tell a WHIP sender but by ending. */
  void broadcast_changed (Broadcast::State state) override;
  void input_active (bool resumed) override;
  void input_ended () override;
  void broadcast_failed (const Failure &failure) override;
  void broadcast_gone () override;
  /* The destinations' rows, kept for status (). */
  void broadcast_frame (JsonNode *frame) override;

  /* What GET <Location> answers (the sender's view, as the WebSocket's
   * stats, state and destinations frames tell it): state, duration_s,
   * bytes_in, bitrate_kbps, bytes_out, output, keyframe_interval_s,
   * continuity_timeout_s, destinations. A new node the caller frees. */
  JsonNode *status () const;

  guint64 id () const { return id_; }
  const std::string &key () const { return key_; }
  const std::string &peer () const { return peer_; }
  State state () const { return state_; }
  static const char *state_name (State state);
  /* The state in the page's words (connecting, live, reconnecting: the
   * broadcast's RTMP side, ending, ended, error). */
  const char *state_word () const;
  gint64 connected_unix_us () const { return connected_unix_us_; }
  const std::string &output_mode () const { return output_mode_; }
  guint bitrate_kbps () const { return bitrate_kbps_; }
  const Broadcast *broadcast () const { return broadcast_; }
  /* The sender's ICE username fragment (from its offer). */
  const std::string &ice_ufrag () const { return ice_ufrag_; }

  /* Main-context callbacks from webrtcbin's threads land here only while
   * the input lives (owner is cleared by the destructor, on the main
   * thread, where the callbacks run). */
  struct Relay {
    WhipInput *owner;           /* main thread only */
  };

 private:
  /* twcc_ext_id: the offer's (whip_offer.h), 0 when none. */
  bool build (int twcc_ext_id, std::string &error);
  void on_answer_created ();
  void on_gathering_done ();
  void answer_now ();
  void on_ice_state (int state);
  void on_tick ();
  void drop (const std::string &why);
  void end_media ();
  void leave_broadcast ();
  void schedule_finish ();
  void set_state (State state);
  void fail (const Failure &failure, const std::string &detail);
  void log_event (GLogLevelFlags level, const std::string &text) const;
  bool streaming () const { return state_ == State::Negotiating ||
      state_ == State::Connecting || state_ == State::Live; }
  void send_pli ();
  /* Runs fn on the main thread if this input still lives then. */
  void on_main (std::function<void (WhipInput *)> fn) const;

  static void on_pad_added (GstElement *webrtc, GstPad *pad, gpointer data);
  static gboolean on_timer (gpointer self);
  static gboolean on_gathering_timeout (gpointer self);
  static gboolean on_finish_idle (gpointer self);

  const guint64 id_;
  const std::string key_;
  const std::string peer_;
  const Config &config_;
  const PipelineFactory &factory_;
  Metrics &metrics_;
  FinishedCallback finished_;
  std::shared_ptr<Relay> relay_;

  Broadcast *broadcast_ = nullptr;      /* until detached or gone */
  GstObjectPtr<GstElement> bin_;
  GstObjectPtr<GstElement> webrtc_;
  GstObjectPtr<GstElement> mux_;
  /* The muxer's input per track of the offer, requested before any media
   * (matroskamux takes no pad once it wrote its header): "video",
   * "audio". Read by webrtcbin's pad-added (streaming thread), written
   * only before the bin runs. */
  std::vector<std::pair<std::string, GstObjectPtr<GstPad>>> mux_pads_;
  /* The a=mid of each m-line of the offer, in order (for trickle). */
  std::vector<std::string> mids_;
  std::string ice_ufrag_;
  AnswerCallback answered_;
  State state_ = State::Negotiating;
  const gint64 started_us_ = g_get_monotonic_time ();
  const gint64 connected_unix_us_ = g_get_real_time ();
  guint timer_ = 0, gathering_timer_ = 0, finish_idle_ = 0;
  bool leaving_ = false, input_ended_ = false, media_ended_ = false;
  bool on_air_ = false;
  bool ice_connected_ = false;

  /* What the bin's streaming threads report (probes hold refs). */
  struct Progress {
    std::atomic<guint64> rtp_bytes { 0 };       /* RTP out of webrtcbin */
    std::atomic<guint64> flv_bytes { 0 };       /* FLV out of the bin */
    std::atomic<gint64> keyframe_us { 0 };      /* last video keyframe */
  };
  std::shared_ptr<Progress> progress_ = std::make_shared<Progress> ();
  /* Media timeout: rtp_bytes last seen changing at media_since_us_. */
  guint64 media_bytes_ = 0;
  gint64 media_since_us_ = 0;
  /* The RTP bitrate over the last second (status ()). */
  guint64 rate_bytes_ = 0;
  gint64 rate_since_us_ = 0;
  guint bitrate_kbps_ = 0;
  /* flvencodebin's video output ("passthrough", "transcode"). */
  std::string output_mode_;
  /* The broadcast's last destinations frame (null until one came). */
  std::shared_ptr<JsonNode> destinations_;
  /* How often the input looks at its media (timeouts, keyframes due). */
  static constexpr gint64 TICK_US = 250 * 1000;
  /* When to ask for the next keyframe; progress_->keyframe_us as last
   * told to it. */
  KeyframePacer keyframes_ { TICK_US };
  gint64 seen_keyframe_us_ = 0;
  /* After the media ended: FLV output last seen growing then. */
  guint64 drain_bytes_ = 0;
  gint64 drain_since_us_ = 0;
};

}  // namespace wsrtmp
