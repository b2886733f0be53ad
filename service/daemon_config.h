/* wsrtmpd configuration: command line options and the INI file behind
 * --config, merged and validated once at startup (the option table is
 * option_table.h; where a key's stream goes from here is
 * destination_choice.h). Named daemon_config, not config.h: that is the
 * name of the header meson generates for the build.
 *
 * Read on the main thread; written only by parse_config at startup and by
 * reload_config_files (SIGHUP, main thread).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "client_address.h"
#include "streams_file.h"

#include <glib.h>
#include <gst/gst.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace wsrtmp {

/* What wsrtmpd was told. The defaults are in the option table
 * (daemon_config.cpp), which parse_config applies; a Config not filled by
 * it is empty. */
struct Config {
  std::string listen_host;
  int listen_port = 0;
  std::string web_root;                 /* resolved at load time */
  /* Every --rtmp-url (each a destination for every key not in the
   * --streams-file); rtmp_url is the first, "" when none. */
  std::vector<std::string> rtmp_urls;
  std::string rtmp_url;                 /* empty: record only */
  std::string record_dir;
  bool record = false;                  /* resolved: write recordings? */
  bool record_dir_given = false;        /* --record-dir was given */
  /* --record-format: true: MP4 segments (splitmuxsink, fragmented while
   * written, finalised on close); false: one FLV per broadcast. */
  bool record_mp4 = true;
  /* --record-segment: seconds per MP4 segment (0: one file). */
  int record_segment_s = 3600;
  /* --record-keep-days: recordings older are removed (0: never). */
  int record_keep_days = 0;
  /* --streams-file: per-key destinations (re-read on SIGHUP; a stream
   * keeps the table it started with). */
  std::string streams_file;
  std::shared_ptr<const StreamsTable> streams;
  /* Bytes a destination may fall behind before it is dropped to a
   * reconnection from the next keyframe. */
  guint64 destination_buffer_bytes = 0;
  std::string keys_file;
  std::set<std::string> allowed_keys;   /* empty with no keys_file: any key */
  int max_sessions = 0;                 /* 0 = unlimited */
  /* The overload guard (load_guard.h): new broadcasts are refused while
   * the broadcasts' median output delay, the process's CPU in percent of
   * its cores, or the machine's, is over these (0: that one not
   * watched). */
  int overload_delay_ms = 0;
  int overload_cpu_percent = 0;
  int overload_machine_percent = 0;     /* the whole machine's CPU */
  int video_bitrate_kbps = 0;
  std::string x264_preset;
  /* Constant output frame rate when encoding. */
  int framerate = 0;
  /* Threads per decoder and x264 encoder: with many streams, one each
   * wastes least. */
  int codec_threads = 0;
  /* Never pass H.264 through (--force-transcode). */
  bool force_transcode = false;
  int audio_bitrate_kbps = 0;
  int audio_channels = 0;
  std::string tls_cert, tls_key;
  guint64 max_message_size = 0;
  int drain_timeout_s = 0;
  /* A WebSocket that sends no media for this long is closed (1008). */
  int idle_timeout_s = 0;
  /* An HTTP request (or WebSocket handshake) must arrive in this time. */
  int handshake_timeout_s = 0;
  /* Allowed Origin header values; empty: any. */
  std::vector<std::string> allowed_origins;
  /* Reverse proxies whose X-Forwarded-For / Forwarded name the client. */
  TrustedProxies trusted_proxies;
  /* Concurrent WebSocket streams from one address (0 = unlimited). */
  int max_connections_per_ip = 0;
  /* Signed tokens (?token=EXPIRY.HMAC, tokens.h) are required when set. */
  std::string token_secret;
  std::string token_secret_file;        /* re-read on SIGHUP */
  /* --admin-listen (admin_port -1: no admin API) and the token its
   * requests must bear (--admin-token-file; empty: none asked, loopback
   * only). */
  std::string admin_host;
  int admin_port = -1;
  std::string admin_token;
  std::string admin_token_file;         /* re-read on SIGHUP */
  /* How long a session retries a lost RTMP connection (0 = never). */
  int rtmp_retry_time_s = 0;
  /* A broadcast outlives its connection this long (0: it ends with it). */
  int continuity_timeout_s = 0;
  /* Shown between connections; resolved to web/img/slate.png by default. */
  std::string slate_image;
  /* --on-publish: an HTTP(S) URL asked before a broadcast starts or a
   * connection takes over (hook_client.h); "" when none. */
  std::string on_publish_url;
  int hook_timeout_s = 0;       /* it must answer within this */
  /* --webhook-url: where events are posted (webhooks.h); "" when none. */
  std::string webhook_url;
  /* Signs them: the file's content without a trailing newline (re-read
   * on SIGHUP). */
  std::string webhook_secret_file;
  std::string webhook_secret;

  /* WHIP ingest (whip_endpoint.h, whip_input.h). */
  /* The UDP ports ICE may use (0, 0: any the system gives). */
  int webrtc_port_min = 0, webrtc_port_max = 0;
  /* Announced beside our host candidates (a 1:1 NAT); "" when none. */
  std::string webrtc_public_ip;
  std::string stun_server;              /* stun://HOST:PORT, "" when none */
  std::vector<std::string> turn_servers;        /* turn(s)://USER:PASS@HOST:PORT */
  /* The jitterbuffer's latency (ms): what the receiver waits for
   * reordered and retransmitted packets. */
  int whip_jitter_ms = 0;

  bool origin_allowed (const std::string &origin) const;

  bool tls () const { return !tls_cert.empty (); }
  bool admin () const { return admin_port >= 0; }
  bool key_allowed (const std::string &key) const;
  /* The RTMP location for a (validated) key, "" when not pushing. */
  std::string rtmp_location (const std::string &key) const;
};

/* Parses argv (and the --config file it names) into config, defaults
 * included. On a bad option or value returns false with a message a user
 * can act on in error. --help and --version print and exit 0. Call after
 * gst_init (): some defaults and ranges are the elements' own, read from
 * their property specs. */
bool parse_config (int *argc, char ***argv, Config &config, std::string &error);

/* SIGHUP: re-reads --keys-file, --streams-file, --token-secret-file and
 * --admin-token-file, --webhook-secret-file (those given). All are checked before any is used, so a file that does not parse changes
 * nothing (false, with the reason in error). Streams already admitted are
 * not affected: keys and tokens are checked once, at the handshake. On
 * success, done says what was reloaded. */
bool reload_config_files (Config &config, std::string &done,
    std::string &error);

}  // namespace wsrtmp
