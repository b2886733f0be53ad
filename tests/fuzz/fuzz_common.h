/* What every libFuzzer target in tests/fuzz shares: process setup (the
 * sanitized plugin loaded in this process, criticals made fatal), hang
 * reporting and invariant failures.
 *
 * Environment (the same for every target):
 *   FUZZ_INGEST_TIMEOUT_MS        how long one execution may take to end
 *                                 (default 10000) before it counts as a hang
 *   FUZZ_INGEST_ABORT_ON_HANG=1   a hang aborts, so libFuzzer keeps the input
 *                                 (replay_main sets it)
 *   FUZZ_INGEST_FATAL_CRITICALS=0 GLib criticals are printed, not fatal
 *   FUZZ_INGEST_VERBOSE=1         say how each execution ended
 *   FUZZ_KNOWN_DEFECTS_FATAL=1    known defects (below) abort like any
 *                                 broken invariant: to check a fix
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

namespace fuzz {

/* Settings read from the environment by init(). */
extern gint64 timeout_us;
extern bool verbose;

/* Call once from LLVMFuzzerInitialize: environment, log writer, gst_init,
 * and the wsrtmp plugin loaded (so its coverage counters exist before
 * fuzzing starts). target names the program in messages. */
void init (const char *target);

/* GStreamer's own elements are not instrumented, so libFuzzer sees none of
 * their code. Under libFuzzer (not in the replay programs), this turns what
 * they log instead into coverage: each pair of consecutive debug statements
 * reached (file and line, up to GST_LEVEL_LOG) in the categories matching
 * patterns (a GST_DEBUG string such as "matroska*:6,qtdemux:6") is a feature
 * (libFuzzer's extra counters), so an input that reaches new code in a
 * demuxer or parser is kept. Nothing is printed. Does nothing when the user
 * set GST_DEBUG (a debugging session). Call after init(). */
void trace_gst_debug (const char *patterns);

/* The same for a GLib log domain (g_debug messages, text without digits;
 * libsoup's name every decision of its frame parser). Call after init(),
 * before the library logs anything. */
void trace_glib_debug (const char *domain);

/* An execution that neither ended nor failed within timeout_us. */
void hang (const char *what);

/* An invariant does not hold: prints why and aborts (libFuzzer keeps the
 * input as a crash). */
[[noreturn]] void fail (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* An invariant that does not hold because of a defect that is known, kept
 * as a regression input and described in regressions/README.md under id:
 * printed once per id, fatal only with FUZZ_KNOWN_DEFECTS_FATAL=1, so
 * fuzzing goes on past it until it is fixed. */
void known_defect (const char *id, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

/* Prints when FUZZ_INGEST_VERBOSE=1. */
void note (const char *format, ...) G_GNUC_PRINTF (1, 2);

}  // namespace fuzz
