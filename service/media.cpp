/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "media.h"
#include "gstwsserversrc.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace wsrtmp {

namespace {

struct LiveProbe {
  std::shared_ptr<MediaCounters> counters;
  GstElement *pipeline;         /* not owned: it owns the probe */
};

/* First FLV bytes at a sink: the stream is live for the client. */
GstPadProbeReturn
post_live (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto *probe = static_cast<LiveProbe *> (data);
  if (!probe->counters->live_posted.exchange (true)) {
    g_autoptr (GstObject) sink = gst_pad_get_parent (pad);
    gst_element_post_message (probe->pipeline, gst_message_new_application (
            sink, gst_structure_new_empty (MEDIA_LIVE_MESSAGE)));
  }
  return GST_PAD_PROBE_REMOVE;
}

void
free_live_probe (gpointer data)
{
  delete static_cast<LiveProbe *> (data);
}

using GateRef = std::shared_ptr<RtmpGate>;

void
free_gate_ref (gpointer data)
{
  delete static_cast<GateRef *> (data);
}

/* On the tee's pad for the output, in the streaming thread. */
GstPadProbeReturn
gate_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  RtmpGate &gate = **static_cast<GateRef *> (data);
  /* A vector: it allocates nothing on the way through (every tag), unlike
   * a deque. */
  std::vector<GstBuffer *> flush;
  bool is_eos = false;
  {
    std::lock_guard<std::mutex> lock (gate.lock);
    if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
      GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
      if (GST_EVENT_TYPE (event) != GST_EVENT_EOS)
        return GST_PAD_PROBE_OK;
      if (!gate.open) {
        /* Delivered with the kept tags once a connection is back. */
        gate.eos_pending = true;
        return GST_PAD_PROBE_DROP;
      }
      is_eos = true;
    } else {
      GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
      if (gate.open && gate.synced && gate.backlog.empty () &&
          !gate.needs_header)
        return GST_PAD_PROBE_OK;
      if (!gate.sync (buffer))
        return GST_PAD_PROBE_DROP;
      if (!gate.open) {
        gate.keep (buffer);
        return GST_PAD_PROBE_DROP;
      }
    }
    if (gate.needs_header) {
      gate.needs_header = false;
      /* The FLV header and metadata, before the kept tags. */
      g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
      const GValue *headers = caps ? gst_structure_get_value (
          gst_caps_get_structure (caps, 0), "streamheader") : nullptr;
      guint count = headers ? gst_value_array_get_size (headers) : 0;
      for (guint i = 0; i < count; i++) {
        const GValue *header = gst_value_array_get_value (headers, i);
        if (G_VALUE_HOLDS (header, GST_TYPE_BUFFER))
          flush.push_back (gst_buffer_ref (gst_value_get_buffer (header)));
      }
    }
    flush.insert (flush.end (), gate.backlog.begin (), gate.backlog.end ());
    gate.backlog.clear ();
    gate.backlog_bytes = 0;
  }
  /* Open again: the kept tags go first, straight into the sink bin (the
   * sticky events reached it before this probe ran). */
  g_autoptr (GstPad) peer = gst_pad_get_peer (pad);
  for (GstBuffer *buffer : flush) {
    if (peer)
      gst_pad_chain (peer, buffer);
    else
      gst_buffer_unref (buffer);
  }
  (void) is_eos;
  return GST_PAD_PROBE_OK;
}

struct ChainData {
  GateRef gate;
  guint generation;
};

void
free_chain_data (gpointer data)
{
  delete static_cast<ChainData *> (data);
}

/* The sink bin's ghost pad: a failing or flushing sink must not stop the
 * tee (and with it the recording and the whole pipeline). Its failure is on
 * the bus; from now on the gate keeps the data. */
GstFlowReturn
gate_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  auto *data = static_cast<ChainData *> (pad->chaindata);
  gsize size = gst_buffer_get_size (buffer);
  data->gate->pushed_bytes += size;
  data->gate->pushed_total += size;
  GstFlowReturn ret = gst_proxy_pad_chain_default (pad, parent, buffer);
  if (ret == GST_FLOW_OK || ret == GST_FLOW_EOS)
    return ret;
  std::lock_guard<std::mutex> lock (data->gate->lock);
  if (data->gate->generation == data->generation && data->gate->open) {
    data->gate->open = false;
    data->gate->synced = false;
  }
  return GST_FLOW_OK;
}

