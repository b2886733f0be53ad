/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "destination_output.h"

#include <algorithm>
#include <deque>

namespace wsrtmp {

namespace {

/* Bytes a network sink's connection took, from its stats: rtmp2sink's
 * written to the socket, srtsink's sent in SRT packets. */
guint64
accepted_from (const GstStructure *stats)
{
  guint64 out = 0;
  if (!gst_structure_get_uint64 (stats, "out-bytes-total", &out))
    gst_structure_get_uint64 (stats, "bytes-sent-total", &out);
  return out;
}

/* srtsink closes its socket on EOS at once, and a receiver drops what it
 * still holds back for its latency (SRT live mode): the last second of a
 * stream would be lost. Let the receiver's buffer play out first (in the
 * streaming thread, while the stream drains). */
GstPadProbeReturn
linger_on_eos (GstPad *pad, GstPadProbeInfo *info, gpointer)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_EOS)
    return GST_PAD_PROBE_OK;
  g_autoptr (GstObject) sink = gst_pad_get_parent (pad);
  gint latency_ms = 0;
  g_object_get (sink, "latency", &latency_ms, nullptr);
  g_usleep ((2 * std::max (latency_ms, 120) + 500) * 1000);
  return GST_PAD_PROBE_OK;
}

}  // namespace

DestinationOutput::DestinationOutput (GstElement *pipeline, GstElement *tee,
    Destination destination, bool only_destination, std::string name,
    std::shared_ptr<MediaCounters> counters)
    : pipeline_ (pipeline),
      tee_ (GST_ELEMENT (gst_object_ref (tee))),
      destination_ (std::move (destination)),
      description_ (destination_.sink_description (only_destination)),
      name_ (std::move (name)), counters_ (std::move (counters)),
      gate_ (std::make_shared<OutputGate> ())
{
  tee_pad_.reset (gst_element_request_pad_simple (tee, "src_%u"));
  add_gate_probe (tee_pad_.get (), gate_);
}

DestinationOutput::~DestinationOutput ()
{
  if (bin_) {
    g_autoptr (GstPad) ghost = gst_element_get_static_pad (bin_, "sink");
    gst_pad_unlink (tee_pad_.get (), ghost);
  }
  gst_element_release_request_pad (tee_.get (), tee_pad_.get ());
}

bool
DestinationOutput::attach (bool open, GError **error)
{
  sink_name_ = attempts_ == 0 ? name_ : name_ + "-r" +
      std::to_string (attempts_);
  failed_ = false;
  attempts_++;
  g_autofree char *description = g_strdup_printf (description_.c_str (),
      sink_name_.c_str ());
  GstElement *bin = gst_parse_bin_from_description (description, FALSE,
      error);
  if (!bin)
    return false;
  gst_object_set_name (GST_OBJECT (bin), (sink_name_ + "-bin").c_str ());
  {
    /* The bin's input is its queue (or the sink itself when alone): a
     * description with a demuxer has other sink pads still unlinked. */
    g_autoptr (GstElement) first = gst_bin_get_by_name (GST_BIN (bin),
        (sink_name_ + "-queue").c_str ());
    if (!first)
      first = gst_bin_get_by_name (GST_BIN (bin), sink_name_.c_str ());
    g_autoptr (GstPad) target = first ? gst_element_get_static_pad (first,
        "sink") : nullptr;
    if (!target) {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
          "%s has no input", sink_name_.c_str ());
      gst_object_unref (gst_object_ref_sink (bin));
      return false;
    }
    gst_element_add_pad (bin, gst_ghost_pad_new ("sink", target));
  }
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (bin),
      sink_name_.c_str ());
  destination_.configure_sink (sink);
  /* async=false: a sink added to a playing pipeline must not wait for a
   * preroll that a held-back gate never delivers. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "async"))
    g_object_set (sink, "async", FALSE, nullptr);
  g_autoptr (GstPad) sink_pad = gst_element_get_static_pad (sink, "sink");
  if (!sink_pad) {
    /* A muxing sink (the MP4 recording's splitmuxsink) has request pads
     * only: what it is given is what its demuxer takes. */
    g_autoptr (GstElement) demux = gst_bin_get_by_name (GST_BIN (bin),
        (sink_name_ + "-demux").c_str ());
    if (demux)
      sink_pad = gst_element_get_static_pad (demux, "sink");
  }
  if (!sink_pad) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "%s has no input", sink_name_.c_str ());
    gst_object_unref (gst_object_ref_sink (bin));
    return false;
  }
  add_live_probe (sink_pad, counters_, pipeline_);
  add_delivered_probe (sink_pad, gate_);
  /* Before the gate's EOS probe: the end counts as taken once the
   * receiver had its time. */
  if (destination_.kind == Destination::Kind::Srt)
    gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        linger_on_eos, nullptr, nullptr);
  add_eos_probe (sink_pad, gate_);

  guint generation;
  {
    std::lock_guard<std::mutex> lock (gate_->lock);
    generation = ++gate_->generation;
    gate_->open = open;
    gate_->pushed_bytes = 0;
    gate_->eos_at_sink = false;
    /* rtmp2sink sends the caps' header itself on every connection. */
    gate_->needs_header = attempts_ > 1 &&
        destination_.kind == Destination::Kind::Srt;
  }
  g_autoptr (GstPad) ghost = gst_element_get_static_pad (bin, "sink");
  set_gate_chain (ghost, gate_, generation);

  gst_bin_add (GST_BIN (pipeline_), bin);
  bin_ = bin;
  /* Running before linked, so the sticky events (caps with the FLV
   * streamheader) are accepted as soon as they come. */
  gst_element_sync_state_with_parent (bin);
  if (gst_pad_link (tee_pad_.get (), ghost) != GST_PAD_LINK_OK) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "cannot link %s", sink_name_.c_str ());
    return false;
  }
  return true;
}

