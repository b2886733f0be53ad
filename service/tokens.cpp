/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tokens.h"

namespace wsrtmp {

std::string
make_token (const std::string &secret, const std::string &key, gint64 expiry)
{
  std::string message = key + "." + std::to_string (expiry);
  g_autofree char *hmac = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      reinterpret_cast<const guchar *> (secret.data ()), secret.size (),
      message.c_str (), message.size ());
  return std::to_string (expiry) + "." + hmac;
}

bool
check_token (const std::string &secret, const std::string &key,
    const std::string &token, gint64 now_s)
{
  auto dot = token.find ('.');
  if (secret.empty () || dot == std::string::npos || dot == 0 || dot > 19)
    return false;
  std::string expiry_text = token.substr (0, dot);
  for (char c : expiry_text) {
    if (!g_ascii_isdigit (c))
      return false;
  }
  gint64 expiry = g_ascii_strtoll (expiry_text.c_str (), nullptr, 10);
  if (expiry < now_s)
    return false;
  /* The HMAC's hex digits in either case. */
  std::string given = token;
  for (char &c : given)
    c = g_ascii_tolower (c);
  return equal_in_constant_time (given, make_token (secret, key, expiry));
}

bool
equal_in_constant_time (const std::string &a, const std::string &b)
{
  if (a.size () != b.size ())
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size (); i++)
    diff |= static_cast<unsigned char> (a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace wsrtmp
