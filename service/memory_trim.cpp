/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "memory_trim.h"

#include <gio/gio.h>

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

namespace wsrtmp {

namespace {

/* The heap is the process's: one pending trim per process. */
guint trim_timer = 0;

long
rss_kb ()
{
  g_autofree char *statm = nullptr;
  if (!g_file_get_contents ("/proc/self/statm", &statm, nullptr, nullptr))
    return 0;
  long pages = 0, resident = 0;
  if (sscanf (statm, "%ld %ld", &pages, &resident) != 2)
    return 0;
  return resident * (sysconf (_SC_PAGESIZE) / 1024);
}

void
trim_in_thread (GTask *, gpointer, gpointer, GCancellable *)
{
  long before = rss_kb ();
  gint64 start = g_get_monotonic_time ();
  malloc_trim (0);
  g_debug ("malloc_trim: %.1f ms, RSS %ld -> %ld kB",
      (g_get_monotonic_time () - start) / 1000.0, before, rss_kb ());
}

gboolean
on_trim_timer (gpointer)
{
  trim_timer = 0;
  g_autoptr (GTask) task = g_task_new (nullptr, nullptr, nullptr, nullptr);
  g_task_run_in_thread (task, trim_in_thread);
  return G_SOURCE_REMOVE;
}

}  // namespace

void
trim_memory_soon ()
{
  if (!trim_timer)
    trim_timer = g_timeout_add_seconds (MEMORY_TRIM_DELAY_S, on_trim_timer,
        nullptr);
}

}  // namespace wsrtmp
