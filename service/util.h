/* Small shared helpers: owning pointers for GLib/GStreamer objects, the
 * destroy function for probes' data, words in error messages, and log
 * hygiene.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <gst/gst.h>

#include <initializer_list>
#include <memory>
#include <string>

namespace wsrtmp {

struct GObjectUnref {
  void operator() (gpointer object) const { g_object_unref (object); }
};
struct GstObjectUnref {
  void operator() (gpointer object) const { gst_object_unref (object); }
};

/* Owning pointers for members: g_autoptr only works for locals. */
template <typename T> using GObjectPtr = std::unique_ptr<T, GObjectUnref>;
template <typename T> using GstObjectPtr = std::unique_ptr<T, GstObjectUnref>;

/* A GDestroyNotify for user data made with new T (a probe's, a pad
 * function's). */
template <typename T>
void
delete_data (gpointer data)
{
  delete static_cast<T *> (data);
}

/* Stream keys are credentials on most RTMP services: logs show only enough
 * of one to tell sessions apart. */
std::string mask_key (const std::string &key);
/* text with every occurrence of key masked (mask_key), for log lines
 * that quote pipeline messages or locations. */
std::string mask_key_in (std::string text, const std::string &key);

/* One journal line about a stream's session or broadcast: the message
 * "<what> <id> [<masked key>]<where>: <text>", with <id_field> (SESSION,
 * BROADCAST) and STREAM_KEY as fields to filter on. */
void log_stream_event (GLogLevelFlags level, const char *id_field,
    const char *what, guint64 id, const std::string &key,
    const std::string &where, const std::string &text);

/* True when text (nullptr: "") holds one of words (lower case), ignoring
 * ASCII case: how error messages from elements are told apart. */
bool contains_any (const char *text, std::initializer_list<const char *> words);

/* True when key matches [A-Za-z0-9_-]{1,128}. */
bool is_valid_key (const std::string &key);

}  // namespace wsrtmp
