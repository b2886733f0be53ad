/* WHIP (RFC 9725) over HTTP: POST /whip with an SDP offer and
 * Authorization: Bearer KEY[?token=EXPIRY.HMAC] answers 201 with the SDP
 * answer (our candidates in it: OBS trickles nothing), Location
 * (/whip/ID, the session resource), ETag, Accept-Patch and a Link per ICE
 * server; PATCH /whip/ID trickles candidates (204); DELETE /whip/ID ends
 * the stream as the page's Stop does (200); GET /whip/ID, with the POST's
 * bearer, answers the session's status as JSON (state, duration, bitrates,
 * destinations: the WebSocket's frames, polled by the page); OPTIONS
 * answers 204. CORS on
 * every answer. Errors are JSON {"kind", "message"}: 401 no bearer, 403 a
 * key or token refused (after a pause, against guessing) or banned, 415
 * not SDP, 400 an offer we cannot answer (which m-line, why), 413 a body
 * over 64 KiB, 429 too many offers pending from one address (or
 * --max-connections-per-ip), 503 at capacity or draining, 404 an unknown
 * resource.
 *
 * Admission is the WebSocket's (admit (), admission.h) and the broadcast
 * the same key's: the Host (the Server) places each admitted offer. With
 * --on-publish the POST is held until the hook answered (transport
 * "whip"; a refusal is 403, kind "refused", with the hook's reason), then
 * admitted again (what changed meanwhile counts). The
 * endpoint owns the WhipInputs (whip_input.h) and their resource IDs.
 *
 * Main thread only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "admission.h"
#include "broadcast.h"
#include "broadcast_view.h"
#include "daemon_config.h"
#include "hook_client.h"
#include "metrics.h"
#include "pipeline_factory.h"
#include "whip_input.h"

#include <libsoup/soup.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace wsrtmp {

/* Where WHIP senders POST. */
constexpr const char *WHIP_PATH = "/whip";

class WhipEndpoint {
 public:
  /* What the endpoint needs of the Server. */
  class Host {
   public:
    /* The client's address (through a trusted proxy: whom it names). */
    virtual std::string client_of (SoupServerMessage *msg) const = 0;
    virtual AdmissionState admission_state (const std::string &peer)
        const = 0;
    /* Ends the key's older inputs (WebSocket or WHIP): the newest takes
     * over. */
    virtual void take_over (const std::string &key) = 0;
    /* The broadcast an admitted input feeds (joined or started; resumed:
     * it was running; verdict: the hook's, nullptr when none). nullptr
     * with failure when it cannot start. */
    virtual Broadcast *place (const Admission &admission,
        const PublishVerdict *verdict, bool &resumed, Failure &failure,
        std::string &detail) = 0;
    /* An input of peer's began or finished (per-address counts). */
    virtual void input_began (const std::string &peer) = 0;
    virtual void input_finished (const std::string &peer) = 0;
    /* --on-publish: whether it is set; asking it (done runs later, from
     * the main loop, unless cancelled); the id to cancel with. */
    virtual bool has_publish_hook () const = 0;
    virtual guint64 ask_publish_hook (const PublishRequest &request,
        std::function<void (const PublishVerdict &)> done) = 0;
    virtual void cancel_publish_hook (guint64 id) = 0;

   protected:
    ~Host () = default;
  };

  /* metrics: each input counts as a session (sessions_active, _total),
   * a refused POST as a refused one. */
  WhipEndpoint (const Config &config, const PipelineFactory &factory,
      Metrics &metrics, Host &host);
  ~WhipEndpoint ();
  WhipEndpoint (const WhipEndpoint &) = delete;
  WhipEndpoint &operator= (const WhipEndpoint &) = delete;

  /* Adds /whip and /whip/ID to soup. */
  void add_routes (SoupServer *soup);

  /* The key's WHIP inputs end: a newer input (WebSocket or WHIP) takes
   * over. */
  void replace (const std::string &key);
  /* The operator kicked key (Broadcast::end_by_operator ends it). */
  void kick (const std::string &key, const std::string &reason);
  /* Server shutdown: every input delivers what it received and ends. */
  void shutdown ();
  size_t input_count () const { return inputs_.size (); }
  /* The inputs feeding broadcast, for the admin API. */
  std::vector<InputView> inputs_of (const Broadcast *broadcast) const;

 private:
  void handle_post (SoupServerMessage *msg);
  /* The held POST's request, once the hook allowed it: admitted again. */
  void hook_answered (SoupServerMessage *msg, const std::string &peer,
      const AdmissionRequest &request, const std::string &offer,
      const PublishVerdict &verdict);
  /* An admitted offer we can read: its input, the answer (the message is
   * paused, and unpaused once answered). */
  void publish (SoupServerMessage *msg, const std::string &peer,
      const Admission &admission, const std::string &bearer,
      const std::string &offer, const PublishVerdict *verdict);
  static void on_held_finished (SoupServerMessage *msg, gpointer self);
  void handle_resource (SoupServerMessage *msg, const std::string &id);
  void answer_later (SoupServerMessage *msg, guint status,
      const std::string &kind, const std::string &message, guint delay_ms);
  void input_finished (WhipInput *input);
  std::string link_header () const;
  void add_cors (SoupServerMessage *msg) const;

  static void on_request (SoupServer *server, SoupServerMessage *msg,
      const char *path, GHashTable *query, gpointer self);
  static gboolean on_reap_idle (gpointer self);

  const Config &config_;
  const PipelineFactory &factory_;
  Metrics &metrics_;
  Host &host_;
  /* A session resource (Location): its input, and the POST's bearer,
   * which reading its status takes again. */
  struct Resource {
    guint64 input_id;
    std::string bearer;
  };
  void answer_status (SoupServerMessage *msg, const Resource &resource,
      const WhipInput &input);

  /* Every input until it finished, by id; the resource IDs (Location)
   * of those not yet deleted. */
  std::map<guint64, std::unique_ptr<WhipInput>> inputs_;
  std::map<std::string, Resource> resources_;
  std::vector<std::unique_ptr<WhipInput>> finished_;
  /* POSTs held (paused, a reference each) for the hook: its request id
   * and the sender's address. */
  struct HeldPost {
    guint64 hook_id;
    std::string peer;
  };
  std::map<SoupServerMessage *, HeldPost> held_for_hook_;
  /* Offers waiting for their answer (or the hook), per client address. */
  std::map<std::string, int> pending_per_peer_;
  guint64 next_id_ = 1;
  guint reap_idle_ = 0;
  /* webrtcbin and libnice's elements are installed. */
  const bool available_;
};

}  // namespace wsrtmp
