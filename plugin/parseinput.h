/* flvencodebin's input side: how its parsebin reads the input, and what
 * the H.264 parsers inside parsebin put out. The input is reported as not
 * live and offered in push mode only; Matroska's H.264 is declared whole
 * pictures, and h264parse is offered AVC only: pad probes without state.
 * The pictures' timestamps are repaired before h264parse sees them
 * (TimestampRepair, one per parser): a repeated one would be lost there.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

namespace wsrtmp {

/* On parsebin's sink pad: the input is not live, and pushed. */
void prepare_parse_input (GstPad *parse_sink);

/* How far back a picture's timestamp may go and still be repaired (moved
 * after the previous one's); further back is an error. */
constexpr GstClockTime MAX_TIMESTAMP_REPAIR = GST_SECOND;

/* The pictures' timestamps in decoding order, repaired: h264parse (its
 * base class) takes a timestamp equal to the previous buffer's for the
 * same picture's and leaves the picture without one, and flvmux holds a
 * picture without a timestamp until the other track has ended, writing
 * every later one there (Firefox's WebCodecs encoder stamps two pictures
 * alike now and then). The rule alone, on running times, without a
 * pipeline. */
class TimestampRepair {
 public:
  struct Verdict {
    /* How much later the picture is to be: 0 leaves it as it is. */
    GstClockTime shift = 0;
    /* Its timestamp goes back more than MAX_TIMESTAMP_REPAIR: an error. */
    bool error = false;
  };

  /* The next picture's decoding time (decoding: its DTS) or, without one,
   * its presentation time (PTS; these may go back: B-frames), as running
   * time. A time not after the previous picture's (as moved) is moved a
   * millisecond (FLV's resolution) after it, unless it is a presentation
   * time before the previous picture's own. */
  Verdict picture (GstClockTime running, bool decoding);
  /* A new stream (a flush): nothing before counts. */
  void reset () { last_ = previous_ = GST_CLOCK_TIME_NONE; }
  /* How many pictures were moved. */
  guint repaired () const { return repaired_; }

 private:
  GstClockTime last_ = GST_CLOCK_TIME_NONE;      /* the previous, as moved */
  GstClockTime previous_ = GST_CLOCK_TIME_NONE;  /* the previous, as it came */
  guint repaired_ = 0;
};

/* On an element parsebin added: when it is h264parse, whole pictures in
 * and AVC out, and its input's timestamps repaired (TimestampRepair; an
 * error is posted as bin, the element). */
void prepare_parser (GstElement *element, GstElement *bin);

}  // namespace wsrtmp
