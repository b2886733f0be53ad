/* The admin API (--admin-listen): an operator's HTTP interface, on a
 * SoupServer of its own, apart from the streamers' listener. Every request
 * needs "Authorization: Bearer TOKEN" with --admin-token-file's token
 * (compared in constant time; re-read on SIGHUP with the other files);
 * without a token file it asks none, which daemon_config allows on a
 * loopback address only. doc/openapi.yaml describes the routes:
 *
 *   GET  /api/v1/broadcasts                     every broadcast
 *   GET  /api/v1/broadcasts/{key}               one (404 if none)
 *   POST /api/v1/broadcasts/{key}/kick          {"ban_s":N,"reason":"…"}
 *   POST /api/v1/broadcasts/{key}/destinations/{name}/stop|start
 *   GET  /api/v1/recordings                     every recording
 *   GET  /api/v1/recordings/{name}              one file (Range: 206)
 *
 * Errors are JSON, {"error":"…","kind":"…"}, as the streams' are:
 * unauthorized (401, nothing else said), bad_request (400), not_found
 * (404), method_not_allowed (405).
 *
 * Lives on the main thread; main.cpp owns it, beside the Server whose
 * broadcasts it shows and acts on (broadcast_view.h, Server::kick).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "daemon_config.h"
#include "server.h"
#include "util.h"

#include <libsoup/soup.h>

#include <string>

namespace wsrtmp {

/* True when header is "Bearer " + token (constant time in the token's
 * bytes). An empty token accepts every request. */
bool admin_authorized (const std::string &token, const char *header);

class AdminApi {
 public:
  AdminApi (const Config &config, Server &server);
  ~AdminApi ();
  AdminApi (const AdminApi &) = delete;
  AdminApi &operator= (const AdminApi &) = delete;

  /* Binds --admin-listen; on success url is where it answers
   * (http://HOST:PORT/, port 0 made the real one). */
  bool listen (std::string &url, std::string &error);

 private:
  void handle (SoupServerMessage *msg, const std::string &path);
  void list (SoupServerMessage *msg);
  void show (SoupServerMessage *msg, const std::string &key);
  void kick (SoupServerMessage *msg, const std::string &key);
  void control (SoupServerMessage *msg, const std::string &key,
      const std::string &name, bool on);
  static void on_request (SoupServer *server, SoupServerMessage *msg,
      const char *path, GHashTable *query, gpointer self);
  static void on_request_started (SoupServer *server, SoupServerMessage *msg,
      gpointer self);

  const Config &config_;
  Server &server_;
  GObjectPtr<SoupServer> soup_;
};

}  // namespace wsrtmp
