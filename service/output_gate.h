/* What flows from the tee to one destination's sink (the output gate),
 * shared between the threads that touch it. While the destination's
 * connection is down ("closed") the FLV tags are kept, from a video
 * keyframe on and bounded in bytes; when a new connection is up they are
 * sent first, then the live ones. A failing sink never stops the tee: its
 * flow errors become OK and the gate closes.
 *
 * Threads: the tee's streaming thread (the gate probe on the tee's pad),
 * the sink's streaming thread (the ghost pad's chain function, the sink
 * pad's probes), the main thread (DestinationOutput) and a background job
 * (DestinationOutput::open pushing kept tags after the input ended).
 * Owned jointly (std::shared_ptr) by its DestinationOutput and the probes
 * and pad functions installed below, which drop their reference when
 * their pads go.
 *
 * While it waits for a keyframe (tags dropped: the connection was lost,
 * or the destination fell behind) it tells the main thread once, with an
 * OUTPUT_KEYFRAME_MESSAGE on the bus, so the broadcast can ask its input
 * for one instead of waiting for the next in the stream.
 *
 * Locking: one lock, lock; nothing is pushed or posted while it is held.
 * Fields marked "protected by lock" are read and written with it held; the
 * atomics are not.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>

namespace wsrtmp {

/* Application message, from the gate's tee pad (its source), posted once
 * each time the gate starts waiting for a video keyframe. */
constexpr const char *OUTPUT_KEYFRAME_MESSAGE = "wsrtmp-keyframe-wanted";

struct OutputGate {
  std::mutex lock;
  bool open = true;             /* protected by lock */
  /* A keyframe was seen since the connection was lost (tags before the
   * first keyframe are useless to a new connection). Protected by lock. */
  bool synced = true;
  /* OUTPUT_KEYFRAME_MESSAGE was posted since synced became false: one
   * request per wait, not one per dropped tag. Protected by lock. */
  bool keyframe_asked = false;
  /* EOS arrived while closed. Protected by lock. */
  bool eos_pending = false;
  /* Bumped per sink: stale sinks are ignored. Protected by lock. */
  guint generation = 0;
  std::deque<GstBuffer *> backlog;      /* protected by lock */
  gsize backlog_bytes = 0;              /* protected by lock */
  gsize max_backlog_bytes = 64 * 1024 * 1024;
  /* Lost while waiting for a keyframe or over the bound. Protected by
   * lock. */
  guint64 dropped_bytes = 0;
  /* A sink of this output rendered FLV data at least once: the server had
   * accepted the stream, so losing it is worth a reconnection. */
  std::atomic<bool> ever_delivered { false };
  /* Bytes handed to the current sink bin, and to every sink so far. */
  std::atomic<guint64> pushed_bytes { 0 };
  std::atomic<guint64> pushed_total { 0 };
  /* The current sink received the end of the stream. */
  std::atomic<bool> eos_at_sink { false };
  /* Bytes the sinks' connections accepted, summed over replaced sinks. */
  std::atomic<guint64> accepted_before { 0 };
  /* The next sink starts without the FLV header (a reconnection): send the
   * caps' streamheader first, for sinks that do not (flvdemux). Protected
   * by lock. */
  bool needs_header = false;
  ~OutputGate ();

  /* The rest are called with lock held. */
  /* False (and counted as dropped) for what comes before the first video
   * keyframe since the connection was lost: useless to a new one. Sets
   * ask_keyframe the first time it drops in a wait (keyframe_asked): the
   * caller posts OUTPUT_KEYFRAME_MESSAGE once it released lock. */
  bool sync (GstBuffer *buffer, bool &ask_keyframe);
  /* Closed: keeps a ref to buffer, then drops whole GOPs from the front
   * while over max_backlog_bytes, so the kept tags still start with a
   * keyframe. */
  void keep (GstBuffer *buffer);
};

/* An FLV video tag holding a keyframe (frame type 1). */
bool is_flv_video_keyframe (GstBuffer *buffer);

/* The streaming threads' side, installed by DestinationOutput. Each holds
 * a reference to gate until its pad goes. */
/* On the tee's request pad for the output: passes buffers while open,
 * keeps them (gate.keep) while closed, holds back EOS until open, and
 * pushes the caps' header and the kept tags first once open again; posts
 * OUTPUT_KEYFRAME_MESSAGE (sync). */
void add_gate_probe (GstPad *tee_pad, std::shared_ptr<OutputGate> gate);
/* On a sink bin's ghost pad: counts what is handed to the sink
 * (pushed_bytes) and turns its flow errors into OK, closing the gate while
 * generation is still the gate's (the sink is the current one). */
void set_gate_chain (GstPad *ghost, std::shared_ptr<OutputGate> gate,
    guint generation);
/* On the sink's pad: ever_delivered once a second media buffer arrives
 * (the first was rendered). */
void add_delivered_probe (GstPad *sink_pad, std::shared_ptr<OutputGate> gate);
/* On the sink's pad: eos_at_sink once the end of the stream arrives. */
void add_eos_probe (GstPad *sink_pad, std::shared_ptr<OutputGate> gate);

}  // namespace wsrtmp
