/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "wslisten.h"

namespace wsrtmp {

bool
listen_on_host (SoupServer *server, const std::string &host, guint port,
    SoupServerListenOptions options, GError **error)
{
  if (host.empty () || host == "localhost")
    return soup_server_listen_local (server, port, options, error);
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (
      host.c_str ());
  if (!address) {
    g_autoptr (GResolver) resolver = g_resolver_get_default ();
    GList *addresses = g_resolver_lookup_by_name (resolver, host.c_str (),
        nullptr, error);
    if (!addresses)
      return false;
    address = G_INET_ADDRESS (g_object_ref (addresses->data));
    g_resolver_free_addresses (addresses);
  }
  g_autoptr (GSocketAddress) socket_address = g_inet_socket_address_new (
      address, port);
  return soup_server_listen (server, socket_address, options, error);
}

guint
listening_port (SoupServer *server)
{
  for (GSList *l = soup_server_get_listeners (server); l; l = l->next) {
    g_autoptr (GSocketAddress) local = g_socket_get_local_address (
        G_SOCKET (l->data), nullptr);
    if (local && G_IS_INET_SOCKET_ADDRESS (local))
      return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  }
  return 0;
}

}  // namespace wsrtmp
