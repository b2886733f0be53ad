/* FLV tags in GstBuffers: flvsplice's tag reader and rewriter (see
 * flvtag.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "flvtag.h"

#include <gst/pbutils/codec-utils.h>

namespace wsrtmp {
namespace flv {

Tag
parse (GstBuffer *buffer)
{
  Tag tag;
  GstMapInfo map;
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return tag;
  tag.file_header = is_file_header (map.data, map.size);
  tag.complete = !tag.file_header && is_complete_tag (map.data, map.size);
  if (tag.complete) {
    tag.type = tag_type (map.data);
    tag.timestamp = timestamp (map.data);
    tag.keyframe = is_video_keyframe (map.data, map.size);
    tag.composition_offset = composition_time (map.data, map.size);
    tag.sequence_header = is_sequence_header (map.data, map.size);
    tag.end_of_sequence = is_end_of_sequence (map.data, map.size);
  }
  gst_buffer_unmap (buffer, &map);
  return tag;
}

GstBuffer *
retime (GstBuffer *buffer, gint64 ms)
{
  buffer = gst_buffer_make_writable (buffer);
  GstMapInfo map;
  if (gst_buffer_map (buffer, &map, GST_MAP_WRITE)) {
    set_timestamp (map.data, guint32 (ms));
    gst_buffer_unmap (buffer, &map);
  }
  GST_BUFFER_PTS (buffer) = GST_BUFFER_DTS (buffer) = ms * GST_MSECOND;
  GST_BUFFER_FLAG_UNSET (buffer, GST_BUFFER_FLAG_HEADER);
  return buffer;
}

GstBuffer *
retimed_copy (GstBuffer *shared, gint64 ms, gint32 composition_offset)
{
  GstBuffer *buffer = retime (gst_buffer_copy_deep (shared), ms);
  if (composition_offset != 0) {
    GstMapInfo map;
    if (gst_buffer_map (buffer, &map, GST_MAP_WRITE)) {
      set_composition_time (map.data, map.size, composition_offset);
      gst_buffer_unmap (buffer, &map);
    }
  }
  return buffer;
}

bool
aac_format (GstBuffer *header, int *rate, int *channels)
{
  GstMapInfo map;
  if (!header || !gst_buffer_map (header, &map, GST_MAP_READ))
    return false;
  bool ok = false;
  if (map.size > TAG_HEADER_SIZE + AAC_PAYLOAD_HEADER_SIZE) {
    const guint8 *config = map.data + TAG_HEADER_SIZE +
        AAC_PAYLOAD_HEADER_SIZE;
    guint length = MIN (data_size (map.data), map.size - TAG_HEADER_SIZE) -
        AAC_PAYLOAD_HEADER_SIZE;
    *rate = gst_codec_utils_aac_get_sample_rate (config, length);
    *channels = gst_codec_utils_aac_get_channels (config, length);
    ok = *rate > 0 && *channels > 0;
  }
  gst_buffer_unmap (header, &map);
  return ok;
}

}  // namespace flv
}  // namespace wsrtmp
