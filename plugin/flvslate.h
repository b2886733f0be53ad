/* The slate: what flvsplice puts out while no input is on air, a still
 * picture (an image file, or a plain dark card) with AAC silence. It is
 * encoded once per format into one GOP of FLV tags, which the element loops
 * with new timestamps; a broadcast on slate encodes nothing.
 *
 * Encodings are kept in a process-wide cache shared by every flvsplice and
 * made in the background, each on a thread the cache owns: the cache joins
 * its threads when it is dropped (at plugin unload or process exit; an
 * encoding still under way is cancelled first). No thread is detached.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace wsrtmp {

/* Samples in an AAC-LC frame: the slate's silence comes in these. */
constexpr int AAC_FRAME_SAMPLES = 1024;

/* Output time (ms) of AAC frame n after one at base_ms, at rate. */
inline gint64
aac_frame_ts (gint64 base_ms, guint64 n, int rate)
{
  return base_ms + gint64 ((n * AAC_FRAME_SAMPLES * 1000 + rate / 2) / rate);
}

/* One AAC frame's duration at rate, in ms rounded up: where audio after a
 * frame at ts may start without overlapping it. */
inline gint64
aac_frame_ms_ceil (int rate)
{
  return (AAC_FRAME_SAMPLES * 1000 + rate - 1) / rate;
}

/* What voaacenc, the slate's AAC encoder, can encode. */
bool aac_format_supported (int rate, int channels);

/* One encoding's format. */
struct SlateKey {
  std::string image;            /* "" = the plain card */
  int width, height, fps_n, fps_d;
  int gop_frames;               /* frames in one keyframe interval */
  int rate, channels;           /* AAC */

  bool operator< (const SlateKey &other) const;
};

/* One GOP of slate video and some AAC frames of silence, as FLV tags from
 * flvmux. Written once by the encoding thread, read-only after `ready`. */
struct Slate {
  explicit Slate (const SlateKey &key) : key (key) {}
  ~Slate ();
  Slate (const Slate &) = delete;
  Slate &operator= (const Slate &) = delete;

  const SlateKey key;
  std::atomic<bool> ready { false };
  std::string error;            /* not even the plain card could be made */
  std::string warning;          /* the image could not be used */
  GstBuffer *video_header = nullptr;
  GstBuffer *audio_header = nullptr;
  std::vector<GstBuffer *> video;       /* starts with the keyframe */
  std::vector<GstBuffer *> audio;
  gint64 encode_us = 0;
};

/* The slate for key from the process-wide cache, encoding it in the
 * background the first time: until `ready`, it is being made. Entries stay
 * for the process's life (one GOP each, a few hundred kB; a server uses one
 * or two formats). Takes the cache's lock, a leaf lock (plugin.cpp). */
std::shared_ptr<const Slate> slate_for (const SlateKey &key);

}  // namespace wsrtmp
