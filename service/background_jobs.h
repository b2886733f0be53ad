/* Work that would hold the main loop every client shares: a state change
 * to NULL (it joins streaming threads and closes sockets), pushing kept
 * data into a sink that waits for the network. Each job runs on
 * GStreamer's shared thread pool (gst_element_call_async) and reports back
 * on the main context it was queued from; the owner learns there once all
 * its jobs are done and only then releases what they used.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <vector>

namespace wsrtmp {

class BackgroundJobs {
 public:
  using Work = std::function<void (GstElement *)>;

  BackgroundJobs ();
  /* Waits for jobs still running (only an owner destroyed before its jobs
   * finished, at process exit, blocks here); their completions are then
   * dropped. */
  ~BackgroundJobs ();
  BackgroundJobs (const BackgroundJobs &) = delete;
  BackgroundJobs &operator= (const BackgroundJobs &) = delete;

  /* Runs work (element) on the pool; element is kept alive until then. */
  void run (GstElement *element, Work work);
  /* done runs on the main context once no job is left (from an idle
   * callback even when none is running now, never from inside this call). */
  void when_idle (std::function<void ()> done);
  /* Blocks until no job is left. */
  void wait ();
  bool busy () const;

  struct Shared;

 private:
  struct Job;
  static void post_done (GMainContext *context,
      const std::shared_ptr<Shared> &shared);
  static void run_job (GstElement *element, gpointer job);
  static void free_job (gpointer job);
  static gboolean on_job_done (gpointer shared);
  void notify_if_idle ();

  std::shared_ptr<Shared> shared_;
  std::vector<std::function<void ()>> waiters_;
  GMainContext *context_;
};

}  // namespace wsrtmp
