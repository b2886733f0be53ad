/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "destination.h"
#include "mp4_recording.h"
#include "util.h"

#include <gio/gio.h>

#include <cstring>
#include <initializer_list>

namespace wsrtmp {

namespace {

/* "0", "false", "no", "off": an explicit no. */
bool
is_false (const char *value)
{
  return value && (g_str_equal (value, "0") ||
      !g_ascii_strcasecmp (value, "false") ||
      !g_ascii_strcasecmp (value, "no") || !g_ascii_strcasecmp (value, "off"));
}

/* The queue in front of every network sink. It never blocks the tee (no
 * limit of its own): DestinationLink measures what waits in it and drops
 * a destination that cannot keep up to a reconnection from the next
 * keyframe (its buffer bound). A single destination needs none (a thread
 * less per stream): a stall then backs up into wsserversrc's bounded
 * queue, as it always did. */
constexpr const char *UNBOUNDED_QUEUE =
    "queue name=%1$s-queue max-size-buffers=0 max-size-bytes=0 "
    "max-size-time=0 ! ";

}  // namespace

const char *
Destination::kind_name () const
{
  switch (kind) {
    case Kind::Rtmp: return g_str_has_prefix (location.c_str (), "rtmps:") ?
        "rtmps" : "rtmp";
    case Kind::Srt: return "srt";
    case Kind::File: return "recording";
  }
  return "?";
}

std::string
Destination::masked () const
{
  /* The key is the last path element (before the query). */
  std::string text = location;
  auto end = secret_query.empty () ? text.size () : text.rfind (secret_query);
  if (!secret.empty () && end != std::string::npos && end >= secret.size () &&
      text.compare (end - secret.size (), secret.size (), secret) == 0)
    text.replace (end - secret.size (), secret.size (), mask_key (secret));
  if (!secret_query.empty ()) {
    auto at = text.find (secret_query);
    if (at != std::string::npos)
      text.replace (at, secret_query.size (), "?***");
  }
  if (kind == Kind::Srt) {
    if (!srt_streamid.empty ())
      text += "?streamid=" + mask_key (srt_streamid);
    if (!srt_passphrase.empty ())
      text += std::string (srt_streamid.empty () ? "?" : "&") +
          "passphrase=***";
  }
  return text;
}

std::string
Destination::sink_description (bool only_destination) const
{
  std::string queue = only_destination ? "" : UNBOUNDED_QUEUE;
  switch (kind) {
    case Kind::Rtmp:
      /* sync=false: live output, never held back by the clock. Chunks of
       * 4096 bytes (OBS's and nginx-rtmp's size; every server takes the
       * Set Chunk Size it is sent) instead of RTMP's initial 128, which
       * rtmp2sink keeps unless told: at 4.5 Mbit/s it took 0.29 % of a
       * core per stream cutting and copying 128-byte chunks, 0.12 % with
       * 4096. */
      return queue + "rtmp2sink name=%1$s sync=false chunk-size=4096";
    case Kind::Srt:
      /* FLV from the tee back to elementary streams, then MPEG-TS, the
       * container SRT ingests expect. SPS/PPS with every keyframe so a
       * receiver can join (and a reconnection start) anywhere. */
      return std::string (UNBOUNDED_QUEUE) +
          "flvdemux name=%1$s-demux "
          "mpegtsmux name=%1$s-mux alignment=7 ! "
          "srtsink name=%1$s sync=false mode=caller auto-reconnect=false "
          "wait-for-connection=false "
          "%1$s-demux.video ! queue ! h264parse config-interval=-1 ! "
          "%1$s-mux. "
          "%1$s-demux.audio ! queue ! aacparse ! %1$s-mux.";
    case Kind::File:
      if (!mp4)
        return "queue name=%1$s-queue ! filesink name=%1$s sync=false";
      return mp4_recording_description ();
  }
  return "";
}

void
Destination::configure_sink (GstElement *sink) const
{
  switch (kind) {
    case Kind::Rtmp:
      g_object_set (sink, "location", location.c_str (), nullptr);
      if (!tls_verify)
        g_object_set (sink, "tls-validation-flags", G_TLS_CERTIFICATE_NO_FLAGS,
            nullptr);
      break;
    case Kind::Srt:
      g_object_set (sink, "uri", location.c_str (), nullptr);
      if (!srt_streamid.empty ())
        g_object_set (sink, "streamid", srt_streamid.c_str (), nullptr);
      if (!srt_passphrase.empty ())
        g_object_set (sink, "passphrase", srt_passphrase.c_str (), nullptr);
      if (srt_latency_ms >= 0)
        g_object_set (sink, "latency", srt_latency_ms, nullptr);
      break;
    case Kind::File:
      if (mp4)
        configure_mp4_recording (sink, *this);
      else
        g_object_set (sink, "location", location.c_str (), nullptr);
      break;
  }
}

bool
parse_destination (const std::string &url, const std::string &name,
    Destination &dest, std::string &error)
{
  dest = Destination ();
  g_autoptr (GError) gerror = nullptr;
  g_autoptr (GUri) uri = g_uri_parse (url.c_str (), G_URI_FLAGS_ENCODED,
      &gerror);
  const char *scheme = uri ? g_uri_get_scheme (uri) : nullptr;
  const char *host = uri ? g_uri_get_host (uri) : nullptr;
  /* The text may hold a key: it is never shown, only its scheme. */
  if (!uri || !host || !*host) {
    error = "not a destination URL (expected rtmp://HOST[:PORT]/APP/KEY, "
        "rtmps://... or srt://HOST:PORT)";
    return false;
  }
  std::string shown_host = host;
  dest.name = name.empty () ? shown_host : name;
  g_autoptr (GHashTable) params = nullptr;
  if (const char *query = g_uri_get_query (uri)) {
    params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, &gerror);
    if (!params) {
      error = dest.name + ": the query of the URL does not parse";
      return false;
    }
  }
  auto param = [&params] (const char *key) -> const char * {
    return params ? static_cast<const char *> (g_hash_table_lookup (params,
            key)) : nullptr;
  };
  auto unknown_param = [&params] (std::initializer_list<const char *> known)
      -> std::string {
    if (!params)
      return "";
    GHashTableIter iter;
    gpointer key;
    g_hash_table_iter_init (&iter, params);
    while (g_hash_table_iter_next (&iter, &key, nullptr)) {
      bool found = false;
      for (const char *k : known)
        found = found || g_str_equal (k, static_cast<const char *> (key));
      if (!found)
        return static_cast<const char *> (key);
    }
    return "";
  };

