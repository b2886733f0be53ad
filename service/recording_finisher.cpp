/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"
#include "recording_finisher.h"

#include "util.h"

#include <glib/gstdio.h>
#include <gst/gst.h>

#include <cerrno>
#include <mutex>

namespace wsrtmp {

namespace {

/* A remux that takes longer is stuck (an hour's segment is a few GB read
 * and written once). */
constexpr GstClockTime REMUX_TIMEOUT = 30 * 60 * GST_SECOND;

/* qtdemux ends its segment at the file's duration, which a fragmented
 * MP4 counts in decoding time: the last frames of H.264 whose
 * presentation runs later (Chromium's does, by 70 ms) would be dropped
 * as out of segment. Open-ended instead: every sample is kept. */
GstPadProbeReturn
open_segment_end (GstPad *, GstPadProbeInfo *info, gpointer)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_SEGMENT)
    return GST_PAD_PROBE_OK;
  const GstSegment *segment = nullptr;
  gst_event_parse_segment (event, &segment);
  GstSegment open = *segment;
  open.stop = GST_CLOCK_TIME_NONE;
  GstEvent *replaced = gst_event_new_segment (&open);
  gst_event_set_seqnum (replaced, gst_event_get_seqnum (event));
  gst_event_unref (event);
  GST_PAD_PROBE_INFO_DATA (info) = replaced;
  return GST_PAD_PROBE_OK;
}

/* qtdemux's pads as they come: each through a queue into the muxer's
 * pad of the same kind. */
void
link_demuxed (GstElement *demux, GstPad *pad, gpointer mux_data)
{
  auto *mux = static_cast<GstElement *> (mux_data);
  g_autoptr (GstObject) parent = gst_object_get_parent (GST_OBJECT (demux));
  GstElement *queue = gst_element_factory_make ("queue", nullptr);
  gst_bin_add (GST_BIN (parent), queue);
  gst_element_sync_state_with_parent (queue);
  g_autoptr (GstPad) queue_sink = gst_element_get_static_pad (queue, "sink");
  g_autoptr (GstPad) queue_src = gst_element_get_static_pad (queue, "src");
  const char *kind = g_str_has_prefix (GST_PAD_NAME (pad), "video") ?
      "video_%u" : "audio_%u";
  g_autoptr (GstPad) mux_pad = gst_element_request_pad_simple (mux, kind);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      open_segment_end, nullptr, nullptr);
  if (!mux_pad || gst_pad_link (pad, queue_sink) != GST_PAD_LINK_OK ||
      gst_pad_link (queue_src, mux_pad) != GST_PAD_LINK_OK)
    GST_ELEMENT_ERROR (demux, CORE, NEGOTIATION, (nullptr),
        ("cannot link %s to the muxer", GST_PAD_NAME (pad)));
}

}  // namespace

struct RecordingFinisher::Shared {
  std::mutex lock;
  size_t pending = 0;                   /* guarded by lock */
  GMainContext *context = nullptr;      /* the owner's; set once */
  /* Main context only: cleared when the owner goes away (a remux that
   * ends after that reports to no one). */
  RecordingFinisher *owner = nullptr;
};

namespace {

struct Job {
  std::string path, shown;
  std::function<void (bool)> done;
  std::shared_ptr<RecordingFinisher::Shared> shared;
  bool finalised = false;
};

}  // namespace

RecordingFinisher::RecordingFinisher ()
    : shared_ (std::make_shared<Shared> ())
{
  shared_->context = g_main_context_ref_thread_default ();
  shared_->owner = this;
  pool_ = g_thread_pool_new (&RecordingFinisher::run_job, nullptr, 1, FALSE,
      nullptr);
}

RecordingFinisher::~RecordingFinisher ()
{
  /* The job under way ends; queued ones are dropped (their done
   * callbacks never run: the owner is gone). */
  shared_->owner = nullptr;
  if (idle_source_)
    g_source_remove (idle_source_);
  g_thread_pool_free (pool_, TRUE, TRUE);
  g_main_context_unref (shared_->context);
}

std::string
RecordingFinisher::part_path (const std::string &path)
{
  g_autofree char *dir = g_path_get_dirname (path.c_str ());
  g_autofree char *base = g_path_get_basename (path.c_str ());
  return std::string (dir) + "/." + base + ".part";
}

