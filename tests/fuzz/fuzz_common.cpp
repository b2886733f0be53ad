/* See fuzz_common.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "fuzz_common.h"

#include <gst/gst.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fuzz {

gint64 timeout_us = 10 * G_USEC_PER_SEC;
bool verbose = false;

namespace {

const char *target_name = "fuzz";
bool user_gst_debug = false;

#ifdef WSRTMP_LIBFUZZER
/* libFuzzer reads every counter in this section as coverage. */
constexpr gsize EXTRA_COUNTERS = 1 << 16;
__attribute__ ((used, section ("__libfuzzer_extra_counters")))
guint8 extra_counters[EXTRA_COUNTERS];

/* Where the previous debug statement was, AFL-style: a feature is the pair
 * (previous, current), so the order matters, not only the set. Racy across
 * streaming threads, which only blurs a feature. */
guint32 previous_location;

void
count_debug_statement (GstDebugCategory *, GstDebugLevel, const gchar *file,
    const gchar *, gint line, GObject *, GstDebugMessage *, gpointer)
{
  /* file is a string constant in the element's library: its address is
   * stable for the life of the process. */
  guint32 location = (guint32) (GPOINTER_TO_SIZE (file) * 2654435761u) ^
      (guint32) line * 40503u;
  guint32 edge = location ^ previous_location;
  extra_counters[edge % EXTRA_COUNTERS]++;
  previous_location = location >> 1;
}

const char *traced_glib_domain = nullptr;

/* A debug message of the traced domain: its text is the location, with
 * the digits left out (lengths and counts) and up to the first ':' or '\''
 * (what follows is often the peer's own bytes, e.g. a close reason, which
 * would make every input look new). */
void
count_debug_message (const char *message)
{
  guint32 location = 2166136261u;
  for (const char *c = message; *c && *c != ':' && *c != '\''; c++)
    if (!g_ascii_isdigit (*c))
      location = (location ^ (guint8) *c) * 16777619u;
  guint32 edge = location ^ previous_location;
  extra_counters[edge % EXTRA_COUNTERS]++;
  previous_location = location >> 1;
}

bool
count_if_traced (GLogLevelFlags level, const GLogField *fields, gsize n_fields)
{
  if (!traced_glib_domain || !(level & G_LOG_LEVEL_DEBUG))
    return false;
  const char *domain = nullptr, *message = nullptr;
  for (gsize i = 0; i < n_fields; i++) {
    if (fields[i].length >= 0)
      continue;
    if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = static_cast<const char *> (fields[i].value);
    else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = static_cast<const char *> (fields[i].value);
  }
  if (g_strcmp0 (domain, traced_glib_domain) != 0 || !message)
    return false;
  count_debug_message (message);
  return true;
}
#endif
bool abort_on_hang = false;
bool fatal_criticals = true;
bool fatal_known_defects = false;

/* Criticals raised inside GStreamer's own elements on bad input, not by
 * wsrtmp: reported, not fatal (see tests/fuzz/regressions/README.md). */
const char *const upstream_criticals[] = {
  /* matroskademux (1.22.0) posts an element message with a non-element
   * (push mode, corrupt EBML): crash-79b183228afa77aad7da091733adb227c5216e52 */
  "gst_element_message_full_with_details: assertion 'GST_IS_ELEMENT (element)' failed",
  /* The same, when its debug log is on (GST_DEBUG=*:2). */
  "gst_debug_log_full_valist: assertion 'id != NULL || object == NULL || G_IS_OBJECT (object)' failed",
  /* qtdemux (libgstisomp4, 1.22.0) on a corrupt fragmented MP4 (the stack
   * goes gst_pad_push -> libgstisomp4 -> gst_caps_get_structure):
   * upstream-qtdemux-caps-critical-a3b6e049 */
  "gst_caps_get_structure: assertion 'GST_IS_CAPS (caps)' failed",
  /* ... and right after it, with the structure it did not get. */
  "gst_structure_get_int: assertion 'structure != NULL' failed",
  /* matroskademux (1.22.0) on a track entry whose type changes:
   * regressions/demux/upstream-matroskademux-track-type-critical-6d88c016 */
  "(gst_matroska_track_init_video_context): should not be reached",
  /* ... and its audio twin:
   * regressions/demux/upstream-matroskademux-audio-track-type-critical-5cec055d */
  "(gst_matroska_track_init_audio_context): should not be reached",
};

GLogWriterOutput
abort_on_critical (GLogLevelFlags level, const GLogField *fields,
    gsize n_fields, gpointer)
{
#ifdef WSRTMP_LIBFUZZER
  if (count_if_traced (level, fields, n_fields))
    return G_LOG_WRITER_HANDLED;        /* counted, not printed */
#endif
  GLogWriterOutput ret = g_log_writer_default (
      GLogLevelFlags (level & ~G_LOG_FLAG_FATAL), fields, n_fields, nullptr);
  if (!fatal_criticals ||
      !(level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)))
    return ret;
  for (gsize i = 0; i < n_fields; i++) {
    if (g_strcmp0 (fields[i].key, "MESSAGE") != 0 || fields[i].length >= 0)
      continue;
    for (const char *known : upstream_criticals)
      if (strstr (static_cast<const char *> (fields[i].value), known))
        return ret;
  }
  abort ();
}

}  // namespace

