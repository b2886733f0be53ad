/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon_config.h"
#include "wsorigin.h"
#include "destination.h"
#include "option_table.h"
#include "util.h"

#include <gio/gio.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <unistd.h>

namespace wsrtmp {

namespace {

constexpr const char *GROUP = "wsrtmpd";
const std::set<std::string> X264_PRESETS = { "ultrafast", "superfast",
  "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
  "placebo" };

/* Numbers are taken as strings so the command line and the INI file share
 * one parser and one error message. */
bool
parse_int (const char *name, const char *text, long min, long max, long &out,
    std::string &error)
{
  char *end = nullptr;
  errno = 0;
  long value = strtol (text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    error = std::string ("--") + name + ": \"" + text +
        "\" is not a whole number from " + std::to_string (min) + " to " +
        std::to_string (max);
    return false;
  }
  out = value;
  return true;
}

/* HOST:PORT or [ADDR]:PORT for option name ("listen", "admin-listen"). */
bool
parse_host_port (const char *name, const std::string &text, std::string &host_out,
    int &port_out, std::string &error)
{
  const std::string option = std::string ("--") + name;
  std::string host, port;
  if (!text.empty () && text[0] == '[') {
    auto close = text.find (']');
    if (close == std::string::npos || close + 1 >= text.size () ||
        text[close + 1] != ':') {
      error = option + ": \"" + text + "\" is not HOST:PORT ([ADDR]:PORT for IPv6)";
      return false;
    }
    host = text.substr (1, close - 1);
    port = text.substr (close + 2);
  } else {
    auto colon = text.rfind (':');
    if (colon == std::string::npos || text.find (':') != colon) {
      error = option + ": \"" + text + "\" is not HOST:PORT ([ADDR]:PORT for IPv6)";
      return false;
    }
    host = text.substr (0, colon);
    port = text.substr (colon + 1);
  }
  if (host.empty ()) {
    error = option + ": host missing in \"" + text + "\"";
    return false;
  }
  long value;
  if (!parse_int (name, port.c_str (), 0, 65535, value, error)) {
    error = option + ": port \"" + port + "\" is not a number from 0 to 65535";
    return false;
  }
  host_out = host;
  port_out = static_cast<int> (value);
  return true;
}

bool
parse_listen (const std::string &text, Config &config, std::string &error)
{
  return parse_host_port ("listen", text, config.listen_host,
      config.listen_port, error);
}

/* localhost, 127.0.0.0/8 or ::1: only this machine can connect. */
bool
is_loopback_host (const std::string &host)
{
  if (host == "localhost")
    return true;
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (
      host.c_str ());
  return address && g_inet_address_get_is_loopback (address);
}

/* The first line of --admin-token-file, stripped, at least 16 characters. */
bool
read_admin_token_file (const std::string &path, std::string &token,
    std::string &error)
{
  g_autofree char *contents = nullptr;
  g_autoptr (GError) gerror = nullptr;
  if (!g_file_get_contents (path.c_str (), &contents, nullptr, &gerror)) {
    error = std::string ("--admin-token-file: ") + gerror->message;
    return false;
  }
  g_auto (GStrv) lines = g_strsplit (contents, "\n", 2);
  token = lines[0] ? g_strstrip (lines[0]) : "";
  if (token.size () >= 16)
    return true;
  error = "--admin-token-file: " + path + ": use a token of at least 16 "
      "characters on its first line (e.g. openssl rand -hex 32)";
  return false;
}

/* The in-tree web/ while running from the build tree (so edits show up
 * without installing), the installed copy otherwise. */
std::string
default_web_root ()
{
#ifdef WSRTMP_SERVICE_BUILD_DIR
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", nullptr);
  if (exe) {
    g_autofree char *dir = g_path_get_dirname (exe);
    if (g_str_equal (dir, WSRTMP_SERVICE_BUILD_DIR))
      return WSRTMP_WEB_SOURCE;
  }
#endif
  if (g_file_test (WSRTMP_WEB_INSTALLED, G_FILE_TEST_IS_DIR))
    return WSRTMP_WEB_INSTALLED;
  return WSRTMP_WEB_SOURCE;
}

bool
load_keys (const std::string &path, std::set<std::string> &keys,
    std::string &error)
{
  g_autofree char *contents = nullptr;
  g_autoptr (GError) gerror = nullptr;
  if (!g_file_get_contents (path.c_str (), &contents, nullptr, &gerror)) {
    error = "--keys-file: " + std::string (gerror->message);
    return false;
  }
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  int number = 0;
  for (char **line = lines; *line; line++) {
    number++;
    char *key = g_strstrip (*line);
    if (*key == '\0' || *key == '#')
      continue;
    if (!is_valid_key (key)) {
      error = "--keys-file: " + path + " line " + std::to_string (number) +
          ": a key must be 1-128 characters of A-Z a-z 0-9 _ -";
      return false;
    }
    keys.insert (key);
  }
  if (keys.empty ()) {
    error = "--keys-file: " + path + " lists no key, so every stream would "
        "be refused";
    return false;
  }
  return true;
}

/* What an element's property allows and defaults to, as text. wsrtmpd
 * states a default or a range only where it differs from the element's. */
struct PropertyFacts {
  std::string default_value;
  long min = G_MINLONG, max = G_MAXLONG;
};

bool
element_property (const char *factory_name, const char *property,
    PropertyFacts &facts, std::string &error)
{
  g_autoptr (GstElementFactory) factory = gst_element_factory_find (
      factory_name);
  g_autoptr (GstPluginFeature) loaded = factory ? gst_plugin_feature_load (
      GST_PLUGIN_FEATURE (factory)) : nullptr;
  GType type = loaded ? gst_element_factory_get_element_type (
      GST_ELEMENT_FACTORY (loaded)) : G_TYPE_INVALID;
  if (!type) {
    error = std::string ("the GStreamer element ") + factory_name +
        " (plugin \"wsrtmp\") is not installed";
    return false;
  }
  auto *klass = static_cast<GObjectClass *> (g_type_class_ref (type));
  GParamSpec *spec = g_object_class_find_property (klass, property);
  bool known = true;
  if (!spec) {
    known = false;
  } else if (G_IS_PARAM_SPEC_UINT (spec)) {
    auto *uint_spec = G_PARAM_SPEC_UINT (spec);
    facts = { std::to_string (uint_spec->default_value),
      static_cast<long> (uint_spec->minimum),
      static_cast<long> (uint_spec->maximum) };
  } else if (G_IS_PARAM_SPEC_UINT64 (spec)) {
    auto *uint64_spec = G_PARAM_SPEC_UINT64 (spec);
    facts = { std::to_string (uint64_spec->default_value),
      static_cast<long> (std::min<guint64> (uint64_spec->minimum, G_MAXLONG)),
      static_cast<long> (std::min<guint64> (uint64_spec->maximum, G_MAXLONG)) };
  } else if (G_IS_PARAM_SPEC_STRING (spec)) {
    const char *text = G_PARAM_SPEC_STRING (spec)->default_value;
    facts = { text ? text : "" };
  } else if (GST_IS_PARAM_SPEC_FRACTION (spec) &&
      GST_PARAM_SPEC_FRACTION (spec)->def_den == 1) {
    /* Whole frames per second only. */
    auto *fraction = GST_PARAM_SPEC_FRACTION (spec);
    facts = { std::to_string (fraction->def_num),
      static_cast<long> (fraction->min_num / std::max (fraction->min_den, 1)),
      static_cast<long> (fraction->max_num / std::max (fraction->max_den, 1)) };
  } else {
    known = false;
  }
  g_type_class_unref (klass);
  if (!known)
    error = std::string (factory_name) + " has no property \"" + property +
        "\" wsrtmpd understands: wsrtmpd and the plugin do not match";
  return known;
}

/* A whole number from min to max into target. */
template <typename T>
Option::Store
whole_number (const char *name, long min, long max, T &target)
{
  return [name, min, max, &target] (const std::string &text,
      std::string &error) {
    long value;
    if (!parse_int (name, text.c_str (), min, max, value, error))
      return false;
    target = static_cast<T> (value);
    return true;
  };
}

Option::Store
text_into (std::string &target)
{
  return [&target] (const std::string &text, std::string &) {
    target = text;
    return true;
  };
}

/* One or more URLs (a ';' list, or the option given several times). */
bool
store_rtmp_url (const std::string &text, Config &config, std::string &error)
{
  config.rtmp_urls.clear ();
  g_auto (GStrv) urls = g_strsplit (text.c_str (), ";", -1);
  for (char **item = urls; *item; item++) {
    std::string url = g_strstrip (*item);
    if (url.empty ())
      continue;
    if (!g_str_has_prefix (url.c_str (), "rtmp://") &&
        !g_str_has_prefix (url.c_str (), "rtmps://") &&
        !g_str_has_prefix (url.c_str (), "srt://")) {
      error = "--rtmp-url: \"" + url + "\" must start with rtmp://, "
          "rtmps:// or srt://";
      return false;
    }
    /* rtmp2sink needs scheme://host[:port]/app/stream. */
    std::string probe = location_for_key (url, "key");
    Destination dest;
    std::string why;
    if (!parse_destination (probe, "", dest, why)) {
      error = "--rtmp-url: \"" + url + "\" is not a valid URL (expected "
          "rtmp://HOST[:PORT]/APP): " + why;
      return false;
    }
    config.rtmp_urls.push_back (url);
  }
  config.rtmp_url = config.rtmp_urls.empty () ? "" : config.rtmp_urls[0];
  return true;
}

bool
store_allowed_origins (const std::string &list, Config &config,
    std::string &error)
{
  if (parse_origin_list (list, config.allowed_origins, error))
    return true;
  error = "--allowed-origins: " + error;
  return false;
}

bool
token_secret_long_enough (const std::string &secret, std::string &error)
{
  if (secret.size () >= 16)
    return true;
  error = "--token-secret: use at least 16 characters (e.g. openssl rand "
      "-hex 32)";
  return false;
}

/* The first line of path, stripped, at least 16 characters. */
bool
read_token_secret_file (const std::string &path, std::string &secret,
    std::string &error)
{
  g_autofree char *contents = nullptr;
  g_autoptr (GError) gerror = nullptr;
  if (!g_file_get_contents (path.c_str (), &contents, nullptr, &gerror)) {
    error = std::string ("--token-secret-file: ") + gerror->message;
    return false;
  }
  g_auto (GStrv) lines = g_strsplit (contents, "\n", 2);
  secret = lines[0] ? g_strstrip (lines[0]) : "";
  return token_secret_long_enough (secret, error);
}

/* --token-secret or the first line of --token-secret-file, at least 16
 * characters. */
bool
resolve_token_secret (const OptionTable &table, Config &config,
    std::string &error)
{
  const std::string *secret = table.value ("token-secret");
  const std::string *file = table.value ("token-secret-file");
  if (secret && file) {
    error = "--token-secret and --token-secret-file: give one of them";
    return false;
  }
  if (file) {
    config.token_secret_file = *file;
    return read_token_secret_file (*file, config.token_secret, error);
  }
  if (secret) {
    config.token_secret = *secret;
    return token_secret_long_enough (config.token_secret, error);
  }
  return true;
}

/* An http:// or https:// URL with a host, for the hooks. */
bool
store_http_url (const char *option, const std::string &text,
    std::string &target, std::string &error)
{
  g_autoptr (GUri) uri = g_uri_parse (text.c_str (), G_URI_FLAGS_NONE,
      nullptr);
  const char *scheme = uri ? g_uri_get_scheme (uri) : nullptr;
  if (!uri || !scheme || (g_ascii_strcasecmp (scheme, "http") != 0 &&
          g_ascii_strcasecmp (scheme, "https") != 0) ||
      !g_uri_get_host (uri) || !*g_uri_get_host (uri)) {
    error = std::string ("--") + option + ": \"" + text + "\" is not an "
        "http:// or https:// URL";
    return false;
  }
  target = text;
  return true;
}

/* The whole file less its trailing newline(s): the exact bytes that sign
 * the webhooks, so a receiver can use the same file. */
bool
read_webhook_secret_file (const std::string &path, std::string &secret,
    std::string &error)
{
  g_autofree char *contents = nullptr;
  gsize length = 0;
  g_autoptr (GError) gerror = nullptr;
  if (!g_file_get_contents (path.c_str (), &contents, &length, &gerror)) {
    error = std::string ("--webhook-secret-file: ") + gerror->message;
    return false;
  }
  std::string text (contents, length);
  while (!text.empty () && (text.back () == '\n' || text.back () == '\r'))
    text.pop_back ();
  if (text.size () < 16) {
    error = "--webhook-secret-file: " + path + ": use a secret of at least "
        "16 characters (e.g. openssl rand -hex 32)";
    return false;
  }
  secret = std::move (text);
  return true;
}

/* --webrtc-ports MIN-MAX. */
bool
parse_port_range (const std::string &text, Config &config, std::string &error)
{
  unsigned min = 0, max = 0;
  char extra;
  if (sscanf (text.c_str (), "%u-%u%c", &min, &max, &extra) != 2 ||
      min < 1024 || max > 65535 || min > max) {
    error = "--webrtc-ports: \"" + text + "\" is not MIN-MAX with 1024 <= "
        "MIN <= MAX <= 65535";
    return false;
  }
  config.webrtc_port_min = min;
  config.webrtc_port_max = max;
  return true;
}

/* Every option wsrtmpd has, storing into config. */
bool
make_options (Config &config, std::vector<Option> &options,
    std::string &error)
{
  PropertyFacts video_bitrate, audio_bitrate, audio_channels, preset,
      framerate, codec_threads, message_size;
  if (!element_property ("flvencodebin", "video-bitrate", video_bitrate,
          error) ||
      !element_property ("flvencodebin", "audio-bitrate", audio_bitrate,
          error) ||
      !element_property ("flvencodebin", "audio-channels", audio_channels,
          error) ||
      !element_property ("flvencodebin", "speed-preset", preset, error) ||
      !element_property ("flvencodebin", "framerate", framerate, error) ||
      !element_property ("flvencodebin", "codec-threads", codec_threads,
          error) ||
      !element_property ("wsserversrc", "max-message-size", message_size,
          error))
    return false;
  using Type = Option::Type;
  options = {
    { "config", 'c', Type::File, "FILE", "INI file with a [wsrtmpd] group; "
      "keys are the long option names (command line options win)", "", "",
      nullptr, false },
    { "listen", 'l', Type::Text, "HOST:PORT", "Address and port for HTTP and "
      "WebSocket (port 0 = any free port)", "127.0.0.1:8080", "",
      [&config] (const std::string &text, std::string &error) {
        return parse_listen (text, config, error);
      } },
    { "web-root", 0, Type::File, "DIR", "Directory served at /",
      default_web_root (), "the installed or in-tree web/",
      [&config] (const std::string &text, std::string &error) {
        config.web_root = text;
        if (g_file_test (text.c_str (), G_FILE_TEST_IS_DIR))
          return true;
        error = "--web-root: \"" + text + "\" is not a directory";
        return false;
      } },
    { "rtmp-url", 'r', Type::List, "URL", "Destination (rtmp://, rtmps://, "
      "srt://) for every key not in --streams-file; {key} is replaced by "
      "the stream key, otherwise /KEY is appended (RTMP); give it several "
      "times (in the file: a ';' list) to send to each", "",
      "none, record only",
      [&config] (const std::string &text, std::string &error) {
        return store_rtmp_url (text, config, error);
      } },
    { "record-dir", 0, Type::File, "DIR", "Also record every stream to "
      "DIR/KEY-TIMESTAMP-N.mp4 (or DIR/KEY-TIMESTAMP.flv)", "./recordings",
      "./recordings, recording only without --rtmp-url",
      text_into (config.record_dir) },
    { "record-format", 0, Type::Text, "mp4|flv", "Recording format: mp4 "
      "(H.264 passed through, AAC; fragmented while written, so a killed "
      "daemon leaves files that play up to a GOP and a fragment before the "
      "kill, and finalised into a regular MP4 when a segment closes) or flv "
      "(one file per broadcast, as sent to RTMP)", "mp4", "",
      [&config] (const std::string &text, std::string &error) {
        if (text == "mp4" || text == "flv") {
          config.record_mp4 = text == "mp4";
          return true;
        }
        error = "--record-format: \"" + text + "\" is not mp4 or flv";
        return false;
      } },
    { "record-segment", 0, Type::Text, "SECONDS", "Start a new MP4 file "
      "after this many seconds, at the next keyframe (0 = one file per "
      "broadcast)", "3600", "",
      whole_number ("record-segment", 0, 7 * 86400,
          config.record_segment_s) },
    { "record-keep-days", 0, Type::Text, "DAYS", "Remove recordings older "
      "than this many days from --record-dir (checked at start and every "
      "hour; 0 = keep them all)", "0", "",
      whole_number ("record-keep-days", 0, 100000,
          config.record_keep_days) },
    { "streams-file", 0, Type::File, "FILE", "INI file with a [KEY] group "
      "per stream key: destinations = URL;URL..., names = NAME;NAME..., "
      "record = true. Its keys are allowed and go to exactly those "
      "destinations (re-read on SIGHUP)", "", "",
      [&config] (const std::string &path, std::string &error) {
        config.streams_file = path;
        auto streams = std::make_shared<StreamsTable> ();
        if (!load_streams_file (path, *streams, error))
          return false;
        config.streams = std::move (streams);
        return true;
      } },
    { "destination-buffer", 0, Type::Text, "BYTES", "Bytes a destination "
      "may fall behind (a slow or stuck server) before it is dropped and "
      "reconnected from the next keyframe; the others never wait for it",
      "4194304", "",
      whole_number ("destination-buffer", 65536, 1024L * 1024 * 1024,
          config.destination_buffer_bytes) },
    { "keys-file", 'k', Type::File, "FILE", "File with one allowed stream "
      "key per line (re-read on SIGHUP)", "",
      "any key of 1-128 characters A-Z a-z 0-9 _ -",
      [&config] (const std::string &path, std::string &error) {
        config.keys_file = path;
        return load_keys (path, config.allowed_keys, error);
      } },
    { "max-sessions", 0, Type::Text, "N", "Upper bound on concurrent "
      "broadcasts; more are closed with 1013 (kind capacity). 0: no fixed "
      "bound, the overload guard (--overload-*) decides", "0", "",
      whole_number ("max-sessions", 0, 100000, config.max_sessions) },
    { "overload-delay-ms", 0, Type::Text, "MS", "Refuse new broadcasts "
      "(1013, kind capacity; /healthz \"full\") while the broadcasts' "
      "median output delay behind real time is this high (and at least two "
      "run that far behind); live ones are never dropped (0: not watched)",
      "500", "",
      whole_number ("overload-delay-ms", 0, 600000,
          config.overload_delay_ms) },
    { "overload-cpu-percent", 0, Type::Text, "PERCENT", "The same while "
      "wsrtmpd's CPU is this share of the cores it may run on (affinity, "
      "cgroup quota) two seconds in a row (0: not watched)", "85", "",
      whole_number ("overload-cpu-percent", 0, 100,
          config.overload_cpu_percent) },
    { "overload-machine-percent", 0, Type::Text, "PERCENT", "The same while "
      "the whole machine's CPU is this busy two seconds in a row: for a "
      "node that runs nothing else (others' work would count too; 0: not "
      "watched)", "0",
      "", whole_number ("overload-machine-percent", 0, 100,
          config.overload_machine_percent) },
    { "video-bitrate", 0, Type::Text, "KBPS", "H.264 bitrate",
      video_bitrate.default_value, "",
      whole_number ("video-bitrate", video_bitrate.min,
          std::min (video_bitrate.max, 100000L), config.video_bitrate_kbps) },
    { "audio-bitrate", 0, Type::Text, "KBPS", "AAC bitrate",
      audio_bitrate.default_value, "",
      whole_number ("audio-bitrate", audio_bitrate.min, audio_bitrate.max,
          config.audio_bitrate_kbps) },
    { "audio-channels", 0, Type::Text, "N", "AAC channels: 2 (stereo, what "
      "YouTube and most platforms ask for) or 1 (mono: about 0.2 % of a core "
      "less per stream; stereo input is mixed down)",
      audio_channels.default_value, "",
      whole_number ("audio-channels", audio_channels.min, audio_channels.max,
          config.audio_channels) },
    { "x264-preset", 0, Type::Text, "NAME", "x264 speed preset: ultrafast "
      "... veryslow", preset.default_value, "",
      [&config] (const std::string &text, std::string &error) {
        if (X264_PRESETS.count (text)) {
          config.x264_preset = text;
          return true;
        }
        error = "--x264-preset: \"" + text + "\" is not one of ultrafast "
            "superfast veryfast faster fast medium slow slower veryslow "
            "placebo";
        return false;
      } },
    { "framerate", 0, Type::Text, "FPS", "Constant output frame rate when "
      "encoding video", framerate.default_value, "",
      whole_number ("framerate", framerate.min, framerate.max,
          config.framerate) },
    { "codec-threads", 0, Type::Text, "N", "Threads per video decoder and "
      "x264 encoder when transcoding (0 = about one per core; 1: least CPU "
      "per stream when many streams are transcoded)", "1", "",
      whole_number ("codec-threads", codec_threads.min, codec_threads.max,
          config.codec_threads) },
    { "tls-cert", 0, Type::File, "FILE", "PEM certificate: serve https:// "
      "and wss:// (needs --tls-key)", "", "", text_into (config.tls_cert) },
    { "tls-key", 0, Type::File, "FILE", "PEM private key for --tls-cert", "",
      "", text_into (config.tls_key) },
    { "max-message-size", 0, Type::Text, "BYTES", "Largest WebSocket message "
      "accepted; larger closes with 1009", message_size.default_value, "",
      whole_number ("max-message-size", std::max (message_size.min, 1024L),
          std::min (message_size.max, 1024L * 1024 * 1024),
          config.max_message_size) },
    { "drain-timeout", 0, Type::Text, "SECONDS", "Seconds a finishing "
      "stream (or shutdown) may take to deliver what was received", "10", "",
      whole_number ("drain-timeout", 1, 3600, config.drain_timeout_s) },
    { "idle-timeout", 0, Type::Text, "SECONDS", "Close a WebSocket that "
      "sends no media for this long with 1008", "10", "",
      whole_number ("idle-timeout", 1, 3600, config.idle_timeout_s) },
    { "handshake-timeout", 0, Type::Text, "SECONDS", "Drop a connection "
      "whose HTTP request or WebSocket handshake takes longer, and idle "
      "keep-alive connections", "10", "",
      whole_number ("handshake-timeout", 1, 3600,
          config.handshake_timeout_s) },
    { "allowed-origins", 0, Type::Text, "LIST", "Comma-separated Origin "
      "values allowed to stream, e.g. https://studio.example.com; others are "
      "closed with 1008", "", "any",
      [&config] (const std::string &text, std::string &error) {
        return store_allowed_origins (text, config, error);
      } },
    { "max-connections-per-ip", 0, Type::Text, "N", "Concurrent streams from "
      "one address; more are closed with 1013; 0 = unlimited", "4", "",
      whole_number ("max-connections-per-ip", 0, 100000,
          config.max_connections_per_ip) },
    { "trusted-proxies", 0, Type::Text, "LIST", "Comma-separated addresses "
      "and networks (CIDR) of reverse proxies, e.g. 127.0.0.1,10.0.0.0/8: "
      "from these, X-Forwarded-For or Forwarded name the client, whose "
      "address then counts for --max-connections-per-ip and the logs",
      "", "none: every client is its TCP peer",
      [&config] (const std::string &text, std::string &error) {
        return config.trusted_proxies.parse (text, error);
      } },
    { "token-secret", 0, Type::Text, "SECRET", "Require "
      "/ingest/KEY?token=EXPIRY.HMAC, HMAC-SHA256 of \"KEY.EXPIRY\" with "
      "this secret (prefer --token-secret-file)", "", "", nullptr },
    { "token-secret-file", 0, Type::File, "FILE", "File holding the "
      "--token-secret (first line; re-read on SIGHUP)", "", "", nullptr },
    { "rtmp-retry-time", 0, Type::Text, "SECONDS", "Seconds a stream keeps "
      "reconnecting to an RTMP server that dropped it, buffering meanwhile"
      "; 0 = fail at once", "30", "",
      whole_number ("rtmp-retry-time", 0, 3600, config.rtmp_retry_time_s) },
    { "continuity-timeout", 0, Type::Text, "SECONDS", "How long a broadcast "
      "outlives its connection: viewers see the slate while the browser "
      "reconnects (or another tab takes over); a clean Stop ends at once. "
      "0 = the broadcast ends with its connection", "60", "",
      whole_number ("continuity-timeout", 0, 86400,
          config.continuity_timeout_s) },
    { "slate-image", 0, Type::File, "FILE", "PNG or JPEG shown (scaled and "
      "letterboxed, with silence) while a broadcast waits for its "
      "connection", "", "img/slate.png under --web-root",
      [&config] (const std::string &text, std::string &error) {
        config.slate_image = text;
        if (g_file_test (text.c_str (), G_FILE_TEST_IS_REGULAR))
          return true;
        error = "--slate-image: \"" + text + "\" is not a file";
        return false;
      } },
    { "admin-listen", 0, Type::Text, "HOST:PORT", "Address and port of the "
      "admin API (/api/v1/...; off unless given; a non-loopback address "
      "needs --admin-token-file)", "", "off",
      [&config] (const std::string &text, std::string &error) {
        return parse_host_port ("admin-listen", text, config.admin_host,
            config.admin_port, error);
      } },
    { "admin-token-file", 0, Type::File, "FILE", "File whose first line is "
      "the admin API's token (Authorization: Bearer TOKEN; re-read on "
      "SIGHUP)", "", "none: the admin API asks no token (loopback only)",
      [&config] (const std::string &path, std::string &error) {
        config.admin_token_file = path;
        return read_admin_token_file (path, config.admin_token, error);
      } },
    { "on-publish", 0, Type::Text, "URL", "Before a broadcast starts (and "
      "before a connection takes over a key) POST {key, transport, client, "
      "user_agent, origin, query} to this http(s) URL: 2xx allows (a body "
      "{\"destinations\": [...], \"record\": bool} sets the broadcast's "
      "destinations), anything else or no answer refuses", "", "none",
      [&config] (const std::string &text, std::string &error) {
        return store_http_url ("on-publish", text, config.on_publish_url,
            error);
      } },
    { "hook-timeout", 0, Type::Text, "SECONDS", "How long --on-publish may "
      "take to answer before the stream is refused", "3", "",
      whole_number ("hook-timeout", 1, 60, config.hook_timeout_s) },
    { "webhook-url", 0, Type::Text, "URL", "POST events (broadcast.started, "
      "broadcast.live, broadcast.slate, broadcast.resumed, broadcast.ended, "
      "destination.state) as signed JSON to this http(s) URL, in order per "
      "stream key, retried, never delaying a stream (needs "
      "--webhook-secret-file)", "", "none",
      [&config] (const std::string &text, std::string &error) {
        return store_http_url ("webhook-url", text, config.webhook_url,
            error);
      } },
    { "webhook-secret-file", 0, Type::File, "FILE", "The webhooks' HMAC-"
      "SHA256 secret: the file's content without a trailing newline "
      "(re-read on SIGHUP)", "", "",
      [&config] (const std::string &path, std::string &error) {
        config.webhook_secret_file = path;
        return read_webhook_secret_file (path, config.webhook_secret, error);
      } },
    { "force-transcode", 0, Type::Flag, nullptr, "Always decode and "
      "re-encode the video, even H.264 that could be passed through", "", "",
      [&config] (const std::string &value, std::string &) {
        config.force_transcode = value == "true";
        return true;
      } },
    /* WHIP ingest (POST /whip). */
    { "webrtc-ports", 0, Type::Text, "MIN-MAX", "UDP ports WHIP's ICE may "
      "use (the range to open in a firewall)", "", "any",
      [&config] (const std::string &text, std::string &error) {
        return parse_port_range (text, config, error);
      } },
    { "webrtc-public-ip", 0, Type::Text, "ADDR", "Address announced to WHIP "
      "senders beside our own (behind a 1:1 NAT, e.g. a cloud VM's public "
      "address; the same ports)", "", "none",
      text_into (config.webrtc_public_ip) },
    { "stun-server", 0, Type::Text, "URL", "STUN server for WHIP's ICE, "
      "stun://HOST:PORT (also sent to senders in a Link header)", "", "none",
      [&config] (const std::string &text, std::string &error) {
        if (!g_str_has_prefix (text.c_str (), "stun://")) {
          error = "--stun-server: \"" + text + "\" is not stun://HOST:PORT";
          return false;
        }
        config.stun_server = text;
        return true;
      } },
    { "turn-server", 0, Type::List, "URL", "TURN server for WHIP's ICE, "
      "turn://USER:PASSWORD@HOST:PORT or turns://... (also sent to senders "
      "in a Link header); give it several times for several", "", "none",
      [&config] (const std::string &text, std::string &error) {
        g_auto (GStrv) urls = g_strsplit (text.c_str (), ";", -1);
        for (char **url = urls; *url; url++) {
          if (!g_str_has_prefix (*url, "turn://") &&
              !g_str_has_prefix (*url, "turns://")) {
            error = "--turn-server: \"" + std::string (*url) + "\" is not "
                "turn(s)://USER:PASSWORD@HOST:PORT";
            return false;
          }
          config.turn_servers.push_back (*url);
        }
        return true;
      } },
    { "whip-jitter-ms", 0, Type::Text, "MS", "WHIP jitterbuffer latency: how "
      "long packets may wait for reordering and retransmission (NACK/RTX)",
      "200", "",
      whole_number ("whip-jitter-ms", 20, 5000, config.whip_jitter_ms) },
    { "version", 'V', Type::Flag, nullptr, "Print the version and exit", "",
      "", nullptr, false },
  };
  return true;
}
}  // namespace

bool
Config::origin_allowed (const std::string &origin) const
{
  return wsrtmp::origin_allowed (allowed_origins, origin.c_str ());
}

/* A key in --streams-file is allowed; with a streams file and no
 * --keys-file, only those are. */
bool
Config::key_allowed (const std::string &key) const
{
  if (streams && streams->count (key))
    return true;
  if (streams && keys_file.empty ())
    return false;
  return allowed_keys.empty () || allowed_keys.count (key) > 0;
}

std::string
Config::rtmp_location (const std::string &key) const
{
  if (rtmp_url.empty ())
    return "";
  return location_for_key (rtmp_url, key);
}

bool
parse_config (int *argc, char ***argv, Config &config, std::string &error)
{
  std::vector<Option> options;
  if (!make_options (config, options, error))
    return false;
  OptionTable table (std::move (options));

  g_autoptr (GOptionContext) context = g_option_context_new (
      "- browser camera (WebSocket) to RTMP gateway");
  g_option_context_set_summary (context,
      "Serves the streaming page, accepts WebSocket clients on "
      "/ingest/KEY and pushes each stream to RTMP and/or a recording.");
  g_option_context_set_description (context,
      "Signals:\n"
      "  SIGTERM, SIGINT  stop taking streams, drain the running ones, exit."
      "\n"
      "  SIGHUP  re-read --keys-file, --streams-file, --token-secret-file,"
      "\n    --admin-token-file and --webhook-secret-file, for new streams and"
      "\n    requests"
      "\n"
      "    (a file that does not parse is refused; the previous one stays)."
      "\n\n"
      "Environment:\n"
      "  WSRTMPD_ALLOCATOR=default  keep the C allocators as shipped. By "
      "default wsrtmpd\n"
      "    restarts itself once at start with G_SLICE=always-malloc and "
      "glibc's\n"
      "    per-thread cache off (GLIBC_TUNABLES=glibc.malloc.tcache_count=0), "
      "and\n"
      "    uses one malloc arena per core, so that memory does not creep up "
      "while\n"
      "    streams come and go. Values already set in the environment are "
      "kept.\n");
  /* GStreamer's own options (--gst-debug, ...) show in --help-all. */
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!table.parse (context, argc, argv, error))
    return false;
  if (table.given ("version")) {
    g_print ("wsrtmpd %s\n", WSRTMP_VERSION);
    exit (0);
  }
  if (*argc > 1) {
    error = std::string ("unexpected argument \"") + (*argv)[1] + "\"";
    return false;
  }
  if (const std::string *file = table.value ("config")) {
    if (!table.read_file (*file, GROUP, error))
      return false;
  }
  if (!table.apply (error) || !resolve_token_secret (table, config, error))
    return false;
  /* Recording is the out-of-the-box destination; with an RTMP URL it is
   * only done when asked for. */
  config.record_dir_given = table.given ("record-dir");
  config.record = (config.rtmp_urls.empty () && !config.streams) ||
      config.record_dir_given;
  if (config.slate_image.empty ()) {
    std::string card = config.web_root + "/img/slate.png";
    if (g_file_test (card.c_str (), G_FILE_TEST_IS_REGULAR))
      config.slate_image = card;
  }
  if (config.tls_cert.empty () != config.tls_key.empty ()) {
    error = "--tls-cert and --tls-key go together";
    return false;
  }
  if (config.admin () && config.admin_token_file.empty () &&
      !is_loopback_host (config.admin_host)) {
    error = "--admin-listen " + config.admin_host + ": an admin API on an "
        "address other machines can reach needs --admin-token-file";
    return false;
  }
  if (config.webhook_url.empty () != config.webhook_secret_file.empty ()) {
    error = "--webhook-url and --webhook-secret-file go together (events "
        "are always signed)";
    return false;
  }
  return true;
}

