/* An input of a broadcast: something that yields FLV into one of
 * flvsplice's inputs. The Broadcast knows its inputs only through this
 * interface; a WebSocket connection (Session, session.h) is the first
 * kind. Like a GstRTSPClient with its GstRTSPMedia, an input calls down
 * into its Broadcast and hears back only what the broadcast announces
 * (Broadcast::Listener, given with attach); broadcast.h never includes an
 * input's header.
 *
 * Between the two:
 *   input -> broadcast: attach (its element joins the pipeline, fed to a
 *     new flvsplice input), end_after (its streamer stopped: the broadcast
 *     ends after its data), end_input (it ended or failed inside the
 *     pipeline: its flvsplice input ends here), detach (it leaves);
 *   broadcast -> input: element (), on_message () for what its element
 *     posts, finish () (the server shuts down), request_keyframe () (the
 *     output waits for a video keyframe: make the next frame one);
 *   broadcast -> listener: state changed, input active, input ended,
 *     failed, gone, and frames for the client (destination status).
 *
 * Main thread only. The input owns its element and outlives its time in
 * the broadcast (until detach's done, or broadcast_gone).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

namespace wsrtmp {

/* Why the broadcast asks its input for a keyframe; the words the client
 * sees in {"type":"keyframe","reason":…} (README). */
/* A destination (re)connects, or fell behind: what it sends next starts at
 * a keyframe (output_gate.h), and tags before one are lost to it. */
constexpr const char *KEYFRAME_REASON_DESTINATION = "destination";
/* A newer connection joins a running broadcast (after a slate, or taking
 * over from another): flvsplice puts it on air at its first keyframe. */
constexpr const char *KEYFRAME_REASON_TAKEOVER = "takeover";

class Input {
 public:
  /* A bin with FLV on its "src" pad, held by the input (not floating). The
   * broadcast adds it to its pipeline (its own reference, dropped when it
   * removes it) and links it to flvsplice. */
  virtual GstElement *element () const = 0;
  /* A message posted from inside element (): the input's own, never the
   * broadcast's. */
  virtual void on_message (GstMessage *message) = 0;
  /* Finish as if the streamer had stopped (server shutdown): what was
   * received is still delivered, then the input ends. */
  virtual void finish () = 0;
  /* The output waits for a video keyframe from this input (reason: one of
   * the KEYFRAME_REASON_* words): if it can, the input has its next video
   * frame made a keyframe. Only a hint, rate-limited by the broadcast; an
   * input whose frames are not made on request (a file, say) ignores it,
   * as this default does. */
  virtual void request_keyframe (const char *reason) { (void) reason; }

 protected:
  ~Input () = default;
};

}  // namespace wsrtmp
