/* What wsrtmpd keeps tidy in --record-dir, at start and every hour:
 * recordings older than --record-keep-days (when set), and the hidden
 * `.NAME.part` a segment's rewrite into a regular MP4 leaves when the
 * daemon is killed during it (recording_finisher.h; the fragmented NAME
 * beside it is whole and plays). Only names wsrtmpd writes are touched;
 * each removal is logged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string>

namespace wsrtmp {

/* Removes the recordings (*.mp4, *.flv) in dir last written more than
 * keep_days days ago; returns how many. Nothing with keep_days 0. */
int remove_old_recordings (const std::string &dir, int keep_days);

/* Removes .*.mp4.part files in dir that no rewrite has written to for
 * minutes (another daemon sharing the directory may be rewriting one
 * now); returns how many. */
int remove_abandoned_rewrites (const std::string &dir);

}  // namespace wsrtmp
