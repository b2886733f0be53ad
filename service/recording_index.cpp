/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recording_index.h"

#include "util.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <iterator>

namespace wsrtmp {

namespace {

/* KEY-START.flv, KEY-START-N.flv (a second FLV within the same second),
 * KEY-START-N.mp4 and KEY-START-N-M.mp4 (mp4_recording.h). */
constexpr const char *NAME_PATTERN =
    "^([A-Za-z0-9_-]{1,128})-([0-9]{8}T[0-9]{6}Z)(-[0-9]{1,9}){0,2}"
    "\\.(mp4|flv)$";

/* Segments remembered at most (their start and duration): beyond, the
 * listing shows the oldest as it shows an earlier run's files. */
constexpr size_t MAX_KNOWN = 4096;

std::string
name_of (const std::string &path)
{
  g_autofree char *base = g_path_get_basename (path.c_str ());
  return base;
}

}  // namespace

bool
parse_recording_name (const std::string &name, std::string &key,
    gint64 &started_us)
{
  static GRegex *pattern = g_regex_new (NAME_PATTERN, G_REGEX_OPTIMIZE,
      GRegexMatchFlags (0), nullptr);
  g_autoptr (GMatchInfo) match = nullptr;
  if (name.size () > 200 || !g_regex_match (pattern, name.c_str (),
          GRegexMatchFlags (0), &match))
    return false;
  g_autofree char *matched_key = g_match_info_fetch (match, 1);
  g_autofree char *stamp = g_match_info_fetch (match, 2);
  g_autoptr (GDateTime) time = g_date_time_new_from_iso8601 (stamp, nullptr);
  if (!time || !is_valid_key (matched_key))
    return false;
  key = matched_key;
  started_us = g_date_time_to_unix (time) * G_USEC_PER_SEC;
  return true;
}

RecordingIndex::RecordingIndex (const std::string &dir) : dir_ (dir)
{
}

void
RecordingIndex::segment_opened (const std::string &path,
    GstClockTime running_time)
{
  forget_old ();
  Known &known = known_[name_of (path)];
  known = Known ();
  known.started_us = g_get_real_time ();
  known.opened_at = running_time;
}

double
RecordingIndex::segment_closed (const std::string &path,
    GstClockTime running_time)
{
  Known &known = known_[name_of (path)];
  if (GST_CLOCK_TIME_IS_VALID (known.opened_at) &&
      GST_CLOCK_TIME_IS_VALID (running_time) &&
      running_time >= known.opened_at)
    known.duration_s = (running_time - known.opened_at) / double (GST_SECOND);
  return known.duration_s;
}

void
RecordingIndex::forget_old ()
{
  if (known_.size () < MAX_KNOWN)
    return;
  /* Finished segments whose files are gone (removed by --record-keep-days
   * or by hand) first, then the oldest finished ones: a daemon that runs
   * for months keeps a bounded table. */
  for (auto it = known_.begin (); it != known_.end ();) {
    bool gone = it->second.finished && !g_file_test ((dir_ + "/" +
            it->first).c_str (), G_FILE_TEST_EXISTS);
    it = gone ? known_.erase (it) : std::next (it);
  }
  while (known_.size () >= MAX_KNOWN) {
    auto oldest = known_.end ();
    for (auto it = known_.begin (); it != known_.end (); ++it)
      if (it->second.finished && (oldest == known_.end () ||
              it->second.started_us < oldest->second.started_us))
        oldest = it;
    if (oldest == known_.end ())
      break;
    known_.erase (oldest);
  }
}

void
RecordingIndex::segment_finished (const std::string &path)
{
  auto found = known_.find (name_of (path));
  if (found != known_.end ())
    found->second.finished = true;
}

bool
RecordingIndex::entry_of (const std::string &name, Entry &entry) const
{
  if (!parse_recording_name (name, entry.key, entry.started_us))
    return false;
  GStatBuf info;
  std::string path = dir_ + "/" + name;
  /* lstat: a link put there is not a recording we wrote. */
  if (g_lstat (path.c_str (), &info) != 0 || !S_ISREG (info.st_mode))
    return false;
  entry.name = name;
  entry.size = info.st_size;
  auto found = known_.find (name);
  if (found != known_.end ()) {
    entry.started_us = found->second.started_us;
    entry.duration_s = found->second.duration_s;
    entry.finished = found->second.finished;
  }
  return true;
}

std::vector<RecordingIndex::Entry>
RecordingIndex::list (const std::string &key) const
{
  std::vector<Entry> entries;
  g_autoptr (GDir) listing = g_dir_open (dir_.c_str (), 0, nullptr);
  for (const char *name; listing && (name = g_dir_read_name (listing));) {
    Entry entry;
    if (entry_of (name, entry) && (key.empty () || entry.key == key))
      entries.push_back (std::move (entry));
  }
  std::sort (entries.begin (), entries.end (),
      [] (const Entry &a, const Entry &b) {
        return a.started_us != b.started_us ? a.started_us < b.started_us :
            strverscmp (a.name.c_str (), b.name.c_str ()) < 0;
      });
  return entries;
}

std::string
RecordingIndex::path_of (const std::string &name, const std::string &only_key,
    guint &status, std::string &error) const
{
  std::string key;
  gint64 started_us;
  if (!parse_recording_name (name, key, started_us)) {
    status = 400;
    error = "not a recording's name";
    return "";
  }
  Entry entry;
  if ((!only_key.empty () && key != only_key) || !entry_of (name, entry)) {
    status = 404;
    error = "no such recording";
    return "";
  }
  return dir_ + "/" + name;
}

}  // namespace wsrtmp
