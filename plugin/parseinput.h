/* flvencodebin's input side: how its parsebin reads the input, and what
 * the H.264 parsers inside parsebin put out. The input is reported as not
 * live and offered in push mode only; Matroska's H.264 is declared whole
 * pictures, and h264parse is offered AVC only. Pad probes without state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

namespace wsrtmp {

/* On parsebin's sink pad: the input is not live, and pushed. */
void prepare_parse_input (GstPad *parse_sink);

/* On an element parsebin added: when it is h264parse, whole pictures in
 * and AVC out. */
void prepare_parser (GstElement *element);

}  // namespace wsrtmp
