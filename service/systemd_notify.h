/* Tells systemd where wsrtmpd is in its life (Type=notify): READY=1 once it
 * listens, STOPPING=1 when it starts draining, and WATCHDOG=1 while its main
 * loop turns (WatchdogSec=). Outside a notify unit (no NOTIFY_SOCKET), or in
 * a build without libsystemd, every call does nothing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <string>

namespace wsrtmp {

/* READY=1 with a STATUS= line for `systemctl status`. */
void systemd_notify_ready (const std::string &status);

/* RELOADING=1 while SIGHUP re-reads the files (ExecReload=); READY=1 with
 * a new STATUS= line after. */
void systemd_notify_reloading ();

/* STOPPING=1: systemd then waits up to TimeoutStopSec= for us to exit. */
void systemd_notify_stopping (const std::string &status);

/* Pings the watchdog from a main-loop timer at half of WATCHDOG_USEC, so the
 * pings stop (and systemd restarts us) when the loop is stuck. Removes the
 * timer when it goes out of scope. */
class SystemdWatchdog {
public:
  SystemdWatchdog ();
  ~SystemdWatchdog ();
  SystemdWatchdog (const SystemdWatchdog &) = delete;
  SystemdWatchdog &operator= (const SystemdWatchdog &) = delete;

  /* The ping interval, 0 when systemd asked for no watchdog. */
  guint64 interval_usec () const { return interval_usec_; }

private:
  guint source_ = 0;
  guint64 interval_usec_ = 0;
};

}  // namespace wsrtmp
