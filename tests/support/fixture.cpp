/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fixture.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace wsrtmp::test {

namespace {

std::string
env_or (const char *name, const std::string &fallback)
{
  const char *value = g_getenv (name);
  return value && *value ? value : fallback;
}

}  // namespace

TempDir::TempDir ()
{
  g_autoptr (GError) error = nullptr;
  g_autofree char *dir = g_dir_make_tmp ("wsrtmp-test-XXXXXX", &error);
  if (!dir)
    throw std::runtime_error (error->message);
  path_ = dir;
  g_chmod (dir, 0755);
}

TempDir::~TempDir ()
{
  const char *argv[] = { "rm", "-rf", path_.c_str (), nullptr };
  g_spawn_sync (nullptr, const_cast<char **> (argv), nullptr,
      G_SPAWN_SEARCH_PATH, nullptr, nullptr, nullptr, nullptr, nullptr,
      nullptr);
}

int
free_port ()
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4,
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (
      G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  if (!socket || !g_socket_bind (socket, any, TRUE, nullptr))
    throw std::runtime_error ("cannot bind a free port");
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (socket,
      nullptr);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

std::string
data_dir ()
{
  return env_or ("WSRTMP_TEST_DATA", "tests/data");
}

std::string
source_root ()
{
  return env_or ("WSRTMP_SOURCE_ROOT", ".");
}

std::string
build_root ()
{
  return env_or ("WSRTMP_BUILD_ROOT", "build");
}

Fixture::Fixture (const std::string &name) : name_ (name)
{
  g_autofree char *meta_path = g_build_filename (dir ().c_str (), "meta.json",
      nullptr);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = nullptr;
  if (!json_parser_load_from_file (parser, meta_path, &error))
    throw std::runtime_error ("cannot read " + std::string (meta_path) + ": " +
        error->message);
  JsonObject *meta = json_node_get_object (json_parser_get_root (parser));
  mime_type_ = json_object_get_string_member_with_default (meta, "mimeType", "");
  JsonArray *list = json_object_get_array_member (meta, "chunk_list");

  g_autoptr (GByteArray) all = g_byte_array_new ();
  for (guint i = 0; i < json_array_get_length (list); i++) {
    JsonObject *entry = json_array_get_object_element (list, i);
    int index = json_object_get_int_member (entry, "index");
    g_autofree char *file = g_strdup_printf ("chunk-%05d.bin", index);
    g_autofree char *path = g_build_filename (dir ().c_str (), file, nullptr);
    char *contents = nullptr;
    gsize length = 0;
    if (!g_file_get_contents (path, &contents, &length, &error))
      throw std::runtime_error (error->message);
    g_byte_array_append (all, reinterpret_cast<guint8 *> (contents), length);
    chunks_.push_back ({ g_bytes_new_take (contents, length),
        json_object_get_double_member (entry, "t_ms") });
  }
  joined_ = g_byte_array_free_to_bytes (static_cast<GByteArray *> (
      g_steal_pointer (&all)));
}

Fixture::~Fixture ()
{
  for (auto &chunk : chunks_)
    g_bytes_unref (chunk.bytes);
  g_bytes_unref (joined_);
  if (!joined_path_.empty ())
    g_unlink (joined_path_.c_str ());
}

std::string
Fixture::dir () const
{
  g_autofree char *path = g_build_filename (data_dir ().c_str (),
      name_.c_str (), nullptr);
  return path;
}

const std::string &
Fixture::joined_path () const
{
  if (joined_path_.empty ()) {
    g_autoptr (GError) error = nullptr;
    g_autofree char *path = nullptr;
    int fd = g_file_open_tmp ("wsrtmp-fixture-XXXXXX", &path, &error);
    if (fd < 0)
      throw std::runtime_error (error->message);
    close (fd);
    gsize size;
    const char *data = static_cast<const char *> (g_bytes_get_data (joined_,
            &size));
    if (!g_file_set_contents (path, data, size, &error))
      throw std::runtime_error (error->message);
    joined_path_ = path;
  }
  return joined_path_;
}

std::vector<StreamInfo>
probe_streams (const std::string &path)
{
  const char *argv[] = { "ffprobe", "-v", "error", "-show_streams",
    "-show_entries", "packet=stream_index,pts_time,dts_time,flags",
    "-of", "json", path.c_str (), nullptr };
  g_autofree char *out = nullptr;
  g_autofree char *err = nullptr;
  int status = 0;
  g_autoptr (GError) error = nullptr;
  if (!g_spawn_sync (nullptr, const_cast<char **> (argv), nullptr,
          G_SPAWN_SEARCH_PATH, nullptr, nullptr, &out, &err, &status, &error))
    throw std::runtime_error (std::string ("cannot run ffprobe: ") +
        error->message);
  if (!g_spawn_check_wait_status (status, nullptr))
    throw std::runtime_error ("ffprobe failed on " + path + ": " +
        (err ? err : ""));

  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, out, -1, &error))
    throw std::runtime_error (error->message);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));

  std::vector<StreamInfo> streams;
  std::map<int, size_t> by_index;
  JsonArray *stream_list = json_object_get_array_member (root, "streams");
  for (guint i = 0; stream_list && i < json_array_get_length (stream_list); i++) {
    JsonObject *s = json_array_get_object_element (stream_list, i);
    StreamInfo info;
    info.codec_type = json_object_get_string_member_with_default (s,
        "codec_type", "");
    info.codec_name = json_object_get_string_member_with_default (s,
        "codec_name", "");
    info.profile = json_object_get_string_member_with_default (s, "profile", "");
    info.width = json_object_get_int_member_with_default (s, "width", 0);
    info.height = json_object_get_int_member_with_default (s, "height", 0);
    info.channels = json_object_get_int_member_with_default (s, "channels", 0);
    const char *rate = json_object_get_string_member_with_default (s,
        "sample_rate", "0");
    info.sample_rate = atoi (rate);
    by_index[json_object_get_int_member (s, "index")] = streams.size ();
    streams.push_back (info);
  }

  std::vector<bool> seen (streams.size (), false);
  JsonArray *packets = json_object_get_array_member (root, "packets");
  for (guint i = 0; packets && i < json_array_get_length (packets); i++) {
    JsonObject *p = json_array_get_object_element (packets, i);
    auto it = by_index.find (json_object_get_int_member (p, "stream_index"));
    if (it == by_index.end ())
      continue;
    const char *pts = json_object_get_string_member_with_default (p,
        "pts_time", nullptr);
    if (!pts || g_str_equal (pts, "N/A"))
      pts = json_object_get_string_member_with_default (p, "dts_time", "0");
    double t = g_ascii_strtod (pts, nullptr);
    StreamInfo &info = streams[it->second];
    if (!seen[it->second]) {
      info.first_pts = info.last_pts = t;
      seen[it->second] = true;
    }
    info.first_pts = std::min (info.first_pts, t);
    info.last_pts = std::max (info.last_pts, t);
    info.packets++;
    const char *flags = json_object_get_string_member_with_default (p, "flags",
        "");
    if (info.codec_type == "video" && flags[0] == 'K')
      info.keyframe_times.push_back (t);
  }
  for (auto &info : streams)
    std::sort (info.keyframe_times.begin (), info.keyframe_times.end ());
  return streams;
}

const StreamInfo *
find_stream (const std::vector<StreamInfo> &streams,
    const std::string &codec_type)
{
  for (const auto &info : streams) {
    if (info.codec_type == codec_type)
      return &info;
  }
  return nullptr;
}

void
generate_certificate (const std::string &dir)
{
  std::string key = dir + "/key.pem", cert = dir + "/cert.pem";
  const char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048",
    "-nodes", "-keyout", key.c_str (), "-out", cert.c_str (), "-days", "1",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
    nullptr };
  int status = 0;
  g_autoptr (GError) error = nullptr;
  if (!g_spawn_sync (nullptr, const_cast<char **> (argv), nullptr,
          static_cast<GSpawnFlags> (G_SPAWN_SEARCH_PATH |
              G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL),
          nullptr, nullptr, nullptr, nullptr, &status, &error) ||
      !g_spawn_check_wait_status (status, nullptr))
    throw std::runtime_error ("openssl could not make a certificate in " +
        dir);
}

}  // namespace wsrtmp::test
