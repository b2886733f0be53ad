/* flvsplice's sink pad (see gstflvsplicepad.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstflvsplicepad.h"

#include "flvtag.h"

namespace flv = wsrtmp::flv;

G_DEFINE_TYPE (GstFlvSplicePad, gst_flv_splice_pad, GST_TYPE_PAD);

static void
gst_flv_splice_pad_finalize (GObject *object)
{
  auto *pad = GST_FLV_SPLICE_PAD (object);
  gst_clear_buffer (&pad->video_header);
  gst_clear_buffer (&pad->audio_header);
  G_OBJECT_CLASS (gst_flv_splice_pad_parent_class)->finalize (object);
}

static void
gst_flv_splice_pad_class_init (GstFlvSplicePadClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_flv_splice_pad_finalize;
}

static void
gst_flv_splice_pad_init (GstFlvSplicePad *)
{
}

void
gst_flv_splice_pad_store_header (GstFlvSplicePad *pad, GstBuffer *tag,
    guint8 type)
{
  GstBuffer **header = type == flv::TAG_VIDEO ? &pad->video_header :
      &pad->audio_header;
  gst_buffer_replace (header, tag);
}

void
gst_flv_splice_pad_store_stream_headers (GstFlvSplicePad *pad, GstCaps *caps)
{
  const GValue *headers = gst_structure_get_value (
      gst_caps_get_structure (caps, 0), "streamheader");
  if (!headers || !GST_VALUE_HOLDS_ARRAY (headers))
    return;
  for (guint i = 0; i < gst_value_array_get_size (headers); i++) {
    const GValue *value = gst_value_array_get_value (headers, i);
    if (!GST_VALUE_HOLDS_BUFFER (value))
      continue;
    GstBuffer *buffer = gst_value_get_buffer (value);
    flv::Tag tag = flv::parse (buffer);
    if (tag.complete && tag.sequence_header)
      gst_flv_splice_pad_store_header (pad, buffer, tag.type);
  }
}

void
gst_flv_splice_pad_reset (GstFlvSplicePad *pad)
{
  pad->waiting = pad->flushing = pad->started = pad->stalled = FALSE;
  pad->ended = pad->released;
  pad->offset = 0;
}
