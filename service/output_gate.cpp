/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "output_gate.h"
#include "flvformat.h"
#include "util.h"

#include <vector>

namespace wsrtmp {

namespace {

using GateRef = std::shared_ptr<OutputGate>;

/* What the gate probe does with one buffer or event. */
enum class Verdict {
  Pass,         /* as it is */
  Drop,         /* dropped or kept (closed) */
  Flush,        /* open again: flush first (the header, the kept tags) */
};

/* The gate probe's decision, with gate.lock held: nothing is pushed or
 * posted here. flush gets what goes before this buffer (Verdict::Flush);
 * ask_keyframe is set when the gate just started waiting for a keyframe. */
Verdict
gate_decide (OutputGate &gate, GstPad *pad, GstPadProbeInfo *info,
    std::vector<GstBuffer *> &flush, bool &ask_keyframe)
{
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (event) != GST_EVENT_EOS)
      return Verdict::Pass;
    if (!gate.open) {
      /* Delivered with the kept tags once a connection is back. */
      gate.eos_pending = true;
      return Verdict::Drop;
    }
  } else {
    GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
    if (gate.open && gate.synced && gate.backlog.empty () &&
        !gate.needs_header)
      return Verdict::Pass;
    if (!gate.sync (buffer, ask_keyframe))
      return Verdict::Drop;
    if (!gate.open) {
      gate.keep (buffer);
      return Verdict::Drop;
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
  return Verdict::Flush;
}

/* On the tee's pad for the output, in the streaming thread. */
GstPadProbeReturn
gate_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  OutputGate &gate = **static_cast<GateRef *> (data);
  /* A vector: it allocates nothing on the way through (every tag), unlike
   * a deque. */
  std::vector<GstBuffer *> flush;
  bool ask_keyframe = false;
  Verdict verdict;
  {
    std::lock_guard<std::mutex> lock (gate.lock);
    verdict = gate_decide (gate, pad, info, flush, ask_keyframe);
  }
  if (ask_keyframe) {
    /* To the main thread (the bus watch): the broadcast decides whom to
     * ask. The pad names the output. */
    g_autoptr (GstElement) tee = gst_pad_get_parent_element (pad);
    if (tee)
      gst_element_post_message (tee, gst_message_new_application (
              GST_OBJECT (pad), gst_structure_new_empty (
                  OUTPUT_KEYFRAME_MESSAGE)));
  }
  if (verdict == Verdict::Pass)
    return GST_PAD_PROBE_OK;
  if (verdict == Verdict::Drop)
    return GST_PAD_PROBE_DROP;
  /* Open again: the kept tags go first, straight into the sink bin (the
   * sticky events reached it before this probe ran). */
  g_autoptr (GstPad) peer = gst_pad_get_peer (pad);
  for (GstBuffer *buffer : flush) {
    if (peer)
      gst_pad_chain (peer, buffer);
    else
      gst_buffer_unref (buffer);
  }
  return GST_PAD_PROBE_OK;
}

struct ChainData {
  GateRef gate;
  guint generation;
};

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

/* The end of the stream reached this output's sink. */
GstPadProbeReturn
note_eos (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS)
    (*static_cast<GateRef *> (data))->eos_at_sink = true;
  return GST_PAD_PROBE_OK;
}

}  // namespace

bool
is_flv_video_keyframe (GstBuffer *buffer)
{
  guint8 head[flv::TAG_HEADER_SIZE + 1];
  if (gst_buffer_extract (buffer, 0, head, sizeof head) != sizeof head)
    return false;
  return flv::is_video_keyframe (head, sizeof head);
}

bool
OutputGate::sync (GstBuffer *buffer, bool &ask_keyframe)
{
  if (synced)
    return true;
  if (!is_flv_video_keyframe (buffer)) {
    dropped_bytes += gst_buffer_get_size (buffer);
    if (!keyframe_asked) {
      keyframe_asked = true;
      ask_keyframe = true;
    }
    return false;
  }
  synced = true;
  keyframe_asked = false;
  return true;
}

void
OutputGate::keep (GstBuffer *buffer)
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

OutputGate::~OutputGate ()
{
  for (GstBuffer *buffer : backlog)
    gst_buffer_unref (buffer);
}

void
add_gate_probe (GstPad *tee_pad, std::shared_ptr<OutputGate> gate)
{
  gst_pad_add_probe (tee_pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      gate_probe, new GateRef (std::move (gate)),
      delete_data<GateRef>);
}

void
set_gate_chain (GstPad *ghost, std::shared_ptr<OutputGate> gate,
    guint generation)
{
  gst_pad_set_chain_function_full (ghost, gate_chain,
      new ChainData { std::move (gate), generation },
      delete_data<ChainData>);
  gst_pad_set_chain_list_function (ghost, gate_chain_list);
}

void
add_delivered_probe (GstPad *sink_pad, std::shared_ptr<OutputGate> gate)
{
  gst_pad_add_probe (sink_pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      count_delivered, new DeliveredProbe { std::move (gate) },
      delete_data<DeliveredProbe>);
}

void
add_eos_probe (GstPad *sink_pad, std::shared_ptr<OutputGate> gate)
{
  gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, note_eos,
      new GateRef (std::move (gate)), delete_data<GateRef>);
}

}  // namespace wsrtmp
