/* The recordings over HTTP (recording_index.h says what they are): the
 * listing as JSON and one file's bytes, for the admin API (every key,
 * behind its token) and the streamer's page (one key, on the main
 * listener: GET /recordings/KEY and /recordings/KEY/NAME, with the key's
 * ?token= when --token-secret is set, as the WebSocket needs).
 *
 * A file goes out whole (200) or in the ranges a Range header asks for
 * (206, libsoup's own handling of a complete body; 416 when none lies in
 * the file); it is mapped, not read into memory. Errors are JSON
 * {"error", "kind"} as the admin API's: bad_request (400: not a
 * recording's name, whatever it holds: "..", "/", a dotfile), not_found
 * (404: no such file, or another key's).
 *
 * Main thread, inside a SoupServer handler.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "recording_index.h"

#include <libsoup/soup.h>

#include <string>

namespace wsrtmp {

/* {"recordings": [{"name", "key", "size", "duration_s" (null when not
 * known), "started" (ISO 8601 UTC), "finished", "url"}]}: key's (every
 * key's when ""), each url url_prefix + name (+ url_query). */
void send_recording_list (SoupServerMessage *msg, const RecordingIndex &index,
    const std::string &key, const std::string &url_prefix,
    const std::string &url_query = "");

/* The recording name (only_key's, unless ""), honouring Range. */
void send_recording_file (SoupServerMessage *msg, const RecordingIndex &index,
    const std::string &name, const std::string &only_key);

/* The main listener's GET /recordings/REST: REST is KEY (the listing,
 * each url /recordings/KEY/NAME with the token) or KEY/NAME (the file, only
 * KEY's); with token_secret set, the query's token must be valid for KEY
 * (403 "token" otherwise). */
void serve_own_recordings (SoupServerMessage *msg, const std::string &rest,
    const RecordingIndex &index, const std::string &token_secret);

}  // namespace wsrtmp
