/* Where a SoupServer listens: the one way wsserversrc (host, port) and
 * wsrtmpd (--listen) turn a host and port into listening sockets, and read
 * back the port the system picked for port 0.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include <string>

namespace wsrtmp {

/* Listens on host:port: "localhost" (or "") means the loopback addresses
 * (IPv4 and IPv6), an address literal itself, a name its first resolved
 * address. The caller's thread-default main context serves the sockets. */
bool listen_on_host (SoupServer *server, const std::string &host, guint port,
    SoupServerListenOptions options, GError **error);

/* The port the server's first listener has (0 when none). */
guint listening_port (SoupServer *server);

}  // namespace wsrtmp
