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
 *     posts, finish () (the server shuts down);
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

 protected:
  ~Input () = default;
};

}  // namespace wsrtmp
