/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "util.h"

#include <gio/gio.h>

#include <cerrno>
#include <cstdlib>
#include <unistd.h>

namespace wsrtmp {

namespace {

constexpr const char *GROUP = "wsrtmpd";
const std::set<std::string> X264_PRESETS = { "ultrafast", "superfast",
  "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
  "placebo" };

/* Raw values as given: nullptr / -1 means "not given", so the config file
 * can fill in what the command line left out. */
struct RawOptions {
  char *config = nullptr;
  char *listen = nullptr;
  char *web_root = nullptr;
  char *rtmp_url = nullptr;
  char *record_dir = nullptr;
  char *keys_file = nullptr;
  char *max_sessions = nullptr;
  char *video_bitrate = nullptr;
  char *audio_bitrate = nullptr;
  char *x264_preset = nullptr;
  char *framerate = nullptr;
  char *codec_threads = nullptr;
  char *tls_cert = nullptr;
  char *tls_key = nullptr;
  char *max_message_size = nullptr;
  char *drain_timeout = nullptr;
  char *idle_timeout = nullptr;
  char *handshake_timeout = nullptr;
  char *allowed_origins = nullptr;
  char *max_connections_per_ip = nullptr;
  char *token_secret = nullptr;
  char *token_secret_file = nullptr;
  char *rtmp_retry_time = nullptr;
  gboolean force_transcode = FALSE;
  gboolean version = FALSE;

  ~RawOptions ()
  {
    for (char *s : { config, listen, web_root, rtmp_url, record_dir,
             keys_file, max_sessions, video_bitrate, audio_bitrate,
             x264_preset, framerate, codec_threads, tls_cert, tls_key, max_message_size,
             drain_timeout, idle_timeout, handshake_timeout, allowed_origins,
             max_connections_per_ip, token_secret, token_secret_file,
             rtmp_retry_time })
      g_free (s);
  }
};

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

bool
parse_listen (const std::string &text, Config &config, std::string &error)
{
  std::string host, port;
  if (!text.empty () && text[0] == '[') {
    auto close = text.find (']');
    if (close == std::string::npos || close + 1 >= text.size () ||
        text[close + 1] != ':') {
      error = "--listen: \"" + text + "\" is not HOST:PORT ([ADDR]:PORT for IPv6)";
      return false;
    }
    host = text.substr (1, close - 1);
    port = text.substr (close + 2);
  } else {
    auto colon = text.rfind (':');
    if (colon == std::string::npos || text.find (':') != colon) {
      error = "--listen: \"" + text + "\" is not HOST:PORT ([ADDR]:PORT for IPv6)";
      return false;
    }
    host = text.substr (0, colon);
    port = text.substr (colon + 1);
  }
  if (host.empty ()) {
    error = "--listen: host missing in \"" + text + "\"";
    return false;
  }
  long value;
  if (!parse_int ("listen", port.c_str (), 0, 65535, value, error)) {
    error = "--listen: port \"" + port + "\" is not a number from 0 to 65535";
    return false;
  }
  config.listen_host = host;
  config.listen_port = static_cast<int> (value);
  return true;
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

/* Command line wins; the file fills the gaps. */
void
fill_from_file (GKeyFile *file, const char *key, char *&value)
{
  if (value)
    return;
  value = g_key_file_get_string (file, GROUP, key, nullptr);
  if (value)
    g_strstrip (value);
}

}  // namespace

bool
Config::origin_allowed (const std::string &origin) const
{
  if (allowed_origins.empty ())
    return true;
  for (const auto &allowed : allowed_origins) {
    if (g_ascii_strcasecmp (allowed.c_str (), origin.c_str ()) == 0)
      return true;
  }
  return false;
}

std::string
make_token (const std::string &secret, const std::string &key, gint64 expiry)
{
  std::string message = key + "." + std::to_string (expiry);
  g_autofree char *hmac = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      reinterpret_cast<const guchar *> (secret.data ()), secret.size (),
      message.c_str (), message.size ());
  return std::to_string (expiry) + "." + hmac;
}

bool
check_token (const std::string &secret, const std::string &key,
    const std::string &token, gint64 now_s)
{
  auto dot = token.find ('.');
  if (secret.empty () || dot == std::string::npos || dot == 0 || dot > 19)
    return false;
  std::string expiry_text = token.substr (0, dot);
  for (char c : expiry_text) {
    if (!g_ascii_isdigit (c))
      return false;
  }
  gint64 expiry = g_ascii_strtoll (expiry_text.c_str (), nullptr, 10);
  if (expiry < now_s)
    return false;
  std::string expected = make_token (secret, key, expiry);
  /* Same length (64 hex digits) or no match; every byte compared. */
  if (expected.size () != token.size ())
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size (); i++)
    diff |= static_cast<unsigned char> (g_ascii_tolower (token[i]) ^
        expected[i]);
  return diff == 0;
}

