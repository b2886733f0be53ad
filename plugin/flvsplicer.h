/* The splice, flvsplice's inside: which input is on air (the oldest that
 * has not ended; a newer one waits in its chain), where its tags go on the
 * output (from its first keyframe, retimed to continue the output, its
 * sequence headers first), the slate task that fills the gaps between
 * inputs, the stall watch's verdict, and EOS when the broadcast is over.
 *
 * The element (gstflvsplice.cpp) is the GObject face: properties, pads,
 * state changes, the finish signal. It owns one Splicer and calls it from
 * those; the Splicer pushes on the element's source pad and posts the
 * element's messages.
 *
 * Locking, plugin.cpp's order: the element's settings_lock (SettingsLock),
 * then state_lock_. Each entry point copies the settings out before it
 * takes state_lock_; nothing is pushed or posted with state_lock_ held.
 * Only one thread pushes on the source pad at a time: the active input's
 * streaming thread, or the slate task while the output is Output::Slate;
 * the switch from the slate to an input pauses the task (which waits for
 * its current push) before the input pushes. The stall watch starts the
 * slate only while the active input's thread is out of its chain (so not
 * pushing), and never pushes itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "flvsplicestate.h"

#include <condition_variable>
#include <initializer_list>
#include <mutex>

namespace wsrtmp {

class Splicer {
 public:
  /* element and srcpad: the flvsplice that owns this and its source pad
   * (no references taken); settings: the element's. */
  Splicer (GstElement *element, GstPad *srcpad, const SettingsLock &settings);
  Splicer (const Splicer &) = delete;
  Splicer &operator= (const Splicer &) = delete;

  /* ---- The sink pads' functions */
  /* One buffer of pad (takes it); blocks while pad waits for its turn. */
  GstFlowReturn chain (GstFlvSplicePad *pad, GstBuffer *buffer);
  /* pad's caps: its sequence headers; the first caps start the slate's
   * encoding, before it is needed. */
  void caps (GstFlvSplicePad *pad, GstCaps *caps);
  /* Posts flvsplice-input-ended first. */
  void eos (GstFlvSplicePad *pad);
  void flush (GstFlvSplicePad *pad, bool flushing);

  /* ---- Request pads */
  /* The name of a new sink pad: name if it is a free sink_%u, the next
   * free number without one; NULL when name is taken. */
  gchar *new_pad_name (const gchar *name);
  /* Takes a reference. */
  void add_pad (GstFlvSplicePad *pad);
  /* Works at any time: a pad blocked waiting for its turn returns
   * FLUSHING; one that is pushing ends its input when it returns. */
  void release_pad (GstFlvSplicePad *pad);

  /* ---- The element */
  /* The finish action signal. */
  void finish ();
  /* READY -> PAUSED: a new run. */
  void reset ();
  /* Into and out of PLAYING (the stall watch counts only there). */
  void set_playing (bool playing);
  /* The source pad is deactivated: inputs flush, the slate task stops. */
  void stop ();
  /* PAUSED -> READY: stop, and finish was for this run. */
  void end_run ();
  /* From READY -> PAUSED to PAUSED -> READY (READY -> NULL too). */
  void start_stall_watch ();
  void stop_stall_watch ();

  /* ---- Read-only properties */
  guint gaps ();
  guint64 slate_time_ns ();
  bool on_slate ();

 private:
  using Lock = std::unique_lock<std::mutex>;
  struct StallWakeup;

  static void slate_loop (gpointer data);
  static gboolean on_stall_check (GstClock *clock, GstClockTime time,
      GstClockID id, gpointer data);

  /* Called with state_lock_; those given the Lock release it meanwhile. */
  void queue_message (GstStructure *structure);
  void request_slate (const Settings &s);
  GstFlowReturn push (std::initializer_list<GstBuffer *> buffers, Lock &lock);
  GstFlowReturn push_keyframe (GstBuffer *buffer, gint64 ts, Lock &lock);
  GstFlowReturn start_output (GstFlvSplicePad *pad, Lock &lock);
  void start_slate (const Settings &s, const char *reason);
  gint64 stop_slate (Output next, Lock &lock);
  void send_eos (Lock &lock);
  void end_input (const Settings &s, GstFlvSplicePad *pad, Lock &lock);
  GstFlowReturn fill_audio_gap (gint64 until, Lock &lock);
  GstFlowReturn take_over (const Settings &s, GstFlvSplicePad *pad,
      gint64 keyframe_ts, gint32 keyframe_offset, Lock &lock);
  GstFlowReturn handle_buffer (const Settings &s, GstFlvSplicePad *pad,
      GstBuffer *buffer, Lock &lock);
  GstFlowReturn wait_for_turn (GstFlvSplicePad *pad, Settings &s, Lock &lock);
  void slate_iteration ();
  void end_slate_with_eos (bool timed_out, Lock &lock);
  GstFlowReturn push_slate_headers (const Slate &slate, Lock &lock);
  Clock::time_point check_stall (const Settings &s);
  void schedule_stall_check (Clock::time_point when);
  /* Without state_lock_. */
  void post_messages ();

  GstElement *const element_;   /* constant */
  GstPad *const srcpad_;        /* constant */
  const SettingsLock &settings_;        /* guarded by its settings_lock */
  std::mutex state_lock_;
  /* Signals changes of state: an input's turn, the slate's end, stopping.
   * Waited on with state_lock_. */
  std::condition_variable cond_;
  State state_;                 /* guarded by state_lock_ */
};

}  // namespace wsrtmp
