/* An FLV file as its tags, for tests that check what a muxer wrote: how many
 * script tags (onMetaData), the codec headers, onMetaData's fields, and what
 * `flvmeta --check` (Debian's flvmeta) says of it. Header-only: the plugin
 * and the service tests include it without linking anything new.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace wsrtmp::test::flv {

constexpr int TAG_AUDIO = 8;
constexpr int TAG_VIDEO = 9;
constexpr int TAG_SCRIPT = 18;

struct Tag {
  int type;
  guint32 timestamp_ms;
  std::string body;

  /* An AVC decoder configuration or an AAC AudioSpecificConfig. */
  bool sequence_header () const
  {
    if (type == TAG_VIDEO)
      return body.size () >= 2 && (body[0] & 0x0f) == 7 && body[1] == 0;
    if (type == TAG_AUDIO)
      return body.size () >= 2 && ((guint8) body[0] >> 4) == 10 &&
          body[1] == 0;
    return false;
  }
  bool end_of_sequence () const
  {
    return type == TAG_VIDEO && body.size () >= 2 && (body[0] & 0x0f) == 7 &&
        body[1] == 2;
  }
};

/* Every complete tag of an FLV file; throws when it is not one. */
inline std::vector<Tag>
read_tags (const std::string &path)
{
  g_autofree char *data = nullptr;
  gsize size = 0;
  if (!g_file_get_contents (path.c_str (), &data, &size, nullptr))
    throw std::runtime_error ("cannot read " + path);
  auto byte = [&] (gsize i) { return (guint32) (guint8) data[i]; };
  if (size < 13 || memcmp (data, "FLV", 3) != 0)
    throw std::runtime_error (path + " is not an FLV file");
  std::vector<Tag> tags;
  gsize pos = (byte (5) << 24 | byte (6) << 16 | byte (7) << 8 | byte (8)) + 4;
  while (pos + 11 <= size) {
    gsize length = byte (pos + 1) << 16 | byte (pos + 2) << 8 | byte (pos + 3);
    if (pos + 11 + length > size)
      break;
    tags.push_back ({ (int) (byte (pos) & 0x1f), byte (pos + 7) << 24 |
          byte (pos + 4) << 16 | byte (pos + 5) << 8 | byte (pos + 6),
          std::string (data + pos + 11, length) });
    pos += 11 + length + 4;
  }
  return tags;
}

inline int
count (const std::vector<Tag> &tags, int type)
{
  int n = 0;
  for (const Tag &tag : tags)
    n += tag.type == type;
  return n;
}

/* A script tag: its name ("onMetaData") and the numbers, strings and
 * booleans of its object or ECMA array, as text. */
struct Script {
  std::string name;
  std::map<std::string, std::string> fields;
};

inline Script
parse_script (const std::string &body)
{
  Script script;
  gsize pos = 0;
  auto byte = [&] (gsize i) { return (guint) (guint8) body.at (i); };
  auto string_at = [&] (gsize at, gsize &after) {
    gsize n = byte (at) << 8 | byte (at + 1);
    after = at + 2 + n;
    return body.substr (at + 2, n);
  };
  if (body.empty () || byte (0) != 2)
    return script;
  script.name = string_at (1, pos);
  if (pos >= body.size ())
    return script;
  guint marker = byte (pos++);
  if (marker == 8)
    pos += 4;                   /* ECMA array: its count, then as an object */
  else if (marker != 3)
    return script;
  while (pos + 3 <= body.size ()) {
    gsize at;
    std::string key = string_at (pos, at);
    if (key.empty () && byte (at) == 9)
      break;
    guint type = byte (at++);
    if (type == 0) {
      guint64 bits = 0;
      for (int i = 0; i < 8; i++)
        bits = bits << 8 | byte (at + i);
      double value;
      memcpy (&value, &bits, sizeof value);
      char text[G_ASCII_DTOSTR_BUF_SIZE];
      script.fields[key] = g_ascii_dtostr (text, sizeof text, value);
      pos = at + 8;
    } else if (type == 1) {
      script.fields[key] = byte (at) ? "true" : "false";
      pos = at + 1;
    } else if (type == 2) {
      script.fields[key] = string_at (at, pos);
    } else {
      break;                    /* nothing flvmux writes */
    }
  }
  return script;
}

/* What `flvmeta --check` prints (its warnings name their code, e.g.
 * W70049 for a repeated onMetaData); throws when flvmeta cannot run. */
inline std::string
flvmeta_check (const std::string &path)
{
  const char *argv[] = { "flvmeta", "--check", path.c_str (), nullptr };
  g_autofree char *out = nullptr;
  g_autofree char *err = nullptr;
  g_autoptr (GError) error = nullptr;
  int status = 0;
  if (!g_spawn_sync (nullptr, const_cast<char **> (argv), nullptr,
          G_SPAWN_SEARCH_PATH, nullptr, nullptr, &out, &err, &status, &error))
    throw std::runtime_error (std::string ("cannot run flvmeta (Debian's "
            "flvmeta; scripts/setup installs it): ") + error->message);
  return std::string (out ? out : "") + (err ? err : "");
}

/* flvmeta's code for a second onMetaData. */
constexpr const char *DUPLICATE_METADATA = "W70049";

}  // namespace wsrtmp::test::flv
