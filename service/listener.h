/* The listening side of wsrtmpd's HTTP server: the SoupServer (https and
 * wss with --tls-cert) bound to --listen, and what keeps its connections
 * from piling up: the --handshake-timeout on a request being read, every
 * response closing its connection (but a WebSocket upgrade under
 * upgrade_prefix), and the socket of a request libsoup could not parse
 * closed. The routes are the Server's.
 *
 * Lives on the main thread; the Server owns it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "daemon_config.h"
#include "util.h"

#include <libsoup/soup.h>

#include <functional>
#include <string>

namespace wsrtmp {

class Listener {
 public:
  /* upgrade_prefix: the path prefix where WebSocket upgrades are made. */
  Listener (const Config &config, std::string upgrade_prefix);
  /* Stops listening (the connections handed over live on). */
  ~Listener ();
  Listener (const Listener &) = delete;
  Listener &operator= (const Listener &) = delete;

  /* Creates the SoupServer, lets add_routes add its handlers, then binds
   * the listening socket; on success the actual URL (port 0 becomes the
   * port the system chose) is in url. */
  bool listen (const std::function<void (SoupServer *)> &add_routes,
      std::string &url, std::string &error);

 private:
  static void on_request_started (SoupServer *server, SoupServerMessage *msg,
      gpointer self);
  static void on_request_read (SoupServer *server, SoupServerMessage *msg,
      gpointer self);
  static void on_request_finished (SoupServer *server,
      SoupServerMessage *msg, gpointer self);

  const Config &config_;
  const std::string upgrade_prefix_;
  GObjectPtr<SoupServer> soup_;
};

}  // namespace wsrtmp
