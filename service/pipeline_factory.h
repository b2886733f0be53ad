/* Turns readable launch-style templates into a Media for one stream, the way
 * GstRTSPMediaFactory does. Only server configuration goes into template
 * strings; anything derived from the client (the stream key inside a
 * location) is set as a property.
 *
 * The pipeline has two parts, built separately so they can later live
 * apart (a broadcast outliving its WebSocket swaps the ingest part; fan-out
 * adds destinations):
 *   ingest:      wsserversrc ! flvencodebin     (one per connection; the
 *                plugin's bin does demux, passthrough or transcode, mux)
 *   output:      tee, then one sink bin per Destination
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
 * are the element's own: service/config.cpp). The keyframe interval is the
 * element's default (2 s, what live platforms require). */
struct EncodeSettings {
  int video_bitrate_kbps;
  std::string x264_preset;
  int audio_bitrate_kbps;
  int framerate;
  int codec_threads;
  /* Pass suitable H.264 through instead of re-encoding it. */
  bool passthrough;
};

struct MediaSpec {
  SoupWebsocketConnection *connection = nullptr;
  guint64 max_message_size;      /* --max-message-size */
  std::vector<Destination> destinations;
};

/* Element names the session looks up: the source and each destination's
 * sink ("dest0", "dest1", ... in the order of MediaSpec::destinations). */
constexpr const char *MEDIA_SOURCE_NAME = "src";
constexpr const char *MEDIA_ENCODER_NAME = "encode";
std::string destination_sink_name (size_t index);

class PipelineFactory {
 public:
  explicit PipelineFactory (EncodeSettings settings);

  /* Builds a stopped pipeline. Call from the thread running the
   * connection's main context (the element adopts it right away). */
  std::unique_ptr<Media> create (const MediaSpec &spec, const std::string &name,
      GError **error) const;

  /* True when every element the templates use is installed; otherwise
   * missing names the first one that is not. */
  static bool check_elements (std::string &missing);

 private:
  EncodeSettings settings_;
};

}  // namespace wsrtmp
