/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util.h"

namespace wsrtmp {

std::string
mask_key (const std::string &key)
{
  if (key.size () <= 4)
    return "***";
  return key.substr (0, 3) + "***";
}

bool
is_valid_key (const std::string &key)
{
  if (key.empty () || key.size () > 128)
    return false;
  for (char c : key) {
    if (!g_ascii_isalnum (c) && c != '_' && c != '-')
      return false;
  }
  return true;
}

}  // namespace wsrtmp
