/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bans.h"

namespace wsrtmp {

void
Bans::ban (const std::string &key, gint64 until_us)
{
  until_[key] = until_us;
}

gint64
Bans::until (const std::string &key, gint64 now_us) const
{
  auto found = until_.find (key);
  if (found == until_.end () || found->second <= now_us)
    return 0;
  return found->second;
}

gint64
Bans::seconds_left (const std::string &key, gint64 now_us) const
{
  gint64 until_us = until (key, now_us);
  if (!until_us)
    return 0;
  return (until_us - now_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
}

void
Bans::prune (gint64 now_us)
{
  for (auto it = until_.begin (); it != until_.end ();) {
    if (it->second <= now_us)
      it = until_.erase (it);
    else
      ++it;
  }
}

}  // namespace wsrtmp