void
DestinationOutput::detach ()
{
  gate_->accepted_before += accepted_bytes ();
  {
    std::lock_guard<std::mutex> lock (gate_->lock);
    if (gate_->open) {
      gate_->open = false;
      gate_->synced = false;
    }
    gate_->generation++;
  }
  if (!bin_)
    return;
  g_autoptr (GstPad) ghost = gst_element_get_static_pad (bin_, "sink");
  gst_pad_unlink (tee_pad_.get (), ghost);
  GstElement *bin = bin_;
  bin_ = nullptr;
  /* The pipeline's own state changes leave it alone from now on. */
  gst_element_set_locked_state (bin, TRUE);
  /* Stopping it unblocks a render waiting for a dead connection (FLUSHING,
   * which the ghost pad turns into OK), then waits for that streaming
   * thread and rtmp2sink's socket thread: off the main loop. The bin is
   * removed (and freed) only once nothing runs in it. Its late messages
   * are stale (is_stale) and ignored. */
  std::shared_ptr<GstElement> pipeline (
      GST_ELEMENT (gst_object_ref (pipeline_)), gst_object_unref);
  jobs_->run (bin, [pipeline] (GstElement *bin) {
    gst_element_set_state (bin, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (pipeline.get ()), bin);
  });
}

namespace {

/* Kept tags on their way to a sink after the input ended, owned by the
 * job that pushes them. */
struct Flush {
  std::deque<GstBuffer *> buffers;
  GstObjectPtr<GstPad> ghost;
  GstObjectPtr<GstPad> tee_pad;
  ~Flush ()
  {
    for (GstBuffer *buffer : buffers)
      gst_buffer_unref (buffer);
  }
};

}  // namespace

void
DestinationOutput::open ()
{
  bool eos;
  auto flush = std::make_shared<Flush> ();
  {
    std::lock_guard<std::mutex> lock (gate_->lock);
    gate_->open = true;
    eos = gate_->eos_pending;
    if (eos) {
      /* The stream already ended: nothing pushes any more, so a job
       * delivers the kept tags and the end. */
      gate_->eos_pending = false;
      flush->buffers.swap (gate_->backlog);
      gate_->backlog_bytes = 0;
    }
  }
  if (!eos || !bin_)
    return;
  flush->ghost.reset (gst_element_get_static_pad (bin_, "sink"));
  flush->tee_pad.reset (GST_PAD (gst_object_ref (tee_pad_.get ())));
  /* Up to max_backlog_bytes into a sink that waits for the network. A
   * detach() meanwhile flushes the sink and ends this early. */
  jobs_->run (bin_, [flush, counters = counters_] (GstElement *) {
    GstPad *ghost = flush->ghost.get ();
    /* Sticky events (stream-start, caps, segment) first, as a push would. */
    gst_pad_sticky_events_foreach (flush->tee_pad.get (), [] (GstPad *,
            GstEvent **event, gpointer target) -> gboolean {
          if (GST_EVENT_TYPE (*event) != GST_EVENT_EOS)
            gst_pad_send_event (GST_PAD (target), gst_event_ref (*event));
          return TRUE;
        }, ghost);
    while (!flush->buffers.empty ()) {
      GstBuffer *buffer = flush->buffers.front ();
      flush->buffers.pop_front ();
      gsize size = gst_buffer_get_size (buffer);
      gst_pad_chain (ghost, buffer);
      counters->kept_bytes_sent += size;
    }
    gst_pad_send_event (ghost, gst_event_new_eos ());
  });
}

