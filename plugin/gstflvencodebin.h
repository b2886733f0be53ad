/* flvencodebin: any browser recording in, FLV with H.264 + AAC out.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_FLV_ENCODE_BIN (gst_flv_encode_bin_get_type ())
G_DECLARE_FINAL_TYPE (GstFlvEncodeBin, gst_flv_encode_bin, GST, FLV_ENCODE_BIN, GstBin)

GST_ELEMENT_REGISTER_DECLARE (flvencodebin);

/* Element message posted whenever the video output mode is decided or
 * changes: fields "mode" (string: "passthrough" | "transcode") and
 * "reason" (string). */
#define GST_FLV_ENCODE_BIN_MODE_MESSAGE_NAME "flvencodebin-output"

G_END_DECLS