void
init (const char *target)
{
  target_name = target;
  /* Load the plugin in this process: the registry scanner is a separate,
   * unsanitized program, which cannot load a sanitized plugin. */
  g_setenv ("GST_REGISTRY_FORK", "no", FALSE);
#ifdef WSRTMP_PLUGIN_BUILD_DIR
  g_setenv ("GST_PLUGIN_PATH", WSRTMP_PLUGIN_BUILD_DIR, FALSE);
#endif
#ifdef WSRTMP_FUZZ_REGISTRY
  g_setenv ("GST_REGISTRY", WSRTMP_FUZZ_REGISTRY, FALSE);
#endif
  user_gst_debug = g_getenv ("GST_DEBUG") != nullptr;
  g_setenv ("GST_DEBUG", "0", FALSE);
  if (const char *t = g_getenv ("FUZZ_INGEST_TIMEOUT_MS"))
    timeout_us = g_ascii_strtoll (t, nullptr, 10) * 1000;
  abort_on_hang = g_strcmp0 (g_getenv ("FUZZ_INGEST_ABORT_ON_HANG"), "1") == 0;
  verbose = g_strcmp0 (g_getenv ("FUZZ_INGEST_VERBOSE"), "1") == 0;
  fatal_known_defects =
      g_strcmp0 (g_getenv ("FUZZ_KNOWN_DEFECTS_FATAL"), "1") == 0;
  /* A critical is a programming error: in our code, a bug to report. GLib's
   * own fatal criticals raise SIGTRAP, which libFuzzer does not catch: abort
   * instead, so the input is saved and the sanitizer prints the stack. */
  fatal_criticals =
      g_strcmp0 (g_getenv ("FUZZ_INGEST_FATAL_CRITICALS"), "0") != 0;
  g_log_set_writer_func (abort_on_critical, nullptr, nullptr);
  /* G_DEBUG=fatal-criticals (the test environment) would trap first. */
  g_log_set_always_fatal (GLogLevelFlags (G_LOG_FATAL_MASK));
  gst_init (nullptr, nullptr);
  GstPlugin *plugin = gst_plugin_load_by_name ("wsrtmp");
  if (!plugin) {
    fprintf (stderr, "%s: cannot load the wsrtmp plugin (GST_PLUGIN_PATH=%s)\n",
        target_name, g_getenv ("GST_PLUGIN_PATH"));
    abort ();
  }
  gst_object_unref (plugin);
}

void
trace_gst_debug (const char *patterns)
{
#ifdef WSRTMP_LIBFUZZER
  if (user_gst_debug)
    return;
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (count_debug_statement, nullptr, nullptr);
  gst_debug_set_threshold_from_string (patterns, TRUE);
#else
  (void) patterns;
#endif
}

void
trace_glib_debug (const char *domain)
{
#ifdef WSRTMP_LIBFUZZER
  if (g_getenv ("G_MESSAGES_DEBUG"))
    return;                     /* a debugging session */
  /* GLib drops debug messages of domains not listed here before any
   * writer sees them. */
  g_setenv ("G_MESSAGES_DEBUG", domain, TRUE);
  traced_glib_domain = domain;
#else
  (void) domain;
#endif
}

void
hang (const char *what)
{
  fprintf (stderr, "%s: no EOS or error within %" G_GINT64_FORMAT " ms (%s)\n",
      target_name, timeout_us / 1000, what);
  if (abort_on_hang)
    abort ();
}

void
fail (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  fprintf (stderr, "%s: invariant broken: ", target_name);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  abort ();
}

void
known_defect (const char *id, const char *format, ...)
{
  static GHashTable *reported = g_hash_table_new (g_str_hash, g_str_equal);
  if (!fatal_known_defects && g_hash_table_contains (reported, id))
    return;
  g_hash_table_add (reported, const_cast<char *> (id));
  va_list args;
  va_start (args, format);
  fprintf (stderr, "%s: known defect %s: ", target_name, id);
  vfprintf (stderr, format, args);
  fprintf (stderr, fatal_known_defects ? "\n" :
      " (reported once; FUZZ_KNOWN_DEFECTS_FATAL=1 makes it fatal)\n");
  va_end (args);
  if (fatal_known_defects)
    abort ();
}

void
note (const char *format, ...)
{
  if (!verbose)
    return;
  va_list args;
  va_start (args, format);
  fprintf (stderr, "%s: ", target_name);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
}

}  // namespace fuzz
