/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "static_files.h"
#include "http_reply.h"

#include <cstdlib>
#include <cstring>

namespace wsrtmp {

namespace {

const char *
content_type_for (const std::string &path)
{
  static const std::pair<const char *, const char *> types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".htm", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".json", "application/json" },
    { ".webmanifest", "application/manifest+json" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".wasm", "application/wasm" },
  };
  for (const auto &[extension, type] : types) {
    if (g_str_has_suffix (path.c_str (), extension))
      return type;
  }
  return "application/octet-stream";
}

}  // namespace

StaticFiles::StaticFiles (const std::string &web_root)
{
  g_autofree char *root = realpath (web_root.c_str (), nullptr);
  root_ = root ? root : web_root;
}

void
StaticFiles::serve (SoupServerMessage *msg, const char *path) const
{
  /* libsoup hands over the path still percent-encoded. */
  g_autofree char *decoded = g_uri_unescape_string (path, nullptr);
  if (!decoded || decoded[0] != '/' || strstr (decoded, "/../") ||
      g_str_has_suffix (decoded, "/..")) {
    send_text (msg, SOUP_STATUS_NOT_FOUND, "text/plain", "not found\n");
    return;
  }
  std::string relative = decoded + 1;
  if (relative.empty () || relative.back () == '/')
    relative += "index.html";
  g_autofree char *joined = g_build_filename (root_.c_str (),
      relative.c_str (), nullptr);
  /* Resolve symlinks too: nothing outside the web root is served. */
  g_autofree char *real = realpath (joined, nullptr);
  if (real && g_file_test (real, G_FILE_TEST_IS_DIR)) {
    g_autofree char *index = g_build_filename (real, "index.html", nullptr);
    g_free (real);
    real = realpath (index, nullptr);
  }
  std::string prefix = root_ + "/";
  if (!real || !g_str_has_prefix (real, prefix.c_str ()) ||
      !g_file_test (real, G_FILE_TEST_IS_REGULAR)) {
    send_text (msg, SOUP_STATUS_NOT_FOUND, "text/plain", "not found\n");
    return;
  }
  char *contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents (real, &contents, &length, nullptr)) {
    send_text (msg, SOUP_STATUS_FORBIDDEN, "text/plain", "forbidden\n");
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_message_headers_append (soup_server_message_get_response_headers (msg),
      "Cache-Control", "no-cache");
  soup_server_message_set_response (msg, content_type_for (real),
      SOUP_MEMORY_TAKE, contents, length);
}

}  // namespace wsrtmp
