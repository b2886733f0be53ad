/* Signed stream tokens (--token-secret): a web app that knows the secret
 * hands a streamer a token for one key, valid until a time; wsrtmpd checks
 * it at the handshake (admission.h). No state, no I/O.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <string>

namespace wsrtmp {

/* The token a web app hands out for key, valid until expiry (unix
 * seconds): "EXPIRY.HEX(HMAC-SHA256(secret, key + "." + EXPIRY))". */
std::string make_token (const std::string &secret, const std::string &key,
    gint64 expiry);
/* True when token is valid for key now (constant-time comparison). */
bool check_token (const std::string &secret, const std::string &key,
    const std::string &token, gint64 now_s);

/* True when a and b are equal, every byte compared whatever differs, so
 * the time says nothing about where they differ. Strings of unequal length
 * differ at once: callers compare digests, whose length is no secret. Used
 * for stream tokens and the admin API's bearer token. */
bool equal_in_constant_time (const std::string &a, const std::string &b);

}  // namespace wsrtmp
