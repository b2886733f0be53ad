/* flvencodebin's H.264 passthrough with fallback: the browser's H.264 goes
 * through untouched (parsed and remuxed, never decoded) until it can no
 * longer be, and is transcoded from that picture on:
 *
 *   parsed H.264 ─ tee ─ h264parse ─────────────────────────── funnel ─ (mux)
 *                     └ queue ! decoder ! ... ! x264enc ! h264parse ┘
 *
 * - The rule (H264SwitchDecision), on pictures' times and flags alone: the
 *   output never has a keyframe gap over keyframe-interval + 10 %. When the
 *   next picture would leave a longer one, the switch is at this picture;
 *   an input size other than the output's switches at the keyframe that
 *   brings it.
 * - The switch (H264Switch), in the pipeline: a probe on the tee's input
 *   applies the rule and keeps the input since the last keyframe. At the
 *   switch it adds the decoding branch (only then: an idle decoder per
 *   stream costs memory and a thread) and feeds it the kept pictures so
 *   the decoder catches up; the new branch drops what it decodes up to the
 *   last picture passed through, so its encoder starts with a keyframe at
 *   the switch picture; the passthrough branch drops everything from the
 *   switch picture on. The new branch's output waits until the passthrough
 *   branch has put out its last picture; funnel then re-sends the new
 *   branch's caps, and streamable flvmux re-sends the codec headers.
 *
 * The switch gets the element's settings by value and tells the element of
 * a mode change through a callback; of the element it knows only the bin
 * it builds in (and posts errors as), never its private struct.
 * Its lock is a leaf (plugin.cpp): nothing else is taken while it is held,
 * and it is not held while calling out (the callback, building, pushing).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "encodebranches.h"

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace wsrtmp {

/* Browsers asked for 2 s keyframes deliver them 2.05 s apart or so. */
constexpr double KEYFRAME_TOLERANCE = 1.1;

/* The passed-through pictures' frame rate, from the median interval
 * between those in gop (whole frames per second), when it is below
 * fps_n/fps_d; 0 otherwise, or when there are too few to tell. */
int passed_frame_rate (GstBufferList *gop, int fps_n, int fps_d);

/* When passing H.264 through stops: the rule alone, on each picture's
 * timestamps and keyframe flag, without a pipeline. */
class H264SwitchDecision {
 public:
  /* What one picture decided. */
  struct Verdict {
    /* This picture is the first one transcoded; all after it are too. */
    bool now = false;
    /* Because the next picture would come too late (else: the size). */
    bool keyframe_late = false;
    std::string reason;
    /* The input since its last keyframe (this picture not included), for
     * the decoder to catch up; the caller owns it. Null when the switch is
     * at a keyframe. */
    GstBufferList *gop = nullptr;
  };

  /* The output's size, and its keyframe interval in seconds. */
  H264SwitchDecision (int width, int height, double keyframe_interval);
  ~H264SwitchDecision () { gst_clear_buffer_list (&gop_); }
  H264SwitchDecision (const H264SwitchDecision &) = delete;
  H264SwitchDecision &operator= (const H264SwitchDecision &) = delete;

  /* The input's size from its caps (0: not known yet): another size than
   * the output's switches at the next keyframe. */
  void input_size (int width, int height);
  /* The next picture in decoding order, before it goes on. Once the switch
   * happened, every picture is transcoded: now stays false. */
  Verdict picture (GstBuffer *picture);
  /* Drops the kept pictures. */
  void clear () { gst_clear_buffer_list (&gop_); }

  bool transcoding () const { return transcoding_; }
  /* The latest picture passed through (PTS), none before one. */
  GstClockTime passed_until () const { return passed_until_; }
  /* Where in decoding order the transcode took over (DTS, or PTS without
   * one), none before. */
  GstClockTime switch_position () const { return switch_position_; }

  /* Why input of this size cannot be passed through. */
  static std::string size_reason (int width, int height, int out_width,
      int out_height);

 private:
  const int width_, height_;
  const double keyframe_interval_;
  const GstClockTime max_gap_;
  GstClockTime last_keyframe_ = GST_CLOCK_TIME_NONE;
  GstClockTime last_pts_ = GST_CLOCK_TIME_NONE;
  /* The input since its last keyframe: a decoder started at the switch
   * needs it to catch up. Only kept while passing through. */
  GstBufferList *gop_ = nullptr;
  bool switch_pending_ = false;
  std::string switch_reason_;
  bool transcoding_ = false;
  GstClockTime passed_until_ = GST_CLOCK_TIME_NONE;
  GstClockTime switch_position_ = GST_CLOCK_TIME_NONE;
};

/* The switch in the element's bin (see the top). Shared by its probes,
 * which keep it while their pads live; the element keeps it for clear(). */
class H264Switch : public std::enable_shared_from_this<H264Switch> {
 public:
  /* Called from a streaming thread, no lock of ours held. */
  using ModeChanged = std::function<void (const char *mode,
      const std::string &reason)>;

  /* Whether H.264 with caps may be passed through with settings (its size
   * may only be known later: the switch watches it then); why_not says why
   * not. */
  static bool possible (const EncodeSettings &settings, GstCaps *caps,
      std::string &why_not);
  /* Builds the passthrough branch in bin: *entry (the tee) takes the
   * parsed H.264, *exit (the funnel) goes to the muxer. Null, with an error
   * posted, when it cannot be built. */
  static std::shared_ptr<H264Switch> build (GstElement *bin,
      EncodeSettings settings, ModeChanged mode_changed, GstElement **entry,
      GstElement **exit);

  H264Switch (GstElement *bin, EncodeSettings settings,
      ModeChanged mode_changed);
  ~H264Switch () { clear (); }
  H264Switch (const H264Switch &) = delete;
  H264Switch &operator= (const H264Switch &) = delete;

  /* Drops what it holds: the kept pictures, the held fallback output. */
  void clear ();

 private:
  static GstPadProbeReturn watch_input (GstPad *pad, GstPadProbeInfo *info,
      gpointer data);
  static GstPadProbeReturn gate_passthrough_output (GstPad *pad,
      GstPadProbeInfo *info, gpointer data);
  static GstPadProbeReturn drop_passed_pictures (GstPad *pad,
      GstPadProbeInfo *info, gpointer data);
  bool add_fallback (GstCaps *caps, GstBufferList *gop);
  void release_fallback_output ();

  /* Set when built, then constant. */
  GstElement *const bin_;
  const EncodeSettings settings_;
  const ModeChanged mode_changed_;
  GstElement *tee_ = nullptr;
  GstElement *funnel_ = nullptr;

  std::mutex lock_;
  H264SwitchDecision decision_;         /* guarded by lock_ */
  /* The fallback's output, held back until the passthrough branch has put
   * out its last picture: the funnel must not interleave them. Guarded by
   * lock_. */
  GstPad *fallback_output_ = nullptr;
  gulong fallback_block_ = 0;
  bool passthrough_ended_ = false;      /* guarded by lock_ */
};

}  // namespace wsrtmp
