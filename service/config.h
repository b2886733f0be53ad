/* wsrtmpd configuration: command line options and the INI file behind
 * --config, merged and validated once at startup.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>

#include <set>
#include <string>
#include <vector>

namespace wsrtmp {

struct Config {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;
  std::string web_root;                 /* resolved at load time */
  std::string rtmp_url;                 /* empty: record only */
  std::string record_dir = "./recordings";
  bool record = false;                  /* resolved: write recordings? */
  std::string keys_file;
  std::set<std::string> allowed_keys;   /* empty with no keys_file: any key */
  int max_sessions = 16;                /* 0 = unlimited */
  int video_bitrate_kbps = 2500;
  std::string x264_preset = "veryfast";
  /* Never pass H.264 through (--force-transcode). */
  bool force_transcode = false;
  int audio_bitrate_kbps = 128;
  std::string tls_cert, tls_key;
  guint64 max_message_size = 16 * 1024 * 1024;
  int drain_timeout_s = 10;

  bool tls () const { return !tls_cert.empty (); }
  bool key_allowed (const std::string &key) const;
  /* The RTMP location for a (validated) key, "" when not pushing. */
  std::string rtmp_location (const std::string &key) const;
};

/* Parses argv (and the --config file it names) into config. On a bad option
 * or value returns false with a message a user can act on in error. --help
 * is handled by GOption (prints and exits 0). */
bool parse_config (int *argc, char ***argv, Config &config, std::string &error);

}  // namespace wsrtmp