GstFlowReturn
gate_chain_list (GstPad *pad, GstObject *parent, GstBufferList *list)
{
  GstFlowReturn ret = gst_proxy_pad_chain_list_default (pad, parent, list);
  return ret == GST_FLOW_EOS ? ret : GST_FLOW_OK;
}

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

struct DeliveredProbe {
  GateRef gate;
  int count = 0;
};

/* The second non-header buffer at the sink means the first one was
 * rendered (rtmp2sink's render blocks until the connection is published).
 * A list (mpegtsmux, for SRT, pushes its packets in lists) is rendered
 * whole, so it counts as one. */
GstPadProbeReturn
count_delivered (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *probe = static_cast<DeliveredProbe *> (data);
  auto is_media = [] (GstBuffer *buffer) {
    return !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_HEADER);
  };
  bool media = false;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    for (guint i = 0; i < gst_buffer_list_length (list) && !media; i++)
      media = is_media (gst_buffer_list_get (list, i));
  } else {
    media = is_media (GST_PAD_PROBE_INFO_BUFFER (info));
  }
  if (media && ++probe->count >= 2) {
    probe->gate->ever_delivered = true;
    return GST_PAD_PROBE_REMOVE;
  }
  return GST_PAD_PROBE_OK;
}

void
free_delivered_probe (gpointer data)
{
  delete static_cast<DeliveredProbe *> (data);
}

/* The end of the stream reached this output's sink. */
GstPadProbeReturn
note_eos (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS)
    (*static_cast<GateRef *> (data))->eos_at_sink = true;
  return GST_PAD_PROBE_OK;
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

bool
is_flv_video_keyframe (GstBuffer *buffer)
{
  guint8 head[12];
  if (gst_buffer_extract (buffer, 0, head, sizeof head) != sizeof head)
    return false;
  return (head[0] & 0x1f) == 9 && (head[11] >> 4) == 1;
}

bool
RtmpGate::sync (GstBuffer *buffer)
{
  if (synced)
    return true;
  if (!is_flv_video_keyframe (buffer)) {
    dropped_bytes += gst_buffer_get_size (buffer);
    return false;
  }
  synced = true;
  return true;
}

void
RtmpGate::keep (GstBuffer *buffer)
{
  backlog.push_back (gst_buffer_ref (buffer));
  backlog_bytes += gst_buffer_get_size (buffer);
  while (backlog_bytes > max_backlog_bytes && !backlog.empty ()) {
    do {
      GstBuffer *front = backlog.front ();
      backlog.pop_front ();
      gsize size = gst_buffer_get_size (front);
      backlog_bytes -= size;
      dropped_bytes += size;
      gst_buffer_unref (front);
    } while (!backlog.empty () && !is_flv_video_keyframe (backlog.front ()));
  }
  if (backlog.empty ())
    synced = false;
}

void
add_live_probe (GstPad *pad, std::shared_ptr<MediaCounters> counters,
    GstElement *pipeline)
{
  /* Lists too: mpegtsmux (SRT) pushes its packets in lists. */
  gst_pad_add_probe (pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      post_live, new LiveProbe { std::move (counters), pipeline },
      free_live_probe);
}

RtmpGate::~RtmpGate ()
{
  for (GstBuffer *buffer : backlog)
    gst_buffer_unref (buffer);
}

RtmpOutput::RtmpOutput (GstElement *pipeline, GstElement *tee,
    Destination destination, bool only_destination, std::string name,
    std::shared_ptr<MediaCounters> counters)
    : pipeline_ (pipeline),
      tee_ (GST_ELEMENT (gst_object_ref (tee))),
      destination_ (std::move (destination)),
      description_ (destination_.sink_description (only_destination)),
      name_ (std::move (name)), counters_ (std::move (counters)),
      gate_ (std::make_shared<RtmpGate> ())
{
  tee_pad_.reset (gst_element_request_pad_simple (tee, "src_%u"));
  gst_pad_add_probe (tee_pad_.get (), static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      gate_probe, new GateRef (gate_), free_gate_ref);
}

RtmpOutput::~RtmpOutput ()
{
  if (bin_) {
    g_autoptr (GstPad) ghost = gst_element_get_static_pad (bin_, "sink");
    gst_pad_unlink (tee_pad_.get (), ghost);
  }
  gst_element_release_request_pad (tee_.get (), tee_pad_.get ());
}

