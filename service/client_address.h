/* The address a client really has. Behind a reverse proxy every TCP peer
 * is the proxy; a proxy we trust (--trusted-proxies) names the client in
 * X-Forwarded-For or the RFC 7239 Forwarded header. Each proxy appends the
 * address it received from, so the list is read from the right: the first
 * address that is not itself a trusted proxy is the client. What an
 * untrusted peer sends in these headers is ignored (anyone can write
 * them).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <memory>
#include <string>
#include <vector>

namespace wsrtmp {

class TrustedProxies {
 public:
  /* A comma-separated list of IPv4/IPv6 addresses and CIDR networks
   * ("10.0.0.5, 192.168.0.0/16, ::1"); false with a message on a bad one. */
  bool parse (const std::string &list, std::string &error);
  bool empty () const { return masks_.empty (); }
  /* True when address (text, as an address literal) is trusted. */
  bool contains (const std::string &address) const;

 private:
  std::vector<std::shared_ptr<GInetAddressMask>> masks_;
};

/* The client's address as text. peer: the TCP peer's address. forwarded
 * and x_forwarded_for: the request's headers (nullptr when absent;
 * several header lines joined with ", "). X-Forwarded-For, the one common
 * proxies write, is read when present, Forwarded otherwise. An entry that
 * is not an address ("unknown", an obfuscated name) ends the walk at the
 * proxy that wrote it: its address is the best we know. */
std::string client_address (const TrustedProxies &trusted,
    const std::string &peer, const char *forwarded,
    const char *x_forwarded_for);
/* The same for a request's headers. */
std::string client_address (const TrustedProxies &trusted,
    const std::string &peer, SoupMessageHeaders *headers);

}  // namespace wsrtmp