bool
reload_config_files (Config &config, std::string &done, std::string &error)
{
  std::set<std::string> keys;
  if (!config.keys_file.empty () &&
      !load_keys (config.keys_file, keys, error))
    return false;
  auto streams = std::make_shared<StreamsTable> ();
  if (!config.streams_file.empty () &&
      !load_streams_file (config.streams_file, *streams, error))
    return false;
  std::string secret;
  if (!config.token_secret_file.empty () &&
      !read_token_secret_file (config.token_secret_file, secret, error))
    return false;
  std::string admin_token;
  if (!config.admin_token_file.empty () &&
      !read_admin_token_file (config.admin_token_file, admin_token, error))
    return false;
  std::string webhook_secret;
  if (!config.webhook_secret_file.empty () &&
      !read_webhook_secret_file (config.webhook_secret_file, webhook_secret,
          error))
    return false;

  done.clear ();
  if (!config.keys_file.empty ()) {
    config.allowed_keys = std::move (keys);
    done = config.keys_file + " (" +
        std::to_string (config.allowed_keys.size ()) + " keys)";
  }
  if (!config.streams_file.empty ()) {
    config.streams = std::move (streams);
    done += (done.empty () ? "" : " and ") + config.streams_file + " (" +
        std::to_string (config.streams->size ()) + " streams)";
  }
  if (!config.token_secret_file.empty ()) {
    config.token_secret = std::move (secret);
    done += (done.empty () ? "" : " and ") + config.token_secret_file;
  }
  if (!config.admin_token_file.empty ()) {
    config.admin_token = std::move (admin_token);
    done += (done.empty () ? "" : " and ") + config.admin_token_file;
  }
  if (!config.webhook_secret_file.empty ()) {
    config.webhook_secret = std::move (webhook_secret);
    done += (done.empty () ? "" : " and ") + config.webhook_secret_file;
  }
  if (done.empty ())
    done = "nothing (no --keys-file, --streams-file, --token-secret-file, "
        "--admin-token-file or --webhook-secret-file)";
  return true;
}

}  // namespace wsrtmp
