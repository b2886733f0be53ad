/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "streams_file.h"
#include "util.h"

#include <set>

namespace wsrtmp {

namespace {

std::vector<std::string>
split_list (const std::string &text)
{
  std::vector<std::string> items;
  g_auto (GStrv) parts = g_strsplit (text.c_str (), ";", -1);
  for (char **part = parts; *part; part++) {
    char *item = g_strstrip (*part);
    if (*item)
      items.push_back (item);
  }
  return items;
}

bool
valid_name (const std::string &name)
{
  if (name.empty () || name.size () > 64)
    return false;
  for (char c : name) {
    if (!g_ascii_isalnum (c) && c != '_' && c != '-' && c != '.')
      return false;
  }
  return true;
}

}  // namespace

bool
parse_destination_list (const std::string &urls, const std::string &names,
    const std::string &where, std::vector<Destination> &destinations,
    std::string &error)
{
  std::vector<std::string> url_list = split_list (urls);
  std::vector<std::string> name_list = split_list (names);
  if (!names.empty () && name_list.size () != url_list.size ()) {
    error = where + ": " + std::to_string (name_list.size ()) + " names for " +
        std::to_string (url_list.size ()) + " destinations";
    return false;
  }
  std::vector<std::pair<std::string, std::string>> entries;
  for (size_t i = 0; i < url_list.size (); i++)
    entries.emplace_back (url_list[i], name_list.empty () ? "" :
        name_list[i]);
  return parse_destination_pairs (entries, where, destinations, error);
}

bool
parse_destination_pairs (
    const std::vector<std::pair<std::string, std::string>> &entries,
    const std::string &where, std::vector<Destination> &destinations,
    std::string &error)
{
  std::set<std::string> seen;
  for (size_t i = 0; i < entries.size (); i++) {
    const std::string &name = entries[i].second;
    if (!name.empty () && !valid_name (name)) {
      error = where + ": destination name \"" + name + "\": use 1-64 of "
          "A-Z a-z 0-9 _ - .";
      return false;
    }
    Destination dest;
    std::string why;
    if (!parse_destination (entries[i].first, name, dest, why)) {
      error = where + ": destination " + std::to_string (i + 1) + ": " + why;
      return false;
    }
    /* Names tell destinations apart on the page and in /metrics. */
    std::string unique = dest.name;
    for (int n = 2; seen.count (unique); n++)
      unique = dest.name + "-" + std::to_string (n);
    dest.name = unique;
    seen.insert (unique);
    destinations.push_back (std::move (dest));
  }
  return true;
}

bool
load_streams_file (const std::string &path, StreamsTable &streams,
    std::string &error)
{
  const std::string where = "--streams-file " + path;
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) gerror = nullptr;
  if (!g_key_file_load_from_file (file, path.c_str (), G_KEY_FILE_NONE,
          &gerror)) {
    error = where + ": " + gerror->message;
    return false;
  }
  StreamsTable loaded;
  g_auto (GStrv) groups = g_key_file_get_groups (file, nullptr);
  for (char **group = groups; *group; group++) {
    const std::string key = *group;
    const std::string at = where + " [" + key + "]";
    if (!is_valid_key (key)) {
      error = at + ": a stream key must be 1-128 characters of A-Z a-z 0-9 "
          "_ -";
      return false;
    }
    g_auto (GStrv) names = g_key_file_get_keys (file, *group, nullptr,
        nullptr);
    for (char **name = names; name && *name; name++) {
      if (!g_str_equal (*name, "destinations") &&
          !g_str_equal (*name, "names") && !g_str_equal (*name, "record")) {
        error = at + ": unknown key \"" + *name + "\" (destinations, names, "
            "record)";
        return false;
      }
    }
    StreamEntry entry;
    if (g_key_file_has_key (file, *group, "record", nullptr)) {
      entry.record = g_key_file_get_boolean (file, *group, "record", &gerror);
      if (gerror) {
        error = at + ": record: " + gerror->message;
        return false;
      }
    }
    g_autofree char *urls = g_key_file_get_string (file, *group,
        "destinations", nullptr);
    g_autofree char *labels = g_key_file_get_string (file, *group, "names",
        nullptr);
    if (!parse_destination_list (urls ? urls : "", labels ? labels : "", at,
            entry.destinations, error))
      return false;
    if (entry.destinations.empty () && !entry.record) {
      error = at + ": no destinations and no record = true: the stream "
          "would go nowhere";
      return false;
    }
    loaded[key] = std::move (entry);
  }
  if (loaded.empty ()) {
    error = where + ": no [stream-key] group";
    return false;
  }
  streams = std::move (loaded);
  return true;
}

}  // namespace wsrtmp
