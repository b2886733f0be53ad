/* One table of options drives the command line (GOption), the INI file
 * behind --config, the defaults, the validation and --help: an option is
 * written once, as an Option, and nowhere else.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace wsrtmp {

struct Option {
  /* List: may be given several times on the command line; the values
   * reach store joined with ';' (the file gives a ';' list itself). */
  enum class Type { Text, File, Flag, List };
  /* Checks a value (given, or the default) and stores it; on a bad value
   * returns false with a message that names the option. Flags get "true"
   * or "false". */
  using Store = std::function<bool (const std::string &value,
      std::string &error)>;

  const char *name;             /* long option, and the key in the file */
  char short_name;              /* 0: none */
  Type type;
  const char *arg_description;  /* "N", "FILE", ...; nullptr for flags */
  const char *help;             /* --help adds " (default: ...)" */
  /* Stored when the option is not given at all ("" with no default_help:
   * nothing is stored). */
  std::string default_value;
  /* What --help says the default is, when not default_value itself. */
  std::string default_help;
  Store store;                  /* nullptr: read with value () instead */
  bool in_file = true;          /* may appear in the --config file */
};

class OptionTable {
 public:
  explicit OptionTable (std::vector<Option> options);
  ~OptionTable ();
  OptionTable (const OptionTable &) = delete;
  OptionTable &operator= (const OptionTable &) = delete;

  /* Adds the table as context's main group (help texts with their
   * defaults) and parses argv with it. */
  bool parse (GOptionContext *context, int *argc, char ***argv,
      std::string &error);
  /* After the command line was parsed: the [group] of the INI file at path
   * fills in what the command line left out. Unknown keys are an error. */
  bool read_file (const std::string &path, const char *group,
      std::string &error);
  /* Stores every option with a store function, in table order: the value
   * given, otherwise the default. Stops at the first bad value. */
  bool apply (std::string &error) const;

  /* The value given on the command line or in the file, nullptr if none
   * (flags: "true" or "false"). */
  const std::string *value (const char *name) const;
  bool given (const char *name) const { return value (name) != nullptr; }

 private:
  std::vector<Option> options_;
  /* GOption's storage: one string or flag per option, kept in place. */
  std::vector<char *> strings_;
  std::vector<gboolean> flags_;
  std::vector<char **> lists_;
  std::vector<std::string> help_texts_;
  std::vector<GOptionEntry> entries_;
  std::map<std::string, std::string> given_;
};

}  // namespace wsrtmp
