/* The FLV format as bytes: tag types, header sizes, codec ids, and the
 * fields of a tag header, written down once (as gst-plugins-good's
 * gst/flv/flvdefs.h is for flvmux and flvdemux). flvsplice's tag reader and
 * rewriter (flvtag.h) and its slate use it; so can wsrtmpd, whose output
 * gate looks for video keyframes (flvformat_dep in plugin/meson.build).
 * Header-only and stateless: each function reads or writes the bytes it is
 * given.
 *
 * A tag is an 11-byte header and data_size bytes of payload; in a file, each
 * tag is followed by its size (PreviousTagSize, 4 bytes). The header:
 *
 *   byte 0       2 bits reserved, 1 bit filter, 5 bits tag type
 *   bytes 1-3    data size (UI24, big-endian)
 *   bytes 4-6    timestamp in ms, its lower 24 bits
 *   byte 7       timestamp, extended: its upper 8 bits
 *   bytes 8-10   stream id (always 0)
 *
 * A video payload starts with the frame type (upper 4 bits) and the codec
 * id (lower 4); AVC goes on with a packet type (UI8) and a composition time
 * (SI24, ms: how long after its timestamp, the decoding time, a picture is
 * presented). An audio payload starts with the sound format (upper 4 bits);
 * AAC goes on with a packet type (UI8).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <cstring>

namespace wsrtmp {
namespace flv {

/* "FLV", version, flags, header size (9 bytes), then PreviousTagSize0. */
constexpr gsize FILE_HEADER_SIZE = 13;
constexpr gsize TAG_HEADER_SIZE = 11;
constexpr gsize PREVIOUS_TAG_SIZE = 4;

/* Tag types. */
constexpr guint8 TAG_AUDIO = 8;
constexpr guint8 TAG_VIDEO = 9;
constexpr guint8 TAG_SCRIPT = 18;

/* Video: frame types and codec ids. */
constexpr guint8 VIDEO_FRAME_KEY = 1;
constexpr guint8 VIDEO_CODEC_AVC = 7;
/* Audio: sound formats. */
constexpr guint8 AUDIO_FORMAT_AAC = 10;
/* AVC and AAC packet types (the payload's second byte). */
constexpr guint8 PACKET_SEQUENCE_HEADER = 0;
constexpr guint8 AVC_NALU = 1;
constexpr guint8 AVC_END_OF_SEQUENCE = 2;
/* Payload bytes before the codec's own data: AVC (codec, packet type,
 * composition time), AAC (format, packet type). */
constexpr gsize AVC_PAYLOAD_HEADER_SIZE = 5;
constexpr gsize AAC_PAYLOAD_HEADER_SIZE = 2;

/* A tag header's fields. */
struct TagHeader {
  guint8 type = 0;
  guint32 data_size = 0;
  guint32 timestamp = 0;        /* ms, the extended byte included */
  guint32 stream_id = 0;
};

/* ---- Reading and writing a tag header; data holds TAG_HEADER_SIZE bytes */

inline guint8
tag_type (const guint8 *data)
{
  return data[0] & 0x1f;
}

inline guint32
data_size (const guint8 *data)
{
  return GST_READ_UINT24_BE (data + 1);
}

/* Milliseconds: 24 bits, then 8 more significant bits. */
inline guint32
timestamp (const guint8 *data)
{
  return GST_READ_UINT24_BE (data + 4) | (guint32 (data[7]) << 24);
}

inline void
set_timestamp (guint8 *data, guint32 ms)
{
  GST_WRITE_UINT24_BE (data + 4, ms & 0xffffff);
  data[7] = ms >> 24;
}

/* False when size is too short for a tag header. */
inline bool
read_tag_header (const guint8 *data, gsize size, TagHeader *header)
{
  if (size < TAG_HEADER_SIZE)
    return false;
  header->type = tag_type (data);
  header->data_size = data_size (data);
  header->timestamp = timestamp (data);
  header->stream_id = GST_READ_UINT24_BE (data + 8);
  return true;
}

/* Writes all TAG_HEADER_SIZE bytes (reserved and filter bits 0). */
inline void
write_tag_header (guint8 *data, const TagHeader &header)
{
  data[0] = header.type & 0x1f;
  GST_WRITE_UINT24_BE (data + 1, header.data_size & 0xffffff);
  set_timestamp (data, header.timestamp);
  GST_WRITE_UINT24_BE (data + 8, header.stream_id & 0xffffff);
}

/* ---- What a tag is; data starts with a tag, size is what is there */

inline bool
is_file_header (const guint8 *data, gsize size)
{
  return size >= 3 && memcmp (data, "FLV", 3) == 0;
}

/* The header and the whole payload are there. */
inline bool
is_complete_tag (const guint8 *data, gsize size)
{
  return size >= TAG_HEADER_SIZE && size >= TAG_HEADER_SIZE + data_size (data);
}

/* Needs TAG_HEADER_SIZE + 1 bytes: the frame type. */
inline bool
is_video_keyframe (const guint8 *data, gsize size)
{
  return size > TAG_HEADER_SIZE && tag_type (data) == TAG_VIDEO &&
      (data[TAG_HEADER_SIZE] >> 4) == VIDEO_FRAME_KEY;
}

/* An AVC or AAC sequence header: the decoder's configuration. */
inline bool
is_sequence_header (const guint8 *data, gsize size)
{
  if (size < TAG_HEADER_SIZE + 2)
    return false;
  const guint8 *payload = data + TAG_HEADER_SIZE;
  if (tag_type (data) == TAG_VIDEO)
    return (payload[0] & 0x0f) == VIDEO_CODEC_AVC &&
        payload[1] == PACKET_SEQUENCE_HEADER;
  if (tag_type (data) == TAG_AUDIO)
    return (payload[0] >> 4) == AUDIO_FORMAT_AAC &&
        payload[1] == PACKET_SEQUENCE_HEADER;
  return false;
}

/* An AVC picture (not a sequence header or an end of sequence): it has a
 * composition time. */
inline bool
is_avc_picture (const guint8 *data, gsize size)
{
  const guint8 *payload = data + TAG_HEADER_SIZE;
  return size >= TAG_HEADER_SIZE + AVC_PAYLOAD_HEADER_SIZE &&
      tag_type (data) == TAG_VIDEO &&
      (payload[0] & 0x0f) == VIDEO_CODEC_AVC && payload[1] == AVC_NALU;
}

/* An AVC end of sequence: flvmux ends its output with one. */
inline bool
is_end_of_sequence (const guint8 *data, gsize size)
{
  return size >= TAG_HEADER_SIZE + 2 && tag_type (data) == TAG_VIDEO &&
      (data[TAG_HEADER_SIZE] & 0x0f) == VIDEO_CODEC_AVC &&
      data[TAG_HEADER_SIZE + 1] == AVC_END_OF_SEQUENCE;
}

/* ---- An AVC picture's composition time (0 for any other tag) */

inline gint32
composition_time (const guint8 *data, gsize size)
{
  if (!is_avc_picture (data, size))
    return 0;
  guint32 raw = GST_READ_UINT24_BE (data + TAG_HEADER_SIZE + 2);
  return gint32 (raw & 0x800000 ? raw | 0xff000000 : raw);
}

/* Nothing for a tag that is no AVC picture. */
inline void
set_composition_time (guint8 *data, gsize size, gint32 ms)
{
  if (is_avc_picture (data, size))
    GST_WRITE_UINT24_BE (data + TAG_HEADER_SIZE + 2, guint32 (ms) & 0xffffff);
}

}  // namespace flv
}  // namespace wsrtmp
