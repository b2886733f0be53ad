/* What is in --record-dir, for the admin API and the streamer's page
 * (recordings_api.h): the recordings wsrtmpd wrote there (by their names:
 * KEY-YYYYmmddTHHMMSSZ[-N[-M]].mp4 or KEY-YYYYmmddTHHMMSSZ[-N].flv), each
 * with its key, size, duration and whether it is still being written; and
 * the one check that turns a name from a request into a path (nothing
 * but such a name, directly in the directory, a regular file).
 *
 * The MP4 segments this process wrote are known from splitmuxsink's
 * messages (opened, closed, then finalised: recording_finisher.h): their
 * start, duration and state. Others (an FLV, an earlier run's, a killed
 * run's) show their size and the start in their name; their duration is
 * null.
 *
 * Main thread only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>

#include <map>
#include <string>
#include <vector>

namespace wsrtmp {

/* True when name is a recording's file name as wsrtmpd makes them; key
 * and started_us (the UTC time in the name) are set then. Nothing with a
 * '/', a leading '.', or a key that is not a valid stream key passes. */
bool parse_recording_name (const std::string &name, std::string &key,
    gint64 &started_us);

class RecordingIndex {
 public:
  struct Entry {
    std::string name, key;
    guint64 size = 0;
    double duration_s = -1;             /* < 0: not known */
    gint64 started_us = 0;              /* UTC, microseconds */
    bool finished = true;               /* false while written or remuxed */
  };

  explicit RecordingIndex (const std::string &dir);

  const std::string &dir () const { return dir_; }

  /* splitmuxsink opened path at running_time (now: its start). */
  void segment_opened (const std::string &path, GstClockTime running_time);
  /* splitmuxsink closed path at running_time: its duration, known from
   * then on (-1 when it was not seen opening). It stays unfinished until
   * segment_finished. */
  double segment_closed (const std::string &path, GstClockTime running_time);
  void segment_finished (const std::string &path);

  /* Every recording in the directory (only key's, unless key is ""),
   * oldest first by name. */
  std::vector<Entry> list (const std::string &key) const;

  /* The path of the recording name, checked: 400 when name is not a
   * recording's name, 404 when there is no such regular file (or it is
   * not only_key's, when only_key is not ""). error says why. */
  std::string path_of (const std::string &name, const std::string &only_key,
      guint &status, std::string &error) const;

 private:
  struct Known {
    gint64 started_us = 0;
    GstClockTime opened_at = GST_CLOCK_TIME_NONE;
    double duration_s = -1;
    bool finished = false;
  };
  /* Keeps known_ bounded (MAX_KNOWN): forgets finished segments. */
  void forget_old ();
  /* What a file's stat and name say, with what is known of it. */
  bool entry_of (const std::string &name, Entry &entry) const;

  std::string dir_;
  std::map<std::string, Known> known_;  /* by file name */
};

}  // namespace wsrtmp
