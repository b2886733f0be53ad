/* sd_notify(3) for wsrtmpd; see systemd_notify.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "wsrtmpd"

#include "systemd_notify.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace wsrtmp {

namespace {

void
notify (const std::string &state)
{
#ifdef HAVE_LIBSYSTEMD
  /* unset_environment = 0: the allocator's re-exec and GStreamer's plugin
   * scanner keep the variables; only the main pid is heard (NotifyAccess=main). */
  int ret = sd_notify (0, state.c_str ());
  if (ret < 0)
    g_warning ("cannot notify systemd (%s): %s", state.c_str (),
        g_strerror (-ret));
#else
  (void) state;
#endif
}

#ifdef HAVE_LIBSYSTEMD
gboolean
on_watchdog (gpointer)
{
  sd_notify (0, "WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}
#endif

}  // namespace

void
systemd_notify_ready (const std::string &status)
{
  notify ("READY=1\nSTATUS=" + status);
}

void
systemd_notify_reloading ()
{
  notify ("RELOADING=1");
}

void
systemd_notify_stopping (const std::string &status)
{
  notify ("STOPPING=1\nSTATUS=" + status);
}

SystemdWatchdog::SystemdWatchdog ()
{
#ifdef HAVE_LIBSYSTEMD
  uint64_t usec = 0;
  if (sd_watchdog_enabled (0, &usec) <= 0 || usec == 0)
    return;
  /* Half the timeout, as sd_watchdog_enabled(3) advises: one late ping
   * under load is not a restart. */
  interval_usec_ = usec / 2;
  guint interval_ms = MAX (interval_usec_ / 1000, 1);
  source_ = g_timeout_add (interval_ms, on_watchdog, nullptr);
  g_source_set_name_by_id (source_, "systemd watchdog");
  g_message ("systemd watchdog: pinging every %u ms", interval_ms);
#endif
}

SystemdWatchdog::~SystemdWatchdog ()
{
  if (source_)
    g_source_remove (source_);
}

}  // namespace wsrtmp
