/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "background_jobs.h"

#include <condition_variable>
#include <mutex>

namespace wsrtmp {

struct BackgroundJobs::Shared {
  std::mutex lock;
  std::condition_variable idle;
  int running = 0;
  /* Main context only: cleared when the owner goes away. */
  BackgroundJobs *owner = nullptr;
};

namespace {

void
free_shared_ref (gpointer data)
{
  delete static_cast<std::shared_ptr<BackgroundJobs::Shared> *> (data);
}

}  // namespace

struct BackgroundJobs::Job {
  std::shared_ptr<Shared> shared;
  Work work;
  GMainContext *context;
};

BackgroundJobs::BackgroundJobs ()
    : shared_ (std::make_shared<Shared> ()),
      context_ (g_main_context_ref_thread_default ())
{
  shared_->owner = this;
}

BackgroundJobs::~BackgroundJobs ()
{
  shared_->owner = nullptr;
  wait ();
  g_main_context_unref (context_);
}

void
BackgroundJobs::run (GstElement *element, Work work)
{
  {
    std::lock_guard<std::mutex> guard (shared_->lock);
    shared_->running++;
  }
  gst_element_call_async (element, &BackgroundJobs::run_job,
      new Job { shared_, std::move (work), context_ },
      &BackgroundJobs::free_job);
}

void
BackgroundJobs::run_job (GstElement *element, gpointer data)
{
  auto *job = static_cast<Job *> (data);
  job->work (element);
  /* What the work captured goes now, before the owner may be told. */
  job->work = nullptr;
  {
    std::lock_guard<std::mutex> guard (job->shared->lock);
    job->shared->running--;
  }
  job->shared->idle.notify_all ();
  post_done (job->context, job->shared);
}

/* Always through an idle source, even from the main thread: the owner is
 * never called back from inside one of its own calls. */
void
BackgroundJobs::post_done (GMainContext *context,
    const std::shared_ptr<Shared> &shared)
{
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, &BackgroundJobs::on_job_done,
      new std::shared_ptr<Shared> (shared), free_shared_ref);
  g_source_attach (source, context);
  g_source_unref (source);
}

void
BackgroundJobs::free_job (gpointer data)
{
  delete static_cast<Job *> (data);
}

gboolean
BackgroundJobs::on_job_done (gpointer data)
{
  auto &shared = *static_cast<std::shared_ptr<Shared> *> (data);
  if (shared->owner)
    shared->owner->notify_if_idle ();
  return G_SOURCE_REMOVE;
}

void
BackgroundJobs::when_idle (std::function<void ()> done)
{
  waiters_.push_back (std::move (done));
  if (!busy ())
    post_done (context_, shared_);
}

void
BackgroundJobs::notify_if_idle ()
{
  if (busy () || waiters_.empty ())
    return;
  /* A waiter may destroy us: take them first, touch nothing after. */
  auto waiters = std::move (waiters_);
  waiters_.clear ();
  for (auto &done : waiters)
    done ();
}

void
BackgroundJobs::wait ()
{
  std::unique_lock<std::mutex> guard (shared_->lock);
  shared_->idle.wait (guard, [this] { return shared_->running == 0; });
}

bool
BackgroundJobs::busy () const
{
  std::lock_guard<std::mutex> guard (shared_->lock);
  return shared_->running > 0;
}

}  // namespace wsrtmp