bool
RtmpOutput::attach (bool open, GError **error)
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
  g_object_set (sink, "async", FALSE, nullptr);
  g_autoptr (GstPad) sink_pad = gst_element_get_static_pad (sink, "sink");
  add_live_probe (sink_pad, counters_, pipeline_);
  gst_pad_add_probe (sink_pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      count_delivered, new DeliveredProbe { gate_ }, free_delivered_probe);
  if (destination_.kind == Destination::Kind::Srt)
    gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        linger_on_eos, nullptr, nullptr);
  gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, note_eos,
      new GateRef (gate_), free_gate_ref);

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
  gst_pad_set_chain_function_full (ghost, gate_chain,
      new ChainData { gate_, generation }, free_chain_data);
  gst_pad_set_chain_list_function (ghost, gate_chain_list);

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
RtmpOutput::detach ()
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
RtmpOutput::open ()
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
RtmpOutput::drop_kept ()
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
RtmpOutput::owns (GstObject *object) const
{
  return bin_ && (object == GST_OBJECT (bin_) ||
      gst_object_has_as_ancestor (object, GST_OBJECT (bin_)));
}

/* Its elements (and those inside its bins, which a parse description names
 * after the sink: "dest0-r2-demux") are named after the output. */
bool
RtmpOutput::is_stale (GstObject *object) const
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
RtmpOutput::published () const
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
RtmpOutput::accepted_bytes () const
{
  if (destination_.kind == Destination::Kind::File) {
    /* A file: what reached filesink is written. */
    return bin_ && gate_->ever_delivered ? gate_->pushed_bytes.load () : 0;
  }
  g_autoptr (GstStructure) stats = sink_stats ();
  return stats ? accepted_from (stats) : 0;
}

GstStructure *
RtmpOutput::sink_stats () const
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
RtmpOutput::waiting_bytes () const
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
RtmpOutput::backlog_bytes () const
{
  std::lock_guard<std::mutex> lock (gate_->lock);
  return gate_->backlog_bytes;
}

guint64
RtmpOutput::dropped_bytes () const
{
  std::lock_guard<std::mutex> lock (gate_->lock);
  return gate_->dropped_bytes;
}

bool
Media::rtmp_connecting () const
{
  for (const auto &output : rtmp_outputs_)
    if (output->connecting ())
      return true;
  return false;
}

int
Media::rtmp_output_of (GstObject *origin, bool *stale) const
{
  *stale = false;
  for (size_t i = 0; i < rtmp_outputs_.size (); i++) {
    if (rtmp_outputs_[i]->owns (origin))
      return static_cast<int> (i);
    if (rtmp_outputs_[i]->is_stale (origin)) {
      *stale = true;
      return static_cast<int> (i);
    }
  }
  return -1;
}

Media::Media (GstElement *pipeline, std::shared_ptr<MediaCounters> counters,
    std::vector<std::unique_ptr<RtmpOutput>> rtmp_outputs)
    : pipeline_ (pipeline), counters_ (std::move (counters)),
      rtmp_outputs_ (std::move (rtmp_outputs))
{
  for (auto &output : rtmp_outputs_)
    output->set_jobs (&jobs_);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  bus_watch_ = gst_bus_add_watch (bus, &Media::on_bus_message, this);
}

Media::~Media ()
{
  /* The watch goes first so no callback can reach a half-destroyed owner. */
  if (bus_watch_)
    g_source_remove (bus_watch_);
  /* Destroyed while stopping (process exit): let the jobs end first. */
  jobs_.wait ();
  stop ();
  rtmp_outputs_.clear ();
}

void
Media::set_bus_handler (BusHandler handler)
{
  bus_handler_ = std::move (handler);
}

bool
Media::play ()
{
  return gst_element_set_state (pipeline_.get (), GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE;
}

void
Media::stop ()
{
  if (stopped_)
    return;
  stopped_ = true;
  gst_element_set_state (pipeline_.get (), GST_STATE_NULL);
}

void
Media::stop_async (std::function<void ()> stopped)
{
  if (bus_watch_) {
    g_source_remove (bus_watch_);
    bus_watch_ = 0;
  }
  if (!stopped_) {
    stopped_ = true;
    /* Joins every streaming thread (the encoders finish their frame, the
     * sinks close their sockets): tens of milliseconds per pipeline. */
    jobs_.run (pipeline_.get (), [] (GstElement *pipeline) {
      gst_element_set_state (pipeline, GST_STATE_NULL);
    });
  }
  jobs_.when_idle (std::move (stopped));
}

gboolean
Media::on_bus_message (GstBus *bus, GstMessage *message, gpointer data)
{
  auto *self = static_cast<Media *> (data);
  if (self->bus_handler_)
    self->bus_handler_ (message);
  return G_SOURCE_CONTINUE;
}

}  // namespace wsrtmp
