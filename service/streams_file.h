/* --streams-file: which destinations each wsrtmp stream key goes to.
 *
 *   [studio-anna]
 *   destinations = rtmp://a.rtmp.youtube.com/live2/YT-KEY;rtmps://live-api-s.facebook.com:443/rtmp/FB-KEY;srt://ingest.example.com:9000?streamid=anna
 *   names = youtube;facebook;srt
 *   record = true
 *
 * One group per key. A key in the file is allowed (whatever --keys-file
 * says; tokens still apply) and goes exactly to the destinations listed
 * there (and the recording with record = true), not to --rtmp-url.
 * Re-read on SIGHUP; a file that does not parse is refused whole.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "destination.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace wsrtmp {

struct StreamEntry {
  std::vector<Destination> destinations;
  bool record = false;
};

using StreamsTable = std::map<std::string, StreamEntry>;

/* Loads path into streams. False with a message naming the file, the group
 * and the problem (never a stream key of a platform) in error. */
bool load_streams_file (const std::string &path, StreamsTable &streams,
    std::string &error);

/* A ';'-separated list of URLs (and their names, "" for the hosts) into
 * destinations; where says what to name in an error. */
bool parse_destination_list (const std::string &urls,
    const std::string &names, const std::string &where,
    std::vector<Destination> &destinations, std::string &error);

/* The same checks for a list of (URL, name) pairs (name "" for the
 * host's): an --on-publish hook's answer (hook_client.h). */
bool parse_destination_pairs (
    const std::vector<std::pair<std::string, std::string>> &entries,
    const std::string &where, std::vector<Destination> &destinations,
    std::string &error);

}  // namespace wsrtmp
