/* Which web pages may open a WebSocket: the one rule wsserversrc's
 * allowed-origins and wsrtmpd's --allowed-origins share. An origin is
 * compared as RFC 6454 serializes it: scheme and host are case-insensitive,
 * and a trailing '/' (as people paste URLs) is not part of it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string>
#include <vector>

namespace wsrtmp {

/* An origin as it is compared: lower case, without trailing '/'. */
std::string normalize_origin (const std::string &origin);

/* Splits a list ("https://a.example, https://b.example:8443"; commas or
 * spaces between entries) into normalized origins. False, with error naming
 * the entry, for one that is not http(s)://host[:port]. */
bool parse_origin_list (const std::string &list,
    std::vector<std::string> &origins, std::string &error);

/* Whether a request's Origin header (null when it sent none) may connect:
 * an empty list allows any page, and a request without an Origin (not a
 * browser) only then. */
bool origin_allowed (const std::vector<std::string> &allowed,
    const char *origin);

}  // namespace wsrtmp
