/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "wsorigin.h"

#include <glib.h>

#include <algorithm>

namespace wsrtmp {

std::string
normalize_origin (const std::string &origin)
{
  g_autofree char *lower = g_ascii_strdown (origin.c_str (), -1);
  std::string text = lower;
  while (!text.empty () && text.back () == '/')
    text.pop_back ();
  return text;
}

bool
parse_origin_list (const std::string &list, std::vector<std::string> &origins,
    std::string &error)
{
  g_auto (GStrv) parts = g_strsplit_set (list.c_str (), ", ", -1);
  for (char **part = parts; *part; part++) {
    if (!**part)
      continue;
    std::string origin = normalize_origin (*part);
    if (!g_str_has_prefix (origin.c_str (), "http://") &&
        !g_str_has_prefix (origin.c_str (), "https://")) {
      error = std::string ("\"") + *part + "\" is not an origin like "
          "https://host[:port]";
      return false;
    }
    origins.push_back (origin);
  }
  return true;
}

bool
origin_allowed (const std::vector<std::string> &allowed, const char *origin)
{
  if (allowed.empty ())
    return true;
  if (!origin)
    return false;
  return std::find (allowed.begin (), allowed.end (),
      normalize_origin (origin)) != allowed.end ();
}

}  // namespace wsrtmp
