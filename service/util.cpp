/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "util.h"

#include <cstring>

namespace wsrtmp {

std::string
mask_key (const std::string &key)
{
  if (key.size () <= 4)
    return "***";
  return key.substr (0, 3) + "***";
}

std::string
mask_key_in (std::string text, const std::string &key)
{
  if (key.empty ())
    return text;
  const std::string masked = mask_key (key);
  for (auto at = text.find (key); at != std::string::npos;
      at = text.find (key, at + masked.size ()))
    text.replace (at, key.size (), masked);
  return text;
}

bool
contains_any (const char *text, std::initializer_list<const char *> words)
{
  g_autofree char *lower = g_ascii_strdown (text ? text : "", -1);
  for (const char *word : words) {
    if (strstr (lower, word))
      return true;
  }
  return false;
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

void
log_stream_event (GLogLevelFlags level, const char *id_field,
    const char *what, guint64 id, const std::string &key,
    const std::string &where, const std::string &text)
{
  std::string number = std::to_string (id);
  std::string masked = mask_key (key);
  g_log_structured (G_LOG_DOMAIN, level,
      id_field, number.c_str (),
      "STREAM_KEY", masked.c_str (),
      "MESSAGE", "%s %s [%s]%s: %s", what, number.c_str (), masked.c_str (),
      where.c_str (), text.c_str ());
}

}  // namespace wsrtmp
