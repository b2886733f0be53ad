/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"

#include "allocator.h"

#include <glib.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace wsrtmp {

namespace {

/* Set in the environment of the re-executed program so it runs only once. */
constexpr const char *REEXEC_MARK = "WSRTMPD_ALLOCATOR_APPLIED";

constexpr const char *TCACHE_TUNABLE = "glibc.malloc.tcache_count";

}  // namespace

void
tune_allocator (char **argv)
{
#ifdef __GLIBC__
  const char *choice = g_getenv ("WSRTMPD_ALLOCATOR");
  if (choice && g_str_equal (choice, "default"))
    return;

  if (g_getenv (REEXEC_MARK)) {
    g_unsetenv (REEXEC_MARK);
  } else {
    bool changed = false;
    /* GLib 2.74's slice allocator caches freed blocks per thread and never
     * gives its slabs back; plain malloc does (GLib 2.76 dropped it too). */
    if (!g_getenv ("G_SLICE")) {
      g_setenv ("G_SLICE", "always-malloc", TRUE);
      changed = true;
    }
    /* glibc's per-thread cache keeps up to 7 freed blocks of each small size
     * in every thread; with about five threads per stream those blocks pin
     * pages that malloc_trim could otherwise return. */
    const char *tunables = g_getenv ("GLIBC_TUNABLES");
    if (!tunables || !strstr (tunables, TCACHE_TUNABLE)) {
      /* First: glibc cuts the string in place at the first ':' while it
       * parses it, so /proc/PID/environ shows only the first tunable. */
      std::string value = std::string (TCACHE_TUNABLE) + "=0";
      if (tunables && *tunables)
        value += std::string (":") + tunables;
      g_setenv ("GLIBC_TUNABLES", value.c_str (), TRUE);
      changed = true;
    }
    if (changed) {
      g_setenv (REEXEC_MARK, "1", TRUE);
      /* By its real path: executing /proc/self/exe would name the process
       * "exe" in ps, top and pkill. */
      g_autoptr (GError) error = nullptr;
      g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
      if (self)
        execv (self, argv);
      /* Still usable without: only the memory figures differ. */
      g_warning ("could not restart with the allocator settings (%s); "
          "memory use may grow under load",
          self ? g_strerror (errno) : error->message);
      g_unsetenv (REEXEC_MARK);
    }
  }

  /* One arena per core instead of glibc's eight: each arena keeps its own
   * free memory, and streaming threads are many. */
  if (!g_getenv ("MALLOC_ARENA_MAX"))
    mallopt (M_ARENA_MAX, static_cast<int> (g_get_num_processors ()));
  /* A fixed threshold: by default glibc raises it after freeing a large
   * block (a 16 MiB WebSocket message), and from then on such buffers come
   * from the heap and stay in the process after the stream is gone. */
  if (!g_getenv ("MALLOC_MMAP_THRESHOLD_"))
    mallopt (M_MMAP_THRESHOLD, 1024 * 1024);
#else
  (void) argv;
#endif
}

}  // namespace wsrtmp
