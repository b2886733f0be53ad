/* Stream keys kept out for a while after an operator kicked them (the
 * admin API's kick with ban_s): key -> until when. Pure: no clock (the
 * caller passes the time, unix microseconds), no I/O; admission.h asks it,
 * the Server writes it.
 *
 * Main thread only (the Server owns it).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <map>
#include <string>

namespace wsrtmp {

class Bans {
 public:
  /* key is refused until until_us (a later ban replaces an earlier one,
   * a shorter one too: the operator's last word counts). until_us <= now
   * lifts it. */
  void ban (const std::string &key, gint64 until_us);
  /* Whole seconds key is still refused at now_us, rounded up (0: not
   * banned). */
  gint64 seconds_left (const std::string &key, gint64 now_us) const;
  /* Until when key is banned (0: not at now_us). */
  gint64 until (const std::string &key, gint64 now_us) const;
  /* Forgets the bans over at now_us. */
  void prune (gint64 now_us);
  size_t size () const { return until_.size (); }

 private:
  std::map<std::string, gint64> until_;
};

}  // namespace wsrtmp