bool
RecordingFinisher::remux (const std::string &path, const std::string &part,
    std::string &error)
{
  g_autoptr (GstElement) pipeline = gst_pipeline_new ("finish-recording");
  GstElement *src = gst_element_factory_make ("filesrc", nullptr);
  GstElement *demux = gst_element_factory_make ("qtdemux", nullptr);
  GstElement *mux = gst_element_factory_make ("mp4mux", nullptr);
  GstElement *sink = gst_element_factory_make ("filesink", nullptr);
  if (!src || !demux || !mux || !sink) {
    error = "qtdemux, mp4mux, filesrc or filesink is missing";
    for (GstElement *made : { src, demux, mux, sink })
      if (made)
        gst_object_unref (gst_object_ref_sink (made));
    return false;
  }
  g_object_set (src, "location", path.c_str (), nullptr);
  g_object_set (sink, "location", part.c_str (), nullptr);
  gst_bin_add_many (GST_BIN (pipeline), src, demux, mux, sink, nullptr);
  gst_element_link (src, demux);
  gst_element_link (mux, sink);
  g_signal_connect (demux, "pad-added", G_CALLBACK (link_demuxed), mux);

  bool done = false;
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    error = "cannot start the remux";
  } else {
    g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
    g_autoptr (GstMessage) message = gst_bus_timed_pop_filtered (bus,
        REMUX_TIMEOUT, GstMessageType (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (!message) {
      error = "the remux took too long";
    } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) gerror = nullptr;
      gst_message_parse_error (message, &gerror, nullptr);
      error = gerror->message;
    } else {
      done = true;
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (done && g_rename (part.c_str (), path.c_str ()) != 0) {
    error = std::string ("cannot replace it: ") + g_strerror (errno);
    done = false;
  }
  if (!done)
    g_unlink (part.c_str ());
  return done;
}

void
RecordingFinisher::finish (const std::string &path, const std::string &shown,
    std::function<void (bool)> done)
{
  {
    std::lock_guard<std::mutex> guard (shared_->lock);
    shared_->pending++;
  }
  auto *job = new Job { path, shown, std::move (done), shared_ };
  g_thread_pool_push (pool_, job, nullptr);
}

void
RecordingFinisher::run_job (gpointer data, gpointer)
{
  auto *job = static_cast<Job *> (data);
  std::string error;
  gint64 start = g_get_monotonic_time ();
  job->finalised = remux (job->path, part_path (job->path), error);
  if (job->finalised)
    g_message ("finalised %s in %.1f s", job->shown.c_str (),
        (g_get_monotonic_time () - start) / 1e6);
  else
    g_warning ("%s stays fragmented MP4 (it plays; some editors want it "
        "remuxed): %s", job->shown.c_str (), error.c_str ());
  /* Back to the owner's thread; the pending count drops there, so that
   * when_idle's callers see every done callback run first. */
  GMainContext *context = job->shared->context;
  g_main_context_invoke_full (context, G_PRIORITY_DEFAULT,
      [] (gpointer data) -> gboolean {
        auto *job = static_cast<Job *> (data);
        {
          std::lock_guard<std::mutex> guard (job->shared->lock);
          job->shared->pending--;
        }
        if (RecordingFinisher *owner = job->shared->owner) {
          job->done (job->finalised);
          owner->check_idle ();
        }
        return G_SOURCE_REMOVE;
      }, job, delete_data<Job>);
}

size_t
RecordingFinisher::pending () const
{
  std::lock_guard<std::mutex> guard (shared_->lock);
  return shared_->pending;
}

void
RecordingFinisher::when_idle (std::function<void ()> done)
{
  idle_waiters_.push_back (std::move (done));
  if (!idle_source_)
    idle_source_ = g_idle_add ([] (gpointer data) -> gboolean {
          auto *self = static_cast<RecordingFinisher *> (data);
          self->idle_source_ = 0;
          self->check_idle ();
          return G_SOURCE_REMOVE;
        }, this);
}

void
RecordingFinisher::check_idle ()
{
  if (pending () > 0 || idle_waiters_.empty ())
    return;
  auto waiters = std::move (idle_waiters_);
  idle_waiters_.clear ();
  for (auto &waiter : waiters)
    waiter ();
}

}  // namespace wsrtmp
