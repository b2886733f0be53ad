/* Media::stop_async (service/media.h) and the BackgroundJobs under it: a
 * pipeline whose teardown has to wait (a streaming thread still busy) must
 * not hold the caller's main loop, and the owner hears back there, once
 * the pipeline is down, or never if it went away first.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "joiner.h"
#include "media.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using wsrtmp::test::Joiner;

namespace {

/* Holds the sink's streaming thread inside its first buffer until
 * released (or, so that a broken build fails instead of hanging, until a
 * watchdog gives up after 5 s). set_state (NULL) waits for that thread. */
struct Hold {
  std::mutex lock;
  std::condition_variable cond;
  bool entered = false;
  bool released = false;
  bool watchdog_fired = false;

  void release ()
  {
    std::lock_guard<std::mutex> guard (lock);
    released = true;
    cond.notify_all ();
  }
  /* Releases after timeout unless someone else did first. */
  void watchdog (std::chrono::milliseconds timeout)
  {
    std::unique_lock<std::mutex> guard (lock);
    if (!cond.wait_for (guard, timeout, [this] { return released; })) {
      watchdog_fired = true;
      released = true;
      cond.notify_all ();
    }
  }
  bool wait_entered ()
  {
    std::unique_lock<std::mutex> guard (lock);
    return cond.wait_for (guard, 10s, [this] { return entered; });
  }
};

GstPadProbeReturn
hold_buffer (GstPad *, GstPadProbeInfo *, gpointer data)
{
  auto *hold = static_cast<Hold *> (data);
  std::unique_lock<std::mutex> guard (hold->lock);
  hold->entered = true;
  hold->cond.notify_all ();
  hold->cond.wait (guard, [hold] { return hold->released; });
  return GST_PAD_PROBE_OK;
}

/* A playing pipeline whose sink thread is held. */
std::unique_ptr<wsrtmp::Media>
held_media (Hold &hold)
{
  GstElement *pipeline = gst_parse_launch (
      "fakesrc sizetype=fixed sizemax=100 ! fakesink name=sink sync=false",
      nullptr);
  g_assert (pipeline);
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline),
      "sink");
  g_autoptr (GstPad) pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, hold_buffer, &hold,
      nullptr);
  auto media = std::make_unique<wsrtmp::Media> (pipeline,
      std::make_shared<wsrtmp::MediaCounters> ());
  CPPUNIT_ASSERT (media->play ());
  CPPUNIT_ASSERT (hold.wait_entered ());
  return media;
}

/* Runs the default main context until done() or timeout. */
template <typename Done>
bool
iterate_until (Done done, std::chrono::milliseconds timeout)
{
  auto until = std::chrono::steady_clock::now () + timeout;
  while (!done () && std::chrono::steady_clock::now () < until) {
    if (!g_main_context_iteration (nullptr, FALSE))
      std::this_thread::sleep_for (5ms);
  }
  return done ();
}

}  // namespace

class MediaStopTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (MediaStopTest);
  CPPUNIT_TEST (test_stop_does_not_block_the_caller);
  CPPUNIT_TEST (test_destroyed_while_stopping);
  CPPUNIT_TEST (test_when_idle_without_jobs_is_never_reentrant);
  CPPUNIT_TEST_SUITE_END ();

 public:
  void test_stop_does_not_block_the_caller ()
  {
    Hold hold;
    auto media = held_media (hold);
    std::thread watchdog ([&] { hold.watchdog (5s); });
    Joiner join_watchdog (watchdog);
    bool stopped = false;
    media->stop_async ([&] { stopped = true; });
    /* Back at once, the streaming thread still held. */
    {
      std::lock_guard<std::mutex> guard (hold.lock);
      CPPUNIT_ASSERT_MESSAGE ("stop_async waited for the pipeline",
          !hold.watchdog_fired);
    }
    /* The caller's loop runs meanwhile; not reported stopped yet. */
    iterate_until ([] { return false; }, 200ms);
    CPPUNIT_ASSERT (!stopped);
    hold.release ();
    CPPUNIT_ASSERT (iterate_until ([&] { return stopped; }, 10s));
    GstState state;
    gst_element_get_state (media->pipeline (), &state, nullptr, 0);
    CPPUNIT_ASSERT_EQUAL (GST_STATE_NULL, state);
    watchdog.join ();
    CPPUNIT_ASSERT (!hold.watchdog_fired);
  }

  /* The owner went away first (process exit): the Media waits for its
   * job, and nobody is called back. */
  void test_destroyed_while_stopping ()
  {
    Hold hold;
    auto media = held_media (hold);
    std::thread releaser ([&] { hold.watchdog (300ms); });
    Joiner join_releaser (releaser);
    bool stopped = false;
    media->stop_async ([&] { stopped = true; });
    media.reset ();
    {
      std::lock_guard<std::mutex> guard (hold.lock);
      CPPUNIT_ASSERT (hold.released);
    }
    iterate_until ([] { return false; }, 200ms);
    CPPUNIT_ASSERT (!stopped);
    releaser.join ();
  }

  /* No job: done still comes from the main loop, not from inside the
   * call (the caller may destroy the owner from it). */
  void test_when_idle_without_jobs_is_never_reentrant ()
  {
    wsrtmp::BackgroundJobs jobs;
    bool done = false;
    jobs.when_idle ([&] { done = true; });
    CPPUNIT_ASSERT (!done);
    CPPUNIT_ASSERT (iterate_until ([&] { return done; }, 5s));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (MediaStopTest);
