/* Turns readable launch-style templates into a Media for one stream, the way
 * GstRTSPMediaFactory does. Only server configuration goes into template
 * strings; anything derived from the client (the stream key inside a
 * location) is set as a property.
 *
 * One pipeline per broadcast, in two parts:
 *   output:      flvsplice ! tee, then one sink bin per Destination (built
 *                once; lives as long as the broadcast)
 *   ingest:      wsserversrc ! flvencodebin in a bin, one per WebSocket
 *                connection, added to the running pipeline and linked to a
 *                new request pad of flvsplice; flvsplice keeps the output
 *                going (a slate) between connections. A WHIP input's bin
 *                ends the same way (matroskamux ! flvencodebin).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "destination.h"
#include "media.h"

#include <libsoup/soup.h>

#include <memory>
#include <string>
#include <vector>

namespace wsrtmp {

/* What wsrtmpd sets on flvencodebin, all from its options (whose defaults
 * are the element's own: service/daemon_config.cpp), but the keyframe
 * interval: it has no option, and is flvencodebin's default (2 s, what
 * live platforms require), set on flvencodebin and flvsplice alike and
 * told to each client (the welcome frame). */
struct EncodeSettings {
  int video_bitrate_kbps;
  std::string x264_preset;
  int audio_bitrate_kbps;
  int audio_channels;
  int framerate;
  int codec_threads;
  /* Pass suitable H.264 through instead of re-encoding it. */
  bool passthrough;
  /* Seconds; 0: flvencodebin's default (PipelineFactory reads it). */
  double keyframe_interval_s = 0;
};

/* What flvsplice does between connections (--continuity-timeout,
 * --slate-image). */
struct ContinuitySettings {
  int timeout_s = 0;            /* 0: the broadcast ends with its input */
  std::string slate_image;      /* "" : flvsplice's plain card */
};

struct MediaSpec {
  std::vector<Destination> destinations;
};

/* Element names looked up: in an ingest bin the source and the encoder; in
 * the broadcast the splice and each destination's sink ("dest0", "dest1",
 * ... in the order of MediaSpec::destinations). */
constexpr const char *MEDIA_SOURCE_NAME = "src";
constexpr const char *MEDIA_ENCODER_NAME = "encode";
constexpr const char *MEDIA_SPLICE_NAME = "splice";
std::string destination_sink_name (size_t index);
/* In a WHIP input's bin: the muxer its depayloaders feed. */
constexpr const char *WHIP_MUX_NAME = "whipmux";

class PipelineFactory {
 public:
  PipelineFactory (EncodeSettings settings, ContinuitySettings continuity);

  /* Builds a broadcast's stopped pipeline: the output part only. */
  std::unique_ptr<Media> create (const MediaSpec &spec, const std::string &name,
      GError **error) const;
  /* Builds one connection's ingest bin (floating ref; its "src" ghost pad
   * is unlinked). Call from the thread running the connection's main
   * context: wsserversrc adopts it right away. */
  GstElement *create_ingest (SoupWebsocketConnection *connection,
      guint64 max_message_size, const std::string &name,
      GError **error) const;
  /* Builds a WHIP input's FLV tail (floating ref; its "src" ghost pad is
   * unlinked): matroskamux (WHIP_MUX_NAME; the input requests a pad per
   * track) ! flvencodebin, set as for a WebSocket. */
  GstElement *create_whip_ingest (const std::string &name,
      GError **error) const;
  int continuity_timeout_s () const { return continuity_.timeout_s; }
  /* Seconds between the output's keyframes (flvencodebin's and the
   * slate's). */
  double keyframe_interval_s () const { return settings_.keyframe_interval_s; }

  /* True when every element the templates use is installed; otherwise
   * missing names the first one that is not. */
  static bool check_elements (std::string &missing);

 private:
  void configure_encoder (GstElement *bin) const;

  EncodeSettings settings_;
  ContinuitySettings continuity_;
};

}  // namespace wsrtmp
