/* flvsplice's sink pad: one input, where it stands (waiting for its turn,
 * on air, stalled, ended), the offset that maps its timestamps onto the
 * output, and the sequence headers it sent. Every field is guarded by the
 * element's state_lock (gstflvsplice.cpp); the element reads and writes
 * them directly.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_FLV_SPLICE_PAD (gst_flv_splice_pad_get_type ())
G_DECLARE_FINAL_TYPE (GstFlvSplicePad, gst_flv_splice_pad, GST, FLV_SPLICE_PAD,
    GstPad)

struct _GstFlvSplicePad {
  GstPad parent;

  /* The streaming thread is in chain (pushing, or waiting to be active). */
  gboolean in_chain;
  gboolean waiting;
  gboolean flushing;
  /* Released by the application; ended when out of chain too. */
  gboolean released;
  /* EOS or released: never active again. */
  gboolean ended;
  /* Took over at a keyframe: tags go out at their timestamp + offset. */
  gboolean started;
  /* Active, but delivered nothing for stall-timeout: the slate runs, and
   * the input is spliced back in at its next keyframe. */
  gboolean stalled;
  gint64 offset;
  /* The latest AVC and AAC sequence header tags this input sent. */
  GstBuffer *video_header;
  GstBuffer *audio_header;
};

/* Keeps tag, a sequence header of type (FLV tag type), as the input's
 * latest. */
void gst_flv_splice_pad_store_header (GstFlvSplicePad *pad, GstBuffer *tag,
    guint8 type);

/* Keeps the AVC and AAC sequence headers in the caps' streamheader. */
void gst_flv_splice_pad_store_stream_headers (GstFlvSplicePad *pad,
    GstCaps *caps);

/* A new run (READY -> PAUSED): only a released pad stays ended. */
void gst_flv_splice_pad_reset (GstFlvSplicePad *pad);

G_END_DECLS
