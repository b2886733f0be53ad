/* The recording destination as MP4 segments (--record-format mp4): the
 * sink bin's description and the splitmuxsink settings that make it
 * (segment length, file names, one codec description per file).
 *
 * H.264 goes in as avc3 (SPS and PPS in-band before every IDR, the sample
 * entry "avc3"): a broadcast's slate and the connection that resumes it
 * each bring their own SPS/PPS, and avc3 lets them follow each other in
 * one track of one file, where avc1 would need a new sample description
 * that a fragmented MP4's moov, written first, cannot have.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "destination.h"

#include <gst/gst.h>

#include <string>

namespace wsrtmp {

/* The launch-style description of the MP4 recording's sink bin (%1$s: the
 * sink's name, as Destination::sink_description). */
const char *mp4_recording_description ();

/* Sets up the bin's splitmuxsink (sink) for dest: segment length, the
 * segments' names, and the probe that keeps codec data changes in-band. */
void configure_mp4_recording (GstElement *sink, const Destination &dest);

/* The local recording as MP4 segments of segment_s seconds (0: one file)
 * in dir, named "recording". */
Destination recording_mp4_destination (const std::string &dir,
    const std::string &key, int segment_s);
/* The path of an MP4 recording's segment n (from 1) that does not exist
 * yet: DIR/KEY-START-N.mp4, or with -2, -3... after it when it does. */
std::string recording_segment_path (const Destination &dest, guint n);

}  // namespace wsrtmp
