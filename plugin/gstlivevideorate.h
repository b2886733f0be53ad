/* livevideorate: a constant frame rate without waiting for the next picture.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_LIVE_VIDEO_RATE (gst_live_video_rate_get_type ())
G_DECLARE_FINAL_TYPE (GstLiveVideoRate, gst_live_video_rate, GST,
    LIVE_VIDEO_RATE, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (livevideorate);

G_END_DECLS
