/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "option_table.h"

namespace wsrtmp {

OptionTable::OptionTable (std::vector<Option> options)
    : options_ (std::move (options)),
      strings_ (options_.size (), nullptr),
      flags_ (options_.size (), FALSE), lists_ (options_.size (), nullptr)
{
}

OptionTable::~OptionTable ()
{
  for (char *text : strings_)
    g_free (text);
  for (char **list : lists_)
    g_strfreev (list);
}

bool
OptionTable::parse (GOptionContext *context, int *argc, char ***argv,
    std::string &error)
{
  /* Reserved once: GOption keeps pointers into these. */
  help_texts_.reserve (options_.size ());
  entries_.reserve (options_.size () + 1);
  for (size_t i = 0; i < options_.size (); i++) {
    const Option &option = options_[i];
    const std::string &shown = option.default_help.empty () ?
        option.default_value : option.default_help;
    help_texts_.push_back (std::string (option.help) +
        (shown.empty () ? "" : " (default: " + shown + ")"));
    GOptionEntry entry = { option.name, option.short_name, 0,
      G_OPTION_ARG_NONE, &flags_[i], help_texts_.back ().c_str (),
      option.arg_description };
    if (option.type == Option::Type::List) {
      entry.arg = G_OPTION_ARG_STRING_ARRAY;
      entry.arg_data = &lists_[i];
    } else if (option.type != Option::Type::Flag) {
      entry.arg = option.type == Option::Type::File ? G_OPTION_ARG_FILENAME :
          G_OPTION_ARG_STRING;
      entry.arg_data = &strings_[i];
    }
    entries_.push_back (entry);
  }
  entries_.push_back ({ nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr,
        nullptr });
  g_option_context_add_main_entries (context, entries_.data (), nullptr);

  g_autoptr (GError) gerror = nullptr;
  if (!g_option_context_parse (context, argc, argv, &gerror)) {
    error = gerror->message;
    return false;
  }
  for (size_t i = 0; i < options_.size (); i++) {
    if (strings_[i])
      given_[options_[i].name] = strings_[i];
    else if (lists_[i]) {
      g_autofree char *joined = g_strjoinv (";", lists_[i]);
      given_[options_[i].name] = joined;
    }
    else if (flags_[i])
      given_[options_[i].name] = "true";
  }
  return true;
}

bool
OptionTable::read_file (const std::string &path, const char *group,
    std::string &error)
{
  const std::string where = "--config " + path + ": ";
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) gerror = nullptr;
  if (!g_key_file_load_from_file (file, path.c_str (), G_KEY_FILE_NONE,
          &gerror)) {
    error = where + gerror->message;
    return false;
  }
  if (!g_key_file_has_group (file, group)) {
    error = where + "no [" + group + "] group";
    return false;
  }
  g_auto (GStrv) keys = g_key_file_get_keys (file, group, nullptr, nullptr);
  for (char **key = keys; key && *key; key++) {
    const Option *option = nullptr;
    for (const auto &candidate : options_) {
      if (candidate.in_file && g_str_equal (candidate.name, *key))
        option = &candidate;
    }
    if (!option) {
      error = where + "unknown key \"" + *key + "\" in [" + group + "]";
      return false;
    }
    /* The command line wins. */
    if (given_.count (option->name))
      continue;
    if (option->type == Option::Type::Flag) {
      gboolean on = g_key_file_get_boolean (file, group, *key, &gerror);
      if (gerror) {
        error = where + *key + ": " + gerror->message;
        return false;
      }
      given_[option->name] = on ? "true" : "false";
    } else {
      g_autofree char *text = g_key_file_get_string (file, group, *key,
          nullptr);
      given_[option->name] = text ? g_strstrip (text) : "";
    }
  }
  return true;
}

bool
OptionTable::apply (std::string &error) const
{
  for (const auto &option : options_) {
    if (!option.store)
      continue;
    const std::string *given = value (option.name);
    if (given) {
      if (!option.store (*given, error))
        return false;
    } else if (option.type == Option::Type::Flag) {
      if (!option.store (option.default_value.empty () ? "false" :
              option.default_value, error))
        return false;
    } else if (!option.default_value.empty ()) {
      if (!option.store (option.default_value, error))
        return false;
    }
  }
  return true;
}

const std::string *
OptionTable::value (const char *name) const
{
  auto found = given_.find (name);
  return found == given_.end () ? nullptr : &found->second;
}

}  // namespace wsrtmp
