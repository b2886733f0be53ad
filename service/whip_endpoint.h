/* WHIP (RFC 9725) over HTTP: POST /whip with an SDP offer and
 * Authorization: Bearer KEY[?token=EXPIRY.HMAC] answers 201 with the SDP
 * answer (our candidates in it: OBS trickles nothing), Location
 * (/whip/ID, the session resource), ETag, Accept-Patch and a Link per ICE
 * server; PATCH /whip/ID trickles candidates (204); DELETE /whip/ID ends
 * the stream as the page's Stop does (200); OPTIONS answers 204. CORS on
 * every answer. Errors are JSON {"kind", "message"}: 401 no bearer, 403 a
 * key or token refused (after a pause, against guessing) or banned, 415
 * not SDP, 400 an offer we cannot answer (which m-line, why), 413 a body
 * over 64 KiB, 429 too many offers pending from one address (or
 * --max-connections-per-ip), 503 at capacity or draining, 404 an unknown
 * resource.
 *
 * Admission is the WebSocket's (admit (), admission.h) and the broadcast
 * the same key's: the Host (the Server) places each admitted offer. The
 * endpoint owns the WhipInputs (whip_input.h) and their resource IDs.
 *
 * Main thread only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "admission.h"
#include "broadcast.h"
#include "daemon_config.h"
#include "pipeline_factory.h"
#include "whip_input.h"

#include <libsoup/soup.h>

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
     * it was running). nullptr with failure when it cannot start. */
    virtual Broadcast *place (const Admission &admission, bool &resumed,
        Failure &failure, std::string &detail) = 0;
    /* An input of peer's began or finished (per-address counts). */
    virtual void input_began (const std::string &peer) = 0;
    virtual void input_finished (const std::string &peer) = 0;
    /* The publish hook is configured (not asked for WHIP yet). */
    virtual bool has_publish_hook () const = 0;

   protected:
    ~Host () = default;
  };

  WhipEndpoint (const Config &config, const PipelineFactory &factory,
      Host &host);
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

 private:
  void handle_post (SoupServerMessage *msg);
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
  Host &host_;
  /* Every input until it finished, by id; the resource IDs (Location)
   * of those not yet deleted. */
  std::map<guint64, std::unique_ptr<WhipInput>> inputs_;
  std::map<std::string, guint64> resources_;
  std::vector<std::unique_ptr<WhipInput>> finished_;
  /* Offers waiting for their answer, per client address. */
  std::map<std::string, int> pending_per_peer_;
  guint64 next_id_ = 1;
  guint reap_idle_ = 0;
  /* webrtcbin and libnice's elements are installed. */
  const bool available_;
};

}  // namespace wsrtmp
