/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "destination_choice.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

#include <cerrno>

namespace wsrtmp {

namespace {

std::string
utc_timestamp ()
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *text = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  return text;
}

}  // namespace

std::vector<Destination>
destinations_for (const Config &config, const std::string &key,
    bool &record_out, const DestinationOverride *chosen)
{
  std::vector<Destination> destinations;
  /* The hook's answer: like a --streams-file entry, made for this
   * broadcast alone. */
  if (chosen && chosen->has_destinations) {
    record_out = (chosen->has_record && chosen->record) ||
        config.record_dir_given;
    return chosen->destinations;
  }
  if (chosen && chosen->has_record) {
    bool ignored = false;
    auto configured = destinations_for (config, key, ignored);
    record_out = chosen->record || config.record_dir_given;
    return configured;
  }
  if (config.streams) {
    auto found = config.streams->find (key);
    if (found != config.streams->end ()) {
      record_out = found->second.record || config.record_dir_given;
      return found->second.destinations;
    }
  }
  record_out = config.record;
  for (const auto &url : config.rtmp_urls) {
    Destination dest;
    std::string error;
    std::string location = location_for_key (url, key);
    /* Checked at startup with a placeholder key; a valid key keeps it so. */
    if (!parse_destination (location, "", dest, error))
      continue;
    /* The key is the wsrtmp key here: masked like everywhere else. */
    int n = 1;
    for (const auto &other : destinations)
      if (other.name == dest.name || g_str_has_prefix (other.name.c_str (),
              (dest.name + "-").c_str ()))
        n++;
    if (n > 1)
      dest.name += "-" + std::to_string (n);
    destinations.push_back (std::move (dest));
  }
  return destinations;
}

std::string
recording_path (const std::string &dir, const std::string &key)
{
  std::string base = dir + "/" + key + "-" + utc_timestamp ();
  std::string path = base + ".flv";
  for (int n = 1; g_file_test (path.c_str (), G_FILE_TEST_EXISTS); n++)
    path = base + "-" + std::to_string (n) + ".flv";
  return path;
}

}  // namespace wsrtmp
