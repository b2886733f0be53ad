/* Where a broadcast goes: one destination per platform (rtmp://, rtmps://,
 * srt://) or the local recording. Parsed and checked once, from the server's
 * configuration only (never from a client); knows its display name, how to
 * show itself without its secrets, and the sink bin that sends to it.
 *
 * Secrets: the platform's stream key (the last path element of an RTMP URL)
 * and SRT's streamid and passphrase never appear in logs, /metrics, the
 * page or error messages: use name (from `names = ...` or the host) or
 * masked ().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <string>
#include <vector>

namespace wsrtmp {

struct Destination {
  enum class Kind { Rtmp, Srt, File };
  Kind kind = Kind::File;
  /* rtmp2sink's location, srtsink's uri (host and port only: the secrets
   * are set as properties) or the file path. */
  std::string location;
  /* Shown on the page, in logs and /metrics: "youtube", or the host. */
  std::string name;
  /* The part of location that is a credential (RTMP stream key), masked
   * in masked (). */
  std::string secret;
  /* An RTMP URL's own query ("?a=b"), passed on and masked whole. */
  std::string secret_query;
  /* rtmps:// only: false with ?tls-verify=0 in the URL (a test server or a
   * self-signed ingest); otherwise an untrusted certificate fails. */
  bool tls_verify = true;
  /* srt:// query: streamid, passphrase, latency (ms, -1: srtsink's). */
  std::string srt_streamid, srt_passphrase;
  int srt_latency_ms = -1;
  /* The recording as MP4 segments (mp4_recording.h) instead of one FLV
   * file: location is then the directory, each segment
   * KEY-START-N.mp4 in it (START: the recording's UTC start). */
  bool mp4 = false;
  std::string record_key, record_start;
  int segment_s = 0;                    /* 0: one file */

  /* The location with every secret masked, for logs. */
  std::string masked () const;
  /* A launch-style sink bin description; %1$s is the sink's name (the
   * queue in front is named "%1$s-queue"). Only server configuration goes
   * in: secrets and paths are set by configure_sink (). */
  std::string sink_description (bool only_destination) const;
  /* Sets location, URI, secrets and TLS checks on the sink the
   * description made. */
  void configure_sink (GstElement *sink) const;
  const char *kind_name () const;
};

/* Parses url (rtmp://HOST[:PORT]/APP/KEY, rtmps://..., [?tls-verify=0],
 * srt://HOST:PORT[?streamid=..&passphrase=..&latency=MS]) into dest with
 * display name name (the host when empty). False with a message that never
 * shows a secret in error. */
bool parse_destination (const std::string &url, const std::string &name,
    Destination &dest, std::string &error);

/* url (an --rtmp-url) for one stream key: {key} replaced by key, or /KEY
 * appended (RTMP; an srt:// URL without {key} stays as it is). */
std::string location_for_key (const std::string &url, const std::string &key);

/* The local recording at path, named "recording". */
Destination recording_destination (const std::string &path);

/* A sink's error in words a streamer can act on, using the destination's
 * name: "youtube refused the stream key", "cannot reach facebook (connection
 * refused)". Never shows a secret. */
std::string describe_sink_error (const Destination &dest,
    const GError *error);

/* True when error means the server said no to this stream (bad key,
 * publish denied, untrusted certificate): retrying cannot help. */
bool sink_error_is_permanent (const GError *error);

}  // namespace wsrtmp
