/* Why a stream failed or was refused, as its client is told: a WebSocket
 * close code, a short reason for the streamer, and a machine word (kind).
 * classify_error turns a pipeline's error message (from an input, the
 * broadcast's output or a destination) into one. No state, any thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "wsclose.h"

#include <gst/gst.h>

#include <string>
#include <vector>

namespace wsrtmp {

/* What a failed (or refused) stream tells the client and counts in the
 * metrics. */
struct Failure {
  gushort code;                 /* a close code (CloseCode, wsclose.h) */
  std::string reason;           /* short, for the streamer */
  /* A machine word, the same in the {"type":"error"} frame (the page
   * decides on it) and in wsrtmp_errors_total{kind}; README.md lists
   * them all with their close codes. */
  std::string kind;
};

/* Maps a pipeline error to what the client is told. */
Failure classify_error (GstMessage *error_message);

/* Every kind a client can be told, in README.md's order (its table gives
 * each one's close code and meaning; the page's words are in
 * web/js/error_kinds.js). tests/service/test_core checks the README's
 * table against this list, tests/e2e/error_kinds.test.mjs the page's. */
const std::vector<std::string> &error_kinds ();
bool is_error_kind (const std::string &kind);
/* Counted in wsrtmp_errors_total beside those, never sent to a client: a
 * destination's connection dropped and is being retried. */
constexpr const char *RTMP_LOST_KIND = "rtmp_lost";

}  // namespace wsrtmp
