/* One main() for every CppUnit test binary (test_main.cpp) and what a test
 * file may hook into it.
 *
 * Running: with no argument, every test of the binary; with one, the test
 * of that name ("testFoo" or "Suite::testFoo"). A name that is not a test
 * of this binary exits 77, meson's "skipped", so `meson test --suite
 * service --test-args testFoo` runs testFoo wherever it lives. A test that
 * cannot run here calls skip_test_binary() (exit 77 with the reason).
 * Tests in BY_HAND_REGISTRY run only when named.
 *
 * Leaks: a GstObject a test leaves alive, in this process (gst_leak_check)
 * or in a daemon it ran (report_leak), fails that test; the binary then runs
 * that test again alone with the leaks tracer's creation stacks (too slow
 * for every run) and prints what it says.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <cppunit/TestListener.h>

#include <functional>
#include <string>

namespace wsrtmp::test {

/* The CppUnit registry of tests that run only when named on the command
 * line (CPPUNIT_TEST_SUITE_NAMED_REGISTRATION): soaks, by hand. */
constexpr const char *BY_HAND_REGISTRY = "by-hand";

/* Runs before the tests are made (fixtures are built then): gst_init. Call
 * from a static initializer. */
void add_test_init (std::function<void (int *argc, char ***argv)> init);
/* Told about every test before the runner's own listener, so a leak it
 * reports (report_leak) from endTest fails that test. Static initializer
 * too; the listener lives as long as the process. */
void add_test_listener (CppUnit::TestListener *listener);

/* A leak (objects' types and names; in the run again, where each was made):
 * the running test fails with it. Any thread. */
void report_leak (const std::string &text);

/* Ends the whole binary as "skipped" (exit 77), saying why. For by-hand
 * tests (soaks) run without their settings. */
[[noreturn]] void skip_test_binary (const std::string &why);

}  // namespace wsrtmp::test
