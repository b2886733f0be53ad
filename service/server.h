/* The HTTP routes and who streams: /healthz, /livez, /metrics, the page
 * (StaticFiles), and the WebSocket ingest route that admits clients
 * (admit (), admission.h) and creates a Session for each, joining its
 * key's Broadcast or starting one. Like GstRTSPServer it only listens
 * (Listener) and creates clients; the streaming lives in Session,
 * Broadcast and Media.
 *
 * Lives on the main thread. Owns the Listener, the sessions and the
 * broadcasts; a finished session or broadcast is destroyed from the
 * server's own idle callback, never from inside its own callback.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "admission.h"
#include "bans.h"
#include "broadcast.h"
#include "broadcast_view.h"
#include "daemon_config.h"
#include "hook_client.h"
#include "listener.h"
#include "load_watch.h"
#include "metrics.h"
#include "pipeline_factory.h"
#include "recording_finisher.h"
#include "recording_index.h"
#include "session.h"
#include "static_files.h"
#include "util.h"
#include "webhooks.h"
#include "whip_endpoint.h"

#include <libsoup/soup.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace wsrtmp {

class Server final : private WhipEndpoint::Host {
 public:
  Server (const Config &config, const PipelineFactory &factory);
  ~Server ();
  Server (const Server &) = delete;
  Server &operator= (const Server &) = delete;

  /* Binds the listening socket; on success the actual URL (port 0 becomes
   * the port the system chose) is in url. */
  bool listen (std::string &url, std::string &error);

  /* Refuses new clients and ends every session so it drains; done runs
   * once the last one finished (possibly right away). */
  void shutdown (std::function<void ()> done);

  Metrics &metrics () { return metrics_; }
  size_t session_count () const { return sessions_.size (); }

  /* For the admin API (admin_api.h). */
  /* Every broadcast, oldest first. */
  const std::vector<std::unique_ptr<Broadcast>> &broadcasts () const {
    return broadcasts_; }
  /* The broadcast the key's streamer sees now: its running one, else the
   * newest (nullptr: none). */
  Broadcast *find_broadcast (const std::string &key) const;
  /* The inputs feeding broadcast (WebSocket and WHIP), oldest first. */
  std::vector<InputView> inputs_of (const Broadcast *broadcast) const;
  /* The operator ends key's broadcast: its connections are closed with
   * kind "kicked" and reason, the broadcast ends after what was received
   * is delivered (no slate); for ban_s seconds (0: none) the key is
   * refused ("banned"). False when key has no broadcast. */
  bool kick (const std::string &key, gint64 ban_s, const std::string &reason);
  const Bans &bans () const { return bans_; }
  /* What --record-dir holds (recordings_api.h). */
  const RecordingIndex &recordings () const { return recordings_; }

 private:
  /* WhipEndpoint::Host: WHIP senders are admitted and placed as the
   * WebSocket's are. */
  std::string client_of (SoupServerMessage *msg) const override {
    return client_of (msg, true); }
  AdmissionState admission_state (const std::string &peer) const override;
  void take_over (const std::string &key) override;
  Broadcast *place (const Admission &admission,
      const PublishVerdict *verdict, bool &resumed, Failure &failure,
      std::string &detail) override;
  void input_began (const std::string &peer) override;
  void input_finished (const std::string &peer) override;
  bool has_publish_hook () const override { return publish_hook_ != nullptr; }
  guint64 ask_publish_hook (const PublishRequest &request,
      std::function<void (const PublishVerdict &)> done) override;
  void cancel_publish_hook (guint64 id) override;
  /* The hook's verdict in the log and /metrics. */
  void note_publish_verdict (const std::string &peer, const std::string &key,
      const PublishVerdict &verdict);
  /* The broadcast for an admitted input (joined or started); the hook's
   * verdict (nullptr: none) chooses a new one's destinations. */
  Broadcast *place_broadcast (const Admission &admission,
      const PublishVerdict *verdict, bool &resumed, Failure &failure,
      std::string &detail);

  /* "ok", or why this node should get no new streams: "draining" (it is
   * shutting down) or "full" (--max-sessions broadcasts run, or the
   * overload guard refuses new ones). */
  const char *readiness () const;
  void handle_healthz (SoupServerMessage *msg);
  void handle_livez (SoupServerMessage *msg);
  bool decline_while_draining (SoupServerMessage *msg);
  void handle_metrics (SoupServerMessage *msg);
  /* The client's address (through a trusted proxy: whom it names). */
  std::string client_of (SoupServerMessage *msg, bool log) const;
  /* --on-publish: a handshake that admission would let in is held
   * (paused) until the hook answered; its verdict goes with the message
   * to handle_websocket. */
  void ask_publish_hook (SoupServerMessage *msg, const char *path);
  void publish_answered (SoupServerMessage *msg, const PublishVerdict &verdict);
  static void on_held_message_finished (SoupServerMessage *msg,
      gpointer self);
  void handle_websocket (SoupServerMessage *msg, const char *path,
      SoupWebsocketConnection *conn);
  void refuse (SoupWebsocketConnection *conn, const std::string &peer,
      const std::string &key, gushort code, const std::string &reason,
      const std::string &kind);
  void session_finished (Session *session);
  /* An MP4 segment opened or closed (Broadcast::SegmentSink); a closed
   * one is finalised, then announced (recording.completed). */
  void on_segment (const std::string &key, guint64 broadcast,
      const GstStructure *message);
  void broadcast_finished (Broadcast *broadcast);

  static void on_request (SoupServer *server, SoupServerMessage *msg,
      const char *path, GHashTable *query, gpointer self);
  static void on_ingest_request (SoupServer *server, SoupServerMessage *msg,
      const char *path, GHashTable *query, gpointer self);
  static void on_upgraded (SoupServerMessage *msg, gpointer self);
  static gboolean on_reap_idle (gpointer self);

  const Config &config_;
  const PipelineFactory &factory_;
  Metrics metrics_;
  /* --on-publish and --webhook-url (nullptr when not given). */
  std::unique_ptr<HookClient> publish_hook_;
  std::unique_ptr<Webhooks> webhooks_;
  /* The overload guard: samples the broadcasts_ once a second. */
  std::unique_ptr<LoadWatch> load_watch_;
  /* Handshakes held for the hook: the message (a reference) and its
   * request's id. */
  std::map<SoupServerMessage *, guint64> held_;
  std::map<std::string, int> held_per_peer_;
  /* Before the sessions and broadcasts: destroyed after them. */
  Listener listener_;
  StaticFiles static_files_;
  std::map<guint64, std::unique_ptr<Session>> sessions_;
  std::vector<std::unique_ptr<Session>> finished_;
  /* Oldest first: per key, at most one running and the newer ones waiting
   * for it to leave the RTMP server. */
  std::vector<std::unique_ptr<Broadcast>> broadcasts_;
  std::vector<std::unique_ptr<Broadcast>> finished_broadcasts_;
  guint64 next_broadcast_id_ = 1;
  /* WebSocket sessions and WHIP inputs per client address. */
  std::map<std::string, int> sessions_per_peer_;
  /* POST /whip (after the broadcasts: its inputs are destroyed first). */
  WhipEndpoint whip_ { config_, factory_, metrics_, *this };
  Bans bans_;
  guint reap_idle_ = 0;
  guint64 next_id_ = 1;
  bool shutting_down_ = false;
  std::function<void ()> shutdown_done_;
  RecordingIndex recordings_;
  /* After webhooks_ and recordings_, which its callbacks use: destroyed
   * before them. */
  RecordingFinisher finisher_;
};

}  // namespace wsrtmp
