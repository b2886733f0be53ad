/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "client_address.h"

#include <cstring>

namespace wsrtmp {

namespace {

/* The address's text; an IPv4-mapped IPv6 address (a dual-stack socket's
 * IPv4 peer) as plain IPv4, so "192.0.2.1" matches it. */
std::string
canonical_text (GInetAddress *address)
{
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6) {
    const guint8 *bytes = g_inet_address_to_bytes (address);
    static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
      0xff };
    if (memcmp (bytes, mapped, sizeof mapped) == 0) {
      g_autoptr (GInetAddress) ipv4 = g_inet_address_new_from_bytes (
          bytes + 12, G_SOCKET_FAMILY_IPV4);
      g_autofree char *text = g_inet_address_to_string (ipv4);
      return text;
    }
  }
  g_autofree char *text = g_inet_address_to_string (address);
  return text;
}

/* An address literal as a header carries it: "192.0.2.1", "192.0.2.1:4711",
 * "[2001:db8::1]:4711", "2001:db8::1", optionally in double quotes. The
 * canonical text of the address, or "" when it is none. */
std::string
address_of (std::string text)
{
  if (text.size () >= 2 && text.front () == '"' && text.back () == '"')
    text = text.substr (1, text.size () - 2);
  if (!text.empty () && text.front () == '[') {
    auto close = text.find (']');
    if (close == std::string::npos)
      return "";
    text = text.substr (1, close - 1);
  } else if (text.find (':') == text.rfind (':')) {
    /* One colon at most: IPv4 with a port. */
    text = text.substr (0, text.find (':'));
  }
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (
      text.c_str ());
  return address ? canonical_text (address) : "";
}

/* The hops of X-Forwarded-For ("client, proxy1, proxy2"), left to right. */
std::vector<std::string>
x_forwarded_for_hops (const char *header)
{
  std::vector<std::string> hops;
  g_auto (GStrv) parts = g_strsplit (header, ",", -1);
  for (char **part = parts; *part; part++)
    hops.push_back (g_strstrip (*part));
  return hops;
}

/* The for= of each element of Forwarded ("for=192.0.2.60;proto=http,
 * for=\"[2001:db8::1]\""), left to right; "" for an element without one. */
std::vector<std::string>
forwarded_hops (const char *header)
{
  std::vector<std::string> hops;
  g_auto (GStrv) elements = g_strsplit (header, ",", -1);
  for (char **element = elements; *element; element++) {
    std::string hop;
    g_auto (GStrv) pairs = g_strsplit (*element, ";", -1);
    for (char **pair = pairs; *pair; pair++) {
      char *text = g_strstrip (*pair);
      if (g_ascii_strncasecmp (text, "for=", 4) == 0)
        hop = g_strstrip (text + 4);
    }
    hops.push_back (hop);
  }
  return hops;
}

}  // namespace

bool
TrustedProxies::parse (const std::string &list, std::string &error)
{
  g_auto (GStrv) parts = g_strsplit (list.c_str (), ",", -1);
  for (char **part = parts; *part; part++) {
    const char *text = g_strstrip (*part);
    if (!*text)
      continue;
    g_autoptr (GError) gerror = nullptr;
    /* GIO checks the length against the address family, but a length
     * over 128 first trips a GObject warning on its way there. */
    const char *slash = strchr (text, '/');
    guint64 length = 0;
    GInetAddressMask *mask = slash && !g_ascii_string_to_unsigned (slash + 1,
        10, 0, 128, &length, nullptr) ? nullptr :
        g_inet_address_mask_new_from_string (text, &gerror);
    if (!mask) {
      error = std::string ("--trusted-proxies: \"") + text + "\" is not an "
          "IP address or network (ADDRESS/PREFIX-LENGTH)";
      return false;
    }
    masks_.emplace_back (mask, g_object_unref);
  }
  return true;
}

bool
TrustedProxies::contains (const std::string &text) const
{
  std::string canonical = address_of (text);
  g_autoptr (GInetAddress) address = canonical.empty () ? nullptr :
      g_inet_address_new_from_string (canonical.c_str ());
  if (!address)
    return false;
  for (const auto &mask : masks_) {
    if (g_inet_address_mask_matches (mask.get (), address))
      return true;
  }
  return false;
}

std::string
client_address (const TrustedProxies &trusted, const std::string &peer,
    const char *forwarded, const char *x_forwarded_for)
{
  if (!trusted.contains (peer))
    return peer;
  /* The peer as a trusted hop is written the way the hops are. */
  std::string client = address_of (peer);
  std::vector<std::string> hops;
  if (x_forwarded_for)
    hops = x_forwarded_for_hops (x_forwarded_for);
  else if (forwarded)
    hops = forwarded_hops (forwarded);
  for (auto hop = hops.rbegin (); hop != hops.rend (); ++hop) {
    std::string address = address_of (*hop);
    if (address.empty ())
      break;
    client = address;
    if (!trusted.contains (address))
      break;
  }
  return client;
}

std::string
client_address (const TrustedProxies &trusted, const std::string &peer,
    SoupMessageHeaders *headers)
{
  if (trusted.empty ())
    return peer;
  /* Repeated header lines come joined with ", ", in order. */
  return client_address (trusted, peer,
      soup_message_headers_get_list (headers, "Forwarded"),
      soup_message_headers_get_list (headers, "X-Forwarded-For"));
}

}  // namespace wsrtmp