  if (g_str_equal (scheme, "rtmp") || g_str_equal (scheme, "rtmps")) {
    dest.kind = Destination::Kind::Rtmp;
    if (param ("tls-verify") && g_str_equal (scheme, "rtmp")) {
      error = dest.name + ": tls-verify is for rtmps:// URLs only";
      return false;
    }
    dest.tls_verify = !is_false (param ("tls-verify"));
    /* rtmp2sink wants scheme://host[:port]/app/stream: the stream (the
     * platform's key) is the last path element. */
    std::string path = g_uri_get_path (uri);
    while (!path.empty () && path.back () == '/')
      path.pop_back ();
    auto slash = path.rfind ('/');
    if (slash == std::string::npos || slash == 0 ||
        slash + 1 >= path.size ()) {
      error = dest.name + ": an RTMP URL needs an application and a stream "
          "key: " + scheme + "://HOST[:PORT]/APP/KEY";
      return false;
    }
    dest.secret = path.substr (slash + 1);
    int port = g_uri_get_port (uri);
    dest.location = std::string (scheme) + "://" +
        (strchr (host, ':') ? "[" + shown_host + "]" : shown_host) +
        (port > 0 ? ":" + std::to_string (port) : "") + path;
    /* Other parameters are the platform's (some put a key there too): they
     * go to the server as they are, and are masked whole in logs. */
    std::string query;
    if (params) {
      GHashTableIter iter;
      gpointer key, value;
      g_hash_table_iter_init (&iter, params);
      while (g_hash_table_iter_next (&iter, &key, &value)) {
        if (g_str_equal (static_cast<const char *> (key), "tls-verify"))
          continue;
        g_autofree char *k = g_uri_escape_string (
            static_cast<const char *> (key), nullptr, FALSE);
        g_autofree char *v = g_uri_escape_string (
            static_cast<const char *> (value), nullptr, FALSE);
        query += std::string (query.empty () ? "?" : "&") + k + "=" + v;
      }
    }
    if (!query.empty ()) {
      dest.location += query;
      dest.secret_query = query;
    }
    return true;
  }
  if (g_str_equal (scheme, "srt")) {
    dest.kind = Destination::Kind::Srt;
    std::string unknown = unknown_param ({ "streamid", "passphrase",
        "latency", "mode" });
    if (!unknown.empty ()) {
      error = dest.name + ": unknown URL parameter \"" + unknown +
          "\" (srt:// knows streamid, passphrase, latency)";
      return false;
    }
    if (param ("mode") && !g_str_equal (param ("mode"), "caller")) {
      error = dest.name + ": wsrtmpd calls SRT destinations (mode=caller)";
      return false;
    }
    int port = g_uri_get_port (uri);
    if (port <= 0) {
      error = dest.name + ": an SRT URL needs a port: srt://HOST:PORT";
      return false;
    }
    if (const char *id = param ("streamid"))
      dest.srt_streamid = id;
    if (const char *pass = param ("passphrase")) {
      dest.srt_passphrase = pass;
      /* libsrt's own rule; srtsink would only fail at connect. */
      if (dest.srt_passphrase.size () < 10 ||
          dest.srt_passphrase.size () > 79) {
        error = dest.name + ": an SRT passphrase has 10 to 79 characters";
        return false;
      }
    }
    if (const char *latency = param ("latency")) {
      char *end = nullptr;
      long value = strtol (latency, &end, 10);
      if (!*latency || *end || value < 0 || value > 60000) {
        error = dest.name + ": latency is milliseconds, 0 to 60000";
        return false;
      }
      dest.srt_latency_ms = static_cast<int> (value);
    }
    dest.location = "srt://" + (strchr (host, ':') ? "[" + shown_host + "]" :
        shown_host) + ":" + std::to_string (port);
    return true;
  }
  error = std::string ("unsupported destination scheme \"") + scheme +
      "\": use rtmp://, rtmps:// or srt://";
  return false;
}

