/* What wsrtmpd keeps tidy in --record-dir (see record_dir_sweep.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "wsrtmpd"

#include "record_dir_sweep.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <functional>

namespace wsrtmp {

namespace {

/* A rewrite writes all the time (an hour's segment in about 10 s): one
 * untouched this long belongs to no process. */
constexpr gint64 ABANDONED_AFTER_S = 10 * 60;

/* Removes the regular files in dir whose name passes wanted and that were
 * last written before limit (unix seconds), each logged with why. */
int
remove_files (const std::string &dir, gint64 limit,
    const std::function<bool (const char *)> &wanted, const char *why)
{
  g_autoptr (GDir) listing = g_dir_open (dir.c_str (), 0, nullptr);
  if (!listing)
    return 0;
  int removed = 0;
  for (const char *name; (name = g_dir_read_name (listing));) {
    if (!wanted (name))
      continue;
    std::string path = dir + "/" + name;
    GStatBuf info;
    if (g_lstat (path.c_str (), &info) != 0 || !S_ISREG (info.st_mode) ||
        info.st_mtime >= limit)
      continue;
    if (g_unlink (path.c_str ()) == 0) {
      g_message ("removed %s: %s", path.c_str (), why);
      removed++;
    } else {
      g_warning ("cannot remove %s: %s", path.c_str (), g_strerror (errno));
    }
  }
  return removed;
}

gint64
now_s ()
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

}  // namespace

int
remove_old_recordings (const std::string &dir, int keep_days)
{
  if (keep_days <= 0)
    return 0;
  g_autofree char *why = g_strdup_printf (
      "older than --record-keep-days %d", keep_days);
  return remove_files (dir, now_s () - gint64 (keep_days) * 86400,
      [] (const char *name) {
        return name[0] != '.' && (g_str_has_suffix (name, ".mp4") ||
            g_str_has_suffix (name, ".flv"));
      }, why);
}

int
remove_abandoned_rewrites (const std::string &dir)
{
  return remove_files (dir, now_s () - ABANDONED_AFTER_S,
      [] (const char *name) {
        return name[0] == '.' && g_str_has_suffix (name, ".mp4.part");
      }, "a rewrite into a regular MP4 that never finished (the "
      "fragmented file beside it stays)");
}

}  // namespace wsrtmp
