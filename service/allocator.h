/* How wsrtmpd sets up the C allocator before anything else runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

namespace wsrtmp {

/* Called first thing in main(). Many short-lived pipelines, each with its own
 * streaming threads, make the default allocators keep memory per thread and
 * per arena: RSS kept growing for minutes under a steady load. Two of the
 * settings that stop it (GLib's slice allocator off, glibc's per-thread cache
 * off) are read once when the process starts, so this may re-execute the
 * program with them in its environment. Settings the operator already made in
 * the environment are kept; WSRTMPD_ALLOCATOR=default leaves everything as
 * the libraries ship it. */
void tune_allocator (char **argv);

}  // namespace wsrtmp
