/* FLV tags in GstBuffers, as flvsplice reads and rewrites them: what a
 * buffer holds (parse), the same tag at another output time (retime,
 * retimed_copy), and the audio format an AAC sequence header gives. One
 * buffer is one tag, as flvmux puts them out. The byte layout is
 * flvformat.h's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "flvformat.h"

namespace wsrtmp {
namespace flv {

/* What a buffer holds, read once. */
struct Tag {
  bool file_header = false;
  bool complete = false;
  guint8 type = 0;
  gint64 timestamp = 0;
  /* Video: presented this long after timestamp (decoded). */
  gint32 composition_offset = 0;
  bool keyframe = false;
  bool sequence_header = false;
  bool end_of_sequence = false;
};

Tag parse (GstBuffer *buffer);

/* The tag with a new timestamp (tag header and buffer PTS/DTS), no longer
 * flagged HEADER: rtmp2sink drops HEADER buffers when its caps carry stream
 * headers, and these must reach it in-band. Takes the buffer. */
GstBuffer *retime (GstBuffer *buffer, gint64 ms);

/* The same for a tag shared with others (the slate, a stored header); a
 * picture is given composition_offset. */
GstBuffer *retimed_copy (GstBuffer *shared, gint64 ms,
    gint32 composition_offset = 0);

/* Sample rate and channels of an AAC sequence header tag (header may be
 * NULL: false). */
bool aac_format (GstBuffer *header, int *rate, int *channels);

}  // namespace flv
}  // namespace wsrtmp