std::string
location_for_key (const std::string &url, const std::string &key)
{
  auto placeholder = url.find ("{key}");
  if (placeholder != std::string::npos) {
    std::string location = url;
    location.replace (placeholder, 5, key);
    return location;
  }
  if (g_str_has_prefix (url.c_str (), "srt://"))
    return url;
  if (!url.empty () && url.back () == '/')
    return url + key;
  return url + "/" + key;
}

Destination
recording_destination (const std::string &path)
{
  Destination dest;
  dest.kind = Destination::Kind::File;
  dest.location = path;
  dest.name = "recording";
  return dest;
}

bool
sink_error_is_permanent (const GError *error)
{
  const char *text = error ? error->message : "";
  return contains_any (text, { "certificate", "tls", "badname",
      "rejected", "denied", "auth", "publish", "cmd failed", "passphrase",
      "forbidden" });
}

std::string
describe_sink_error (const Destination &dest, const GError *error)
{
  const char *text = error ? error->message : "";
  const std::string &who = dest.name;
  if (dest.kind == Destination::Kind::File)
    return "cannot write the recording";
  if (contains_any (text, { "certificate", "tls" }))
    return who + "'s TLS certificate is not trusted (add ?tls-verify=0 to "
        "the URL only for a server you know)";
  if (contains_any (text, { "connection refused" }))
    return "cannot reach " + who + " (connection refused)";
  if (contains_any (text, { "resolv", "not known", "name or service" }))
    return "cannot find " + who + " (name does not resolve)";
  if (contains_any (text, { "timed out", "timeout" }))
    return "cannot reach " + who + " (timed out)";
  if (contains_any (text, { "unreachable", "no route", "could not connect",
              "failed to connect" }))
    return "cannot reach " + who;
  if (contains_any (text, { "passphrase" }))
    return who + " refused the SRT passphrase";
  if (contains_any (text, { "rejected", "badname", "denied", "auth",
              "publish", "cmd failed", "forbidden" }))
    return who + " refused the stream key";
  return "lost the connection to " + who;
}

}  // namespace wsrtmp