bool
Config::key_allowed (const std::string &key) const
{
  return allowed_keys.empty () || allowed_keys.count (key) > 0;
}

std::string
Config::rtmp_location (const std::string &key) const
{
  if (rtmp_url.empty ())
    return "";
  auto placeholder = rtmp_url.find ("{key}");
  if (placeholder != std::string::npos) {
    std::string location = rtmp_url;
    location.replace (placeholder, 5, key);
    return location;
  }
  if (!rtmp_url.empty () && rtmp_url.back () == '/')
    return rtmp_url + key;
  return rtmp_url + "/" + key;
}

bool
parse_config (int *argc, char ***argv, Config &config, std::string &error)
{
  RawOptions raw;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &raw.config,
      "INI file with a [wsrtmpd] group; keys are the long option names "
      "(command line options win)", "FILE" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &raw.listen,
      "Address and port for HTTP and WebSocket (port 0 = any free port; "
      "default 127.0.0.1:8080)", "HOST:PORT" },
    { "web-root", 0, 0, G_OPTION_ARG_FILENAME, &raw.web_root,
      "Directory served at / (default: the installed or in-tree web/)", "DIR" },
    { "rtmp-url", 'r', 0, G_OPTION_ARG_STRING, &raw.rtmp_url,
      "RTMP destination; {key} is replaced by the stream key, otherwise "
      "/KEY is appended (default: none, record only)", "URL" },
    { "record-dir", 0, 0, G_OPTION_ARG_FILENAME, &raw.record_dir,
      "Also record every stream to DIR/KEY-TIMESTAMP.flv (default without "
      "--rtmp-url: ./recordings)", "DIR" },
    { "keys-file", 'k', 0, G_OPTION_ARG_FILENAME, &raw.keys_file,
      "File with one allowed stream key per line (default: any key of "
      "1-128 characters A-Z a-z 0-9 _ -)", "FILE" },
    { "max-sessions", 0, 0, G_OPTION_ARG_STRING, &raw.max_sessions,
      "Concurrent streams accepted; more are closed with 1013 (0 = "
      "unlimited; default 16)", "N" },
    { "video-bitrate", 0, 0, G_OPTION_ARG_STRING, &raw.video_bitrate,
      "H.264 bitrate (default 2500)", "KBPS" },
    { "audio-bitrate", 0, 0, G_OPTION_ARG_STRING, &raw.audio_bitrate,
      "AAC bitrate (default 128)", "KBPS" },
    { "x264-preset", 0, 0, G_OPTION_ARG_STRING, &raw.x264_preset,
      "x264 speed preset: ultrafast ... veryslow (default veryfast)", "NAME" },
    { "framerate", 0, 0, G_OPTION_ARG_STRING, &raw.framerate,
      "Constant output frame rate when encoding video (default 30)", "FPS" },
    { "codec-threads", 0, 0, G_OPTION_ARG_STRING, &raw.codec_threads,
      "Threads per video decoder and x264 encoder when transcoding (0 = "
      "about one per core; default 1: least CPU per stream when many "
      "streams are transcoded)", "N" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &raw.tls_cert,
      "PEM certificate: serve https:// and wss:// (needs --tls-key)", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &raw.tls_key,
      "PEM private key for --tls-cert", "FILE" },
    { "max-message-size", 0, 0, G_OPTION_ARG_STRING, &raw.max_message_size,
      "Largest WebSocket message accepted; larger closes with 1009 "
      "(default 16777216)", "BYTES" },
    { "drain-timeout", 0, 0, G_OPTION_ARG_STRING, &raw.drain_timeout,
      "Seconds a finishing stream (or shutdown) may take to deliver what "
      "was received (default 10)", "SECONDS" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_STRING, &raw.idle_timeout,
      "Close a WebSocket that sends no media for this long with 1008 "
      "(default 10)", "SECONDS" },
    { "handshake-timeout", 0, 0, G_OPTION_ARG_STRING, &raw.handshake_timeout,
      "Drop a connection whose HTTP request or WebSocket handshake takes "
      "longer, and idle keep-alive connections (default 10)", "SECONDS" },
    { "allowed-origins", 0, 0, G_OPTION_ARG_STRING, &raw.allowed_origins,
      "Comma-separated Origin values allowed to stream, e.g. "
      "https://studio.example.com; others are closed with 1008 (default: "
      "any)", "LIST" },
    { "max-connections-per-ip", 0, 0, G_OPTION_ARG_STRING,
      &raw.max_connections_per_ip, "Concurrent streams from one address; "
      "more are closed with 1013 (0 = unlimited; default 4)", "N" },
    { "token-secret", 0, 0, G_OPTION_ARG_STRING, &raw.token_secret,
      "Require /ingest/KEY?token=EXPIRY.HMAC, HMAC-SHA256 of \"KEY.EXPIRY\" "
      "with this secret (prefer --token-secret-file)", "SECRET" },
    { "token-secret-file", 0, 0, G_OPTION_ARG_FILENAME,
      &raw.token_secret_file, "File holding the --token-secret (first "
      "line)", "FILE" },
    { "rtmp-retry-time", 0, 0, G_OPTION_ARG_STRING, &raw.rtmp_retry_time,
      "Seconds a stream keeps reconnecting to an RTMP server that dropped "
      "it, buffering meanwhile (0 = fail at once; default 30)", "SECONDS" },
    { "force-transcode", 0, 0, G_OPTION_ARG_NONE, &raw.force_transcode,
      "Always decode and re-encode the video, even H.264 that could be "
      "passed through", nullptr },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &raw.version,
      "Print the version and exit", nullptr },
    { nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr },
  };

  g_autoptr (GOptionContext) context = g_option_context_new (
      "- browser camera (WebSocket) to RTMP gateway");
  g_option_context_set_summary (context,
      "Serves the streaming page, accepts WebSocket clients on "
      "/ingest/KEY and pushes each stream to RTMP and/or a recording.");
  g_option_context_set_description (context,
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
  g_option_context_add_main_entries (context, entries, nullptr);
  g_option_context_add_group (context, gst_init_get_option_group ());
  g_autoptr (GError) gerror = nullptr;
  if (!g_option_context_parse (context, argc, argv, &gerror)) {
    error = gerror->message;
    return false;
  }
  if (raw.version) {
    g_print ("wsrtmpd %s\n", WSRTMP_VERSION);
    exit (0);
  }
  if (*argc > 1) {
    error = std::string ("unexpected argument \"") + (*argv)[1] + "\"";
    return false;
  }

  if (raw.config) {
    g_autoptr (GKeyFile) file = g_key_file_new ();
    if (!g_key_file_load_from_file (file, raw.config, G_KEY_FILE_NONE,
            &gerror)) {
      error = std::string ("--config ") + raw.config + ": " + gerror->message;
      return false;
    }
    if (!g_key_file_has_group (file, GROUP)) {
      error = std::string ("--config ") + raw.config + ": no [" + GROUP +
          "] group";
      return false;
    }
    static const char *known[] = { "listen", "web-root", "rtmp-url",
      "record-dir", "keys-file", "max-sessions", "video-bitrate",
      "audio-bitrate", "x264-preset", "framerate", "codec-threads", "tls-cert", "tls-key",
      "max-message-size", "drain-timeout", "force-transcode", "idle-timeout",
      "handshake-timeout", "allowed-origins", "max-connections-per-ip",
      "token-secret", "token-secret-file", "rtmp-retry-time", nullptr };
    g_auto (GStrv) keys = g_key_file_get_keys (file, GROUP, nullptr, nullptr);
    for (char **key = keys; key && *key; key++) {
      if (!g_strv_contains (known, *key)) {
        error = std::string ("--config ") + raw.config + ": unknown key \"" +
            *key + "\" in [" + GROUP + "]";
        return false;
      }
    }
    fill_from_file (file, "listen", raw.listen);
    fill_from_file (file, "web-root", raw.web_root);
    fill_from_file (file, "rtmp-url", raw.rtmp_url);
    fill_from_file (file, "record-dir", raw.record_dir);
    fill_from_file (file, "keys-file", raw.keys_file);
    fill_from_file (file, "max-sessions", raw.max_sessions);
    fill_from_file (file, "video-bitrate", raw.video_bitrate);
    fill_from_file (file, "audio-bitrate", raw.audio_bitrate);
    fill_from_file (file, "x264-preset", raw.x264_preset);
    fill_from_file (file, "framerate", raw.framerate);
    fill_from_file (file, "codec-threads", raw.codec_threads);
    fill_from_file (file, "tls-cert", raw.tls_cert);
    fill_from_file (file, "tls-key", raw.tls_key);
    fill_from_file (file, "max-message-size", raw.max_message_size);
    fill_from_file (file, "drain-timeout", raw.drain_timeout);
    fill_from_file (file, "idle-timeout", raw.idle_timeout);
    fill_from_file (file, "handshake-timeout", raw.handshake_timeout);
    fill_from_file (file, "allowed-origins", raw.allowed_origins);
    fill_from_file (file, "max-connections-per-ip",
        raw.max_connections_per_ip);
    fill_from_file (file, "token-secret", raw.token_secret);
    fill_from_file (file, "token-secret-file", raw.token_secret_file);
    fill_from_file (file, "rtmp-retry-time", raw.rtmp_retry_time);
    if (!raw.force_transcode && g_key_file_has_key (file, GROUP,
            "force-transcode", nullptr)) {
      raw.force_transcode = g_key_file_get_boolean (file, GROUP,
          "force-transcode", &gerror);
      if (gerror) {
        error = std::string ("--config ") + raw.config + ": force-transcode: " +
            gerror->message;
        return false;
      }
    }
  }
  config.force_transcode = raw.force_transcode;

  if (raw.listen && !parse_listen (raw.listen, config, error))
    return false;

  config.web_root = raw.web_root ? raw.web_root : default_web_root ();
  if (!g_file_test (config.web_root.c_str (), G_FILE_TEST_IS_DIR)) {
    error = "--web-root: \"" + config.web_root + "\" is not a directory";
    return false;
  }

  if (raw.rtmp_url && *raw.rtmp_url) {
    config.rtmp_url = raw.rtmp_url;
    if (!g_str_has_prefix (raw.rtmp_url, "rtmp://") &&
        !g_str_has_prefix (raw.rtmp_url, "rtmps://")) {
      error = "--rtmp-url: \"" + config.rtmp_url + "\" must start with "
          "rtmp:// or rtmps://";
      return false;
    }
    /* rtmp2sink needs scheme://host[:port]/app/stream. */
    std::string probe = config.rtmp_location ("key");
    g_autoptr (GUri) uri = g_uri_parse (probe.c_str (), G_URI_FLAGS_NONE,
        nullptr);
    if (!uri || !g_uri_get_host (uri) || !*g_uri_get_host (uri)) {
      error = "--rtmp-url: \"" + config.rtmp_url + "\" is not a valid URL "
          "(expected rtmp://HOST[:PORT]/APP)";
      return false;
    }
  }
  /* Recording is the out-of-the-box destination; with an RTMP URL it is
   * only done when asked for. */
  config.record = config.rtmp_url.empty () || raw.record_dir;
  if (raw.record_dir)
    config.record_dir = raw.record_dir;

  if (raw.keys_file) {
    config.keys_file = raw.keys_file;
    if (!load_keys (config.keys_file, config.allowed_keys, error))
      return false;
  }

  long value;
  if (raw.max_sessions) {
    if (!parse_int ("max-sessions", raw.max_sessions, 0, 100000, value, error))
      return false;
    config.max_sessions = static_cast<int> (value);
  }
  if (raw.video_bitrate) {
    if (!parse_int ("video-bitrate", raw.video_bitrate, 100, 100000, value,
            error))
      return false;
    config.video_bitrate_kbps = static_cast<int> (value);
  }
  if (raw.audio_bitrate) {
    if (!parse_int ("audio-bitrate", raw.audio_bitrate, 16, 320, value, error))
      return false;
    config.audio_bitrate_kbps = static_cast<int> (value);
  }
  if (raw.x264_preset) {
    if (!X264_PRESETS.count (raw.x264_preset)) {
      error = std::string ("--x264-preset: \"") + raw.x264_preset +
          "\" is not one of ultrafast superfast veryfast faster fast medium "
          "slow slower veryslow placebo";
      return false;
    }
    config.x264_preset = raw.x264_preset;
  }
  if (raw.framerate) {
    if (!parse_int ("framerate", raw.framerate, 1, 120, value, error))
      return false;
    config.framerate = static_cast<int> (value);
  }
  if (raw.codec_threads) {
    if (!parse_int ("codec-threads", raw.codec_threads, 0, 64, value, error))
      return false;
    config.codec_threads = static_cast<int> (value);
  }
  if (raw.max_message_size) {
    if (!parse_int ("max-message-size", raw.max_message_size, 1024,
            1024L * 1024 * 1024, value, error))
      return false;
    config.max_message_size = static_cast<guint64> (value);
  }
  if (raw.drain_timeout) {
    if (!parse_int ("drain-timeout", raw.drain_timeout, 1, 3600, value, error))
      return false;
    config.drain_timeout_s = static_cast<int> (value);
  }

  if (raw.idle_timeout) {
    if (!parse_int ("idle-timeout", raw.idle_timeout, 1, 3600, value, error))
      return false;
    config.idle_timeout_s = static_cast<int> (value);
  }
  if (raw.handshake_timeout) {
    if (!parse_int ("handshake-timeout", raw.handshake_timeout, 1, 3600, value,
            error))
      return false;
    config.handshake_timeout_s = static_cast<int> (value);
  }
  if (raw.max_connections_per_ip) {
    if (!parse_int ("max-connections-per-ip", raw.max_connections_per_ip, 0,
            100000, value, error))
      return false;
    config.max_connections_per_ip = static_cast<int> (value);
  }
  if (raw.rtmp_retry_time) {
    if (!parse_int ("rtmp-retry-time", raw.rtmp_retry_time, 0, 3600, value,
            error))
      return false;
    config.rtmp_retry_time_s = static_cast<int> (value);
  }
  if (raw.allowed_origins) {
    g_auto (GStrv) origins = g_strsplit (raw.allowed_origins, ",", -1);
    for (char **origin = origins; *origin; origin++) {
      char *text = g_strstrip (*origin);
      if (!*text)
        continue;
      if (!g_str_has_prefix (text, "http://") &&
          !g_str_has_prefix (text, "https://")) {
        error = std::string ("--allowed-origins: \"") + text + "\" is not "
            "an origin like https://host[:port]";
        return false;
      }
      std::string origin_text = text;
      while (!origin_text.empty () && origin_text.back () == '/')
        origin_text.pop_back ();
      config.allowed_origins.push_back (origin_text);
    }
  }
  if (raw.token_secret && raw.token_secret_file) {
    error = "--token-secret and --token-secret-file: give one of them";
    return false;
  }
  if (raw.token_secret_file) {
    g_autofree char *contents = nullptr;
    if (!g_file_get_contents (raw.token_secret_file, &contents, nullptr,
            &gerror)) {
      error = std::string ("--token-secret-file: ") + gerror->message;
      return false;
    }
    g_auto (GStrv) lines = g_strsplit (contents, "\n", 2);
    config.token_secret = lines[0] ? g_strstrip (lines[0]) : "";
  } else if (raw.token_secret) {
    config.token_secret = raw.token_secret;
  }
  if ((raw.token_secret || raw.token_secret_file) &&
      config.token_secret.size () < 16) {
    error = "--token-secret: use at least 16 characters (e.g. openssl rand "
        "-hex 32)";
    return false;
  }

  if (!raw.tls_cert != !raw.tls_key) {
    error = "--tls-cert and --tls-key go together";
    return false;
  }
  if (raw.tls_cert) {
    config.tls_cert = raw.tls_cert;
    config.tls_key = raw.tls_key;
  }
  return true;
}

}  // namespace wsrtmp
