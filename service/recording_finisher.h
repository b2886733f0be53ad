/* Turns each MP4 segment that closed cleanly into a regular MP4 (one moov
 * with every sample, after the media): editors and players that do not
 * read fragmented MP4 open it. The segment was written fragmented so that
 * a killed daemon leaves a file that plays (mp4_recording.h); GStreamer
 * 1.22's own finalising mode (mp4mux fragment-mode=first-moov-then-
 * finalise) leaves unreadable files when killed, so the closed file is
 * remuxed instead: qtdemux ! mp4mux into a hidden ".NAME.part" beside it,
 * renamed over it once complete. Until then (and forever if the remux
 * fails, which is logged) the fragmented file stays, and plays.
 *
 * Remuxes run one at a time on a thread of their own (disk-bound: a
 * segment is read and written once more; no decoding); a stream never
 * waits for one. Owned by the main thread: done callbacks come back on
 * the main context it was made on.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wsrtmp {

class RecordingFinisher {
 public:
  RecordingFinisher ();
  /* Waits for the remux under way; those still queued are not started
   * (their fragmented files stay as they are). */
  ~RecordingFinisher ();
  RecordingFinisher (const RecordingFinisher &) = delete;
  RecordingFinisher &operator= (const RecordingFinisher &) = delete;

  /* Queues path's remux (logged as shown: the path with its stream key
   * masked); done (main context) gets whether path is now a regular MP4. */
  void finish (const std::string &path, const std::string &shown,
      std::function<void (bool)> done);
  /* done runs on the main context once nothing is queued or under way
   * (right away, from an idle callback, when nothing is). */
  void when_idle (std::function<void ()> done);
  size_t pending () const;

  /* The remux itself, synchronous (for the tests): path rewritten into a
   * regular MP4 through part; false (part removed, path untouched, error
   * set) when it could not be. */
  static bool remux (const std::string &path, const std::string &part,
      std::string &error);
  /* ".NAME.part" beside path. */
  static std::string part_path (const std::string &path);

  struct Shared;

 private:
  static void run_job (gpointer job, gpointer shared);
  void check_idle ();

  std::shared_ptr<Shared> shared_;
  GThreadPool *pool_ = nullptr;
  std::vector<std::function<void ()>> idle_waiters_;   /* main thread */
  guint idle_source_ = 0;               /* when_idle's first look */
};

}  // namespace wsrtmp
