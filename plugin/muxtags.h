/* flvencodebin's onMetaData filter: which tag events reach flvmux's sink
 * pads, so that flvmux writes onMetaData once, and again only on a real
 * stream change (#32). A probe on each muxer sink pad, with the pad's own
 * bookkeeping; nothing else of the element.
 *
 * Streamable flvmux writes a new onMetaData whenever a tag event has
 * reached any of its pads, and parsers send bitrate tags over and over
 * (aacparse and h264parse, as their estimate moves): a 30 s recording got
 * 16 (passthrough) to 58 (transcode) of them, which players take for a
 * data track (ffprobe: a subtitle stream). Of the tags, flvmux writes only
 * the title, the artist ("creator") and each pad's bitrate
 * (videodatarate, audiodatarate). So a muxer pad gets those tags only
 * until its first buffer (the header's onMetaData has them), again from a
 * caps change that starts a new stream until the next buffer, and
 * otherwise only when the title or artist changes. The new stream is the
 * switch from passthrough to transcode: flvmux (1.22) then only re-sends
 * the codec header, and the encoder's tags, which funnel forwards with
 * its caps, make it write an onMetaData with the new frame rate and
 * bitrate.
 *
 * No lock: buffers and serialized events reach a sink pad, and its probes,
 * under the pad's stream lock only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

namespace wsrtmp {

/* Filters the tag events that reach pad, one of flvmux's sink pads, from
 * now on (for as long as the pad lives). */
void filter_mux_pad_tags (GstPad *pad);

}  // namespace wsrtmp
