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
#include <deque>
#include <memory>

namespace wsrtmp {

/* Application message posted once FLV data first reaches a sink. */
constexpr const char *MEDIA_LIVE_MESSAGE = "wsrtmp-live";

struct MediaCounters {
  std::atomic<guint64> bytes_out { 0 };
  /* Kept during an outage and sent after the input ended. */
  std::atomic<guint64> kept_bytes_sent { 0 };
  std::atomic<bool> live_posted { false };
  /* The output delay (add_delay_probe): the lowest (arrival on the
   * monotonic clock - the tag's timestamp), in µs, of the tags since
   * take_output_delay_ms last ran (G_MAXINT64: none). */
  std::atomic<gint64> offset_min_us { G_MAXINT64 };
  /* Those lowest offsets of the last DELAY_MEMORY takes, newest last: the
   * broadcast's best recent moment, when its output ran as close to real
   * time as it does. Main thread only. */
  std::deque<gint64> recent_offsets_us;
};

/* Posts MEDIA_LIVE_MESSAGE on pipeline once the first buffer reaches pad
 * (of every pad given, the first one to see data). */
void add_live_probe (GstPad *pad, std::shared_ptr<MediaCounters> counters,
    GstElement *pipeline);
/* Adds every buffer's and list's size that passes pad to bytes_out. */
void add_bytes_out_probe (GstPad *pad,
    std::shared_ptr<MediaCounters> counters);

/* Notes when each timestamped buffer (an FLV tag) passes pad, for
 * take_output_delay_ms. */
void add_delay_probe (GstPad *pad, std::shared_ptr<MediaCounters> counters);
/* Main thread, once a second: how far the output runs behind real time
 * now, ms: the lowest offset since the last call (the tags that came
 * right after their message) against the lowest of the last 20 calls. A
 * server that falls behind grows it; a streamer's one-off stall is
 * forgotten after 20 s. -1 when no tag came since the last call (an input
 * that pauses is not the server falling behind). */
gint64 take_output_delay_ms (MediaCounters &counters);

/* The bytes a buffer or buffer-list probe sees (0 for anything else). */
gsize probe_data_size (GstPadProbeInfo *info);

}  // namespace wsrtmp
