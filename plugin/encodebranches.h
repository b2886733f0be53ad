/* flvencodebin's branches: what the element builds inside itself for the
 * input's streams, and how they are linked to its flvmux. A decoding branch
 * (the decoder for the input's caps, then what makes the output's stream of
 * it: size, frame rate and x264; or sample rate, channels and voaacenc), a
 * branch from a launch description, the links (to flvmux with audio-lag's
 * decoding lead on the video), and the generated track an input lacks
 * (silence, black or a placeholder picture) paced by the real one.
 *
 * Each builder adds to the bin it is given (the element), starts what it
 * adds in the bin's state, and posts the element's errors as the bin; none
 * keeps the bin. Settings come by value: the element's properties as they
 * were when the branch was built (EncodeSettings).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "flvoutput.h"

#include <gst/gst.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

/* The element's debug category (gstflvencodebin.cpp): its rooms log in it,
 * as part of its story. */
GST_DEBUG_CATEGORY_EXTERN (gst_flv_encode_bin_debug);

namespace wsrtmp {

/* flvencodebin's properties' defaults beside flvoutput.h's. */
constexpr guint DEFAULT_AUDIO_CHANNELS = DEFAULT_AAC_CHANNELS;
constexpr gboolean DEFAULT_PASSTHROUGH = TRUE;
constexpr guint DEFAULT_CODEC_THREADS = 0;
/* How far behind a picture its audio may still come (see the property).
 * A Chromium message's muxed audio ends 45-70 ms before its last picture
 * (AAC's look-ahead and whole frames): 70 ms lets every picture of the
 * recordings in tests/data go with its message; each 10 ms more holds
 * about 10 ms more of each message's audio back until the next message. */
constexpr guint64 DEFAULT_AUDIO_LAG = 70 * GST_MSECOND;
constexpr guint64 MAX_AUDIO_LAG = 500 * GST_MSECOND;

/* flvencodebin's properties (all but the read-only output-mode). */
struct EncodeSettings {
  guint video_bitrate = DEFAULT_VIDEO_BITRATE;
  std::string speed_preset = DEFAULT_SPEED_PRESET;
  guint audio_bitrate = DEFAULT_AUDIO_BITRATE;
  guint audio_channels = DEFAULT_AUDIO_CHANNELS;
  int width = DEFAULT_WIDTH;
  int height = DEFAULT_HEIGHT;
  int fps_n = DEFAULT_FPS_N;
  int fps_d = DEFAULT_FPS_D;
  guint codec_threads = DEFAULT_CODEC_THREADS;
  double keyframe_interval = DEFAULT_KEYFRAME_INTERVAL;
  bool passthrough = DEFAULT_PASSTHROUGH;
  std::string placeholder_image;
  guint64 audio_lag = DEFAULT_AUDIO_LAG;
};

/* ---- Launch descriptions of what follows a decoder */

/* Decoded video to the output: its size (letterboxed), its constant frame
 * rate (mid_stream: from the first picture on, for a fallback that takes
 * over mid-stream), x264. */
std::string video_transcode_description (const EncodeSettings &s,
    bool mid_stream = false);
/* Decoded audio to the output: 48 kHz, audio-channels, voaacenc. */
std::string audio_description (const EncodeSettings &s);

/* ---- Building */

/* A bin from a launch description, added to bin and (start) in its state;
 * null, with an error posted, when it cannot be built. */
GstElement *add_bin (GstElement *bin, const std::string &description,
    bool start = true);

/* [queue !] <decoder for caps> ! <after_decoding>, added to bin: returns
 * the first element (entry) and sets exit to the last; null, with an error
 * posted, when there is no decoder or after_decoding cannot be built. With
 * own_thread, a queue in front runs the branch in a thread of its own. */
GstElement *add_decode_branch (GstElement *bin, GstCaps *caps,
    const std::string &after_decoding, guint codec_threads, GstElement **exit,
    bool own_thread);

/* ---- Linking; false, with an error posted, when it fails */

bool link_pads (GstElement *bin, GstPad *src, GstPad *sink);
/* Static or request pads by name (a template name requests one). */
bool link_elements (GstElement *bin, GstElement *src, const char *src_pad,
    GstElement *sink, const char *sink_pad);
/* A track's last element to mux's "video" or "audio" pad; with audio_lag,
 * each video picture is decoded that much before it is presented; a video
 * picture without a timestamp is stamped right after the previous one. */
bool link_to_mux (GstElement *bin, GstElement *mux, GstElement *last,
    const char *mux_pad, GstClockTime audio_lag);

/* Drops our AAC encoder's priming from the audio that leaves output (the
 * encoding branch's source pad), and moves the rest earlier by as much. */
void skip_aac_priming (GstPad *output);

/* Where a buffer comes in decoding order. */
inline GstClockTime
decoding_position (GstBuffer *buffer)
{
  return GST_BUFFER_DTS_IS_VALID (buffer) ? GST_BUFFER_DTS (buffer) :
      GST_BUFFER_PTS (buffer);
}

/* gst_pad_add_probe with a shared object as its data: the probe keeps a
 * reference until it is removed or its pad goes. probe_object () in the
 * callback gives the object back. */
template <typename T>
gulong
add_probe_with (GstPad *pad, GstPadProbeType type,
    GstPadProbeCallback callback, std::shared_ptr<T> object)
{
  return gst_pad_add_probe (pad, type, callback,
      new std::shared_ptr<T> (std::move (object)),
      [] (gpointer data) { delete static_cast<std::shared_ptr<T> *> (data); });
}

template <typename T>
T &
probe_object (gpointer data)
{
  return **static_cast<std::shared_ptr<T> *> (data);
}

/* ---- The generated track */

/* Where the input's one real track has come to, and whether it ended: a
 * generated track keeps pace with it (flvmux's pads would take seconds of
 * it ahead) and stops where it ended. Shared by the probes that follow the
 * real track and pace the generated one; its lock is a leaf (plugin.cpp). */
class RealTrack : public std::enable_shared_from_this<RealTrack> {
 public:
  /* Follows the real track from output, its last element's source pad. */
  void follow (GstPad *output);
  /* Keeps the generated track that leaves output no further than the real
   * one, and ends it where the real one ended, from its own streaming
   * thread: it can neither run on (flvmux would mux silence or black past
   * the end) nor be stopped from outside while it pushes into flvmux. */
  void pace (GstPad *output);

 private:
  static GstPadProbeReturn on_real_data (GstPad *pad, GstPadProbeInfo *info,
      gpointer data);
  static GstPadProbeReturn on_generated_data (GstPad *pad,
      GstPadProbeInfo *info, gpointer data);

  std::mutex lock_;
  std::condition_variable progress_;    /* signalled on progress */
  GstClockTime end_ = 0;                /* running time; guarded by lock_ */
  bool ended_ = false;                  /* guarded by lock_ */
};

/* Generates the track the input lacks into mux's "video" pad (black, or
 * settings' placeholder image) or "audio" pad (silence), paced by real. */
void add_generated_track (GstElement *bin, GstElement *mux,
    const EncodeSettings &settings, bool video,
    std::shared_ptr<RealTrack> real);

}  // namespace wsrtmp