void
DestinationOutput::drop_kept ()
{
  std::lock_guard<std::mutex> lock (gate_->lock);
  for (GstBuffer *buffer : gate_->backlog) {
    gate_->dropped_bytes += gst_buffer_get_size (buffer);
    gst_buffer_unref (buffer);
  }
  gate_->backlog.clear ();
  gate_->backlog_bytes = 0;
  gate_->synced = false;
}

bool
DestinationOutput::owns (GstObject *object) const
{
  return bin_ && (object == GST_OBJECT (bin_) ||
      gst_object_has_as_ancestor (object, GST_OBJECT (bin_)));
}

/* Its elements (and those inside its bins, which a parse description names
 * after the sink: "dest0-r2-demux") are named after the output. */
bool
DestinationOutput::is_stale (GstObject *object) const
{
  if (owns (object))
    return false;
  const std::string prefix = name_ + "-";
  for (GstObject *at = object; at; at = GST_OBJECT_PARENT (at)) {
    const char *name = GST_OBJECT_NAME (at);
    if (name && (g_str_equal (name, name_.c_str ()) ||
            g_str_has_prefix (name, prefix.c_str ())))
      return true;
  }
  return false;
}

bool
DestinationOutput::published () const
{
  if (destination_.kind != Destination::Kind::Srt)
    return accepted_bytes () > 0;
  /* srtsink sends nothing before data comes, and a reconnection's data is
   * held back until it is up: its connected socket says so. Its stats
   * then carry the socket's own figures (the negotiated latency among
   * them); without a connection, only the running total. */
  g_autoptr (GstStructure) stats = sink_stats ();
  return stats && (accepted_from (stats) > 0 ||
      gst_structure_has_field (stats, "negotiated-latency-ms"));
}

guint64
DestinationOutput::accepted_bytes () const
{
  if (destination_.kind == Destination::Kind::File) {
    /* A file: what reached filesink is written. */
    return bin_ && gate_->ever_delivered ? gate_->pushed_bytes.load () : 0;
  }
  g_autoptr (GstStructure) stats = sink_stats ();
  return stats ? accepted_from (stats) : 0;
}

GstStructure *
DestinationOutput::sink_stats () const
{
  if (!bin_)
    return nullptr;
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (bin_),
      sink_name_.c_str ());
  GstStructure *stats = nullptr;
  if (sink)
    g_object_get (sink, "stats", &stats, nullptr);
  return stats;
}

guint64
DestinationOutput::waiting_bytes () const
{
  if (!bin_)
    return 0;
  guint64 waiting = 0;
  g_autoptr (GstElement) queue = gst_bin_get_by_name (GST_BIN (bin_),
      (sink_name_ + "-queue").c_str ());
  if (queue) {
    guint level = 0;
    g_object_get (queue, "current-level-bytes", &level, nullptr);
    waiting = level;
  }
  if (destination_.kind == Destination::Kind::Rtmp) {
    /* rtmp2sink may hold messages for its socket too. */
    guint64 pushed = gate_->pushed_bytes, accepted = accepted_bytes ();
    if (pushed > accepted)
      waiting = std::max (waiting, pushed - accepted);
  }
  return waiting;
}

gsize
DestinationOutput::backlog_bytes () const
{
  std::lock_guard<std::mutex> lock (gate_->lock);
  return gate_->backlog_bytes;
}

guint64
DestinationOutput::dropped_bytes () const
{
  std::lock_guard<std::mutex> lock (gate_->lock);
  return gate_->dropped_bytes;
}

}  // namespace wsrtmp
