/* flvsplice: one FLV output that outlives its inputs; a slate between them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_FLV_SPLICE (gst_flv_splice_get_type ())
G_DECLARE_FINAL_TYPE (GstFlvSplice, gst_flv_splice, GST, FLV_SPLICE, GstElement)

GST_ELEMENT_REGISTER_DECLARE (flvsplice);

/* Element messages (see the element documentation in gstflvsplice.cpp). */
/* The slate started; "position" (guint64, ns): when its first picture is
 * presented; "reason" (string): "eos" (the input on air ended) or "stall"
 * (it delivered nothing for stall-timeout ms). */
#define GST_FLV_SPLICE_SLATE_MESSAGE_NAME "flvsplice-slate"
/* An input took over from the slate, or a stalled one came back; "gap"
 * (guint64, ns): slate duration. */
#define GST_FLV_SPLICE_RESUMED_MESSAGE_NAME "flvsplice-resumed"
/* A sink pad got EOS; "pad" (string): its name. */
#define GST_FLV_SPLICE_INPUT_ENDED_MESSAGE_NAME "flvsplice-input-ended"
/* No input took over within "timeout" seconds: EOS follows. */
#define GST_FLV_SPLICE_TIMEOUT_MESSAGE_NAME "flvsplice-timeout"

G_END_DECLS
