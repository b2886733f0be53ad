/* Runs fuzz_ingest's LLVMFuzzerTestOneInput once on each input file: the
 * regression test in the normal suite (no libFuzzer, any compiler).
 *
 *   fuzz_ingest_replay FILE|DIR...   (directories: every file in them, sorted;
 *                                     README* and dot files are skipped)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <glib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerInitialize (int *argc, char ***argv);
extern "C" int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char **argv)
{
  /* A pipeline that neither ends nor fails is a regression too. */
  g_setenv ("FUZZ_INGEST_ABORT_ON_HANG", "1", FALSE);
  LLVMFuzzerInitialize (&argc, &argv);
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) {
    if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR)) {
      files.push_back (argv[i]);
      continue;
    }
    GDir *dir = g_dir_open (argv[i], 0, nullptr);
    if (!dir) {
      fprintf (stderr, "cannot open %s\n", argv[i]);
      return 1;
    }
    std::vector<std::string> in_dir;
    while (const char *name = g_dir_read_name (dir)) {
      if (name[0] == '.' || g_str_has_prefix (name, "README"))
        continue;
      in_dir.push_back (std::string (argv[i]) + "/" + name);
    }
    g_dir_close (dir);
    std::sort (in_dir.begin (), in_dir.end ());
    files.insert (files.end (), in_dir.begin (), in_dir.end ());
  }
  for (const std::string &file : files) {
    gchar *contents;
    gsize length;
    if (!g_file_get_contents (file.c_str (), &contents, &length, nullptr)) {
      fprintf (stderr, "cannot read %s\n", file.c_str ());
      return 1;
    }
    printf ("%s (%zu bytes) ...", file.c_str (), (size_t) length);
    fflush (stdout);
    gint64 start = g_get_monotonic_time ();
    LLVMFuzzerTestOneInput (reinterpret_cast<const uint8_t *> (contents),
        length);
    printf (" ok, %.0f ms\n", (g_get_monotonic_time () - start) / 1000.0);
    g_free (contents);
  }
  printf ("%zu inputs replayed\n", files.size ());
  return 0;
}
