/* What a broadcast's streaming threads count and announce for the main
 * thread: the FLV bytes out of flvsplice, the kept bytes sent after the
 * input ended, and one application message once FLV data first reaches a
 * sink (the broadcast is live). The probes that do it live here too.
 *
 * Shared (std::shared_ptr) by the Media, its DestinationOutputs and the
 * probes, which drop their reference when their pads go; the fields are
 * atomics, no lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <memory>

namespace wsrtmp {

/* Application message posted once FLV data first reaches a sink. */
constexpr const char *MEDIA_LIVE_MESSAGE = "wsrtmp-live";

struct MediaCounters {
  std::atomic<guint64> bytes_out { 0 };
  /* Kept during an outage and sent after the input ended. */
  std::atomic<guint64> kept_bytes_sent { 0 };
  std::atomic<bool> live_posted { false };
};

/* Posts MEDIA_LIVE_MESSAGE on pipeline once the first buffer reaches pad
 * (of every pad given, the first one to see data). */
void add_live_probe (GstPad *pad, std::shared_ptr<MediaCounters> counters,
    GstElement *pipeline);
/* Adds every buffer's and list's size that passes pad to bytes_out. */
void add_bytes_out_probe (GstPad *pad,
    std::shared_ptr<MediaCounters> counters);

/* The bytes a buffer or buffer-list probe sees (0 for anything else). */
gsize probe_data_size (GstPadProbeInfo *info);

}  // namespace wsrtmp
