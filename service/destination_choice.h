/* Where one stream key's broadcast goes, from the configuration: its
 * --streams-file entry, otherwise every --rtmp-url (with the key put into
 * the URL), and whether the recording goes along and under which file
 * name. Beside destination.h, which parses and describes one destination.
 *
 * Called on the main thread when a broadcast starts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "daemon_config.h"
#include "destination.h"

#include <string>
#include <vector>

namespace wsrtmp {

/* What an --on-publish hook's answer chose for one broadcast
 * (hook_client.h): its own destinations, whether it is recorded. */
struct DestinationOverride {
  bool has_destinations = false;
  std::vector<Destination> destinations;
  bool has_record = false;
  bool record = false;
};

/* Where key's stream goes: what the hook chose (chosen, if any), else its
 * --streams-file entry, otherwise every --rtmp-url. record says whether
 * the recording is added too. */
std::vector<Destination> destinations_for (const Config &config,
    const std::string &key, bool &record,
    const DestinationOverride *chosen = nullptr);

/* <dir>/<key>-<UTC timestamp>.flv, never overwriting an earlier one. */
std::string recording_path (const std::string &dir, const std::string &key);

}  // namespace wsrtmp
