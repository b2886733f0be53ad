/* The main() every CppUnit test binary links (test_main.h says how it runs).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test_main.h"

#include <cppunit/Exception.h>
#include <cppunit/TestResult.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>
#include <glib.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace wsrtmp::test {

namespace {

struct Hooks {
  std::vector<std::function<void (int *, char ***)>> inits;
  std::vector<CppUnit::TestListener *> listeners;
};

Hooks &
hooks ()
{
  static Hooks instance;
  return instance;
}

std::mutex leaks_lock;
std::vector<std::string> pending_leaks;   /* guarded by leaks_lock */
/* Tests that failed for leaks (main thread only). */
std::vector<std::string> leaking_tests;

/* Set in the environment of a run again with the leaks tracer's creation
 * stacks (they cost a stack walk per object made: 70 % more time, so only
 * once a test leaked). */
constexpr const char *STACKS_RUN = "WSRTMP_TEST_LEAK_STACKS";
constexpr const char *TRACERS_WITH_STACKS =
    "leaks(filters=\"GstObject\",stack-traces-flags=full)";

/* Prints each test's name and time as it ends (a log that says which test
 * a daemon's lines belong to), and fails a test with the leaks reported
 * while it ran. */
class RunListener : public CppUnit::TestListener {
 public:
  void startTestRun (CppUnit::Test *, CppUnit::TestResult *result) override
  {
    result_ = result;
  }
  void startTest (CppUnit::Test *test) override
  {
    started_ = std::chrono::steady_clock::now ();
    g_print ("%s ...\n", test->getName ().c_str ());
  }
  void endTest (CppUnit::Test *test) override
  {
    std::vector<std::string> leaks;
    {
      std::lock_guard<std::mutex> guard (leaks_lock);
      leaks.swap (pending_leaks);
    }
    for (const auto &leak : leaks)
      result_->addFailure (test, new CppUnit::Exception (
              CppUnit::Message ("leaked objects", leak)));
    if (!leaks.empty ())
      leaking_tests.push_back (test->getName ());
    double seconds = std::chrono::duration<double> (
        std::chrono::steady_clock::now () - started_).count ();
    g_print ("%s: %.1f s\n", test->getName ().c_str (), seconds);
  }

 private:
  CppUnit::TestResult *result_ = nullptr;
  std::chrono::steady_clock::time_point started_;
};

/* The test named on the command line: its full name, or "" when this
 * binary has none of that name. */
std::string
find_test (CppUnit::Test *all, const std::string &name)
{
  try {
    return all->findTest (name)->getName ();
  } catch (const std::invalid_argument &) {
  }
  const std::string suffix = "::" + name;
  for (int i = 0; i < all->getChildTestCount (); i++) {
    std::string found = find_test (all->getChildTestAt (i), name);
    if (!found.empty ())
      return found;
  }
  std::string own = all->getName ();
  if (own.size () > suffix.size () &&
      own.compare (own.size () - suffix.size (), suffix.size (), suffix) == 0)
    return own;
  return "";
}

/* Runs each test that leaked again, alone, with the objects' creation
 * stacks, and prints what it says. */
void
rerun_with_stacks (const char *self)
{
  if (g_getenv (STACKS_RUN) || !g_getenv ("GST_TRACERS"))
    return;
  g_auto (GStrv) env = g_get_environ ();
  env = g_environ_setenv (env, "GST_TRACERS", TRACERS_WITH_STACKS, TRUE);
  env = g_environ_setenv (env, STACKS_RUN, "1", TRUE);
  size_t runs = std::min<size_t> (leaking_tests.size (), 3);
  for (size_t i = 0; i < runs; i++) {
    const std::string &name = leaking_tests[i];
    g_print ("\n--- %s leaked: again, with where each object was made ---\n",
        name.c_str ());
    const char *argv[] = { self, name.c_str (), nullptr };
    g_autofree char *out = nullptr;
    g_autoptr (GError) error = nullptr;
    if (!g_spawn_sync (nullptr, const_cast<char **> (argv), env,
            G_SPAWN_STDERR_TO_DEV_NULL, nullptr, nullptr, &out, nullptr,
            nullptr, &error))
      g_print ("(could not run it: %s)\n", error->message);
    else
      g_print ("%s", out);
  }
}

}  // namespace

void
add_test_init (std::function<void (int *, char ***)> init)
{
  hooks ().inits.push_back (std::move (init));
}

void
add_test_listener (CppUnit::TestListener *listener)
{
  hooks ().listeners.push_back (listener);
}

void
report_leak (const std::string &text)
{
  std::lock_guard<std::mutex> guard (leaks_lock);
  pending_leaks.push_back (text);
}

void
skip_test_binary (const std::string &why)
{
  g_print ("skipped: %s\n", why.c_str ());
  fflush (stdout);
  exit (77);
}

}  // namespace wsrtmp::test

int
main (int argc, char **argv)
{
  using namespace wsrtmp::test;
  /* A peer that went away must fail a write, not kill the test. */
  signal (SIGPIPE, SIG_IGN);
  for (auto &init : hooks ().inits)
    init (&argc, &argv);

  CppUnit::Test *all = CppUnit::TestFactoryRegistry::getRegistry ().makeTest ();
  std::string name;
  if (argc > 1) {
    name = find_test (all, argv[1]);
    if (name.empty ()) {
      /* Tests run by hand (soaks) are made only when named. */
      delete all;
      all = CppUnit::TestFactoryRegistry::getRegistry (BY_HAND_REGISTRY).
          makeTest ();
      name = find_test (all, argv[1]);
    }
    if (name.empty ()) {
      g_print ("%s is not a test here: skipped\n", argv[1]);
      delete all;
      return 77;
    }
  }
  CppUnit::TextUi::TestRunner runner;
  runner.addTest (all);
  /* The hooks first: they report leaks the run listener then charges. */
  for (auto *listener : hooks ().listeners)
    runner.eventManager ().addListener (listener);
  RunListener run_listener;
  runner.eventManager ().addListener (&run_listener);
  bool ok = runner.run (name, false, true, false);
  rerun_with_stacks (argv[0]);
  return ok ? 0 : 1;
}
