/* The output both FLV elements produce, written down once: the default
 * output format (size, frame rate, keyframe interval, AAC format, bitrates)
 * and how they encode it (x264's and voaacenc's settings, what follows each
 * encoder into flvmux). flvencodebin encodes a broadcast with them;
 * flvsplice's slate (flvslate.cpp) encodes the picture it shows between
 * inputs with them. An output that drifted from the other would change the
 * stream at a takeover, so neither element keeps a copy of its own.
 *
 * Plugin-internal and header-only: constants, and launch-description
 * pieces that each element completes with its own options.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <string>

namespace wsrtmp {

/* ---- The default output format (both elements' properties) */

constexpr int DEFAULT_WIDTH = 1280, DEFAULT_HEIGHT = 720;
constexpr int DEFAULT_FPS_N = 30, DEFAULT_FPS_D = 1;
/* Seconds between keyframes. */
constexpr double DEFAULT_KEYFRAME_INTERVAL = 2.0;
/* kbit/s. */
constexpr guint DEFAULT_VIDEO_BITRATE = 2500, DEFAULT_AUDIO_BITRATE = 128;
/* AAC-LC: flvencodebin encodes at this rate; the slate's silence has it
 * when no input's AAC sequence header says otherwise. Stereo: what
 * YouTube, Facebook and Amazon IVS ask for. */
constexpr int DEFAULT_AAC_RATE = 48000, DEFAULT_AAC_CHANNELS = 2;

/* ---- How both encode it */

/* x264's preset unless flvencodebin's speed-preset says otherwise. */
constexpr const char *DEFAULT_SPEED_PRESET = "veryfast";
/* The H.264 encoder with the options both use: zerolatency, and no
 * B-frames (no composition offsets of the encoder's own). Each element adds
 * its rate control and keyframe options (see h264_encode). */
constexpr const char *H264_ENCODER = "x264enc tune=zerolatency bframes=0";
/* What follows x264 into flvmux: H.264 Main, parsed. */
constexpr const char *H264_ENCODED = "video/x-h264,profile=main ! h264parse";
/* AAC-LC, voaacenc (about a third of avenc_aac's CPU); flvmux takes raw
 * AAC with codec_data, which aacparse gives it. */
constexpr const char *AAC_ENCODER = "voaacenc";
constexpr const char *AAC_ENCODED = "aacparse";

/* A printf into a std::string. */
inline std::string
printf_string (const char *format, ...) G_GNUC_PRINTF (1, 2);

inline std::string
printf_string (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  return text;
}

/* "x264enc <both's options> <options> ! video/x-h264,profile=main !
 * h264parse". */
inline std::string
h264_encode (const std::string &options)
{
  return std::string (H264_ENCODER) + " " + options + " ! " + H264_ENCODED;
}

/* "voaacenc [options] ! aacparse". */
inline std::string
aac_encode (const std::string &options = "")
{
  return std::string (AAC_ENCODER) + (options.empty () ? "" : " ") +
      options + " ! " + AAC_ENCODED;
}

}  // namespace wsrtmp
