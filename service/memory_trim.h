/* Hands memory that finished pipelines left in glibc's arenas back to the
 * system, so the process returns to its baseline between busy periods.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

namespace wsrtmp {

/* Asks for a malloc_trim a few seconds from now, unless one is already
 * due: at most one per MEMORY_TRIM_DELAY_S however many sessions end. It
 * runs on a GLib worker thread, not on the main loop (walking every arena
 * takes milliseconds). Main thread only. */
void trim_memory_soon ();

constexpr unsigned MEMORY_TRIM_DELAY_S = 5;

}  // namespace wsrtmp
