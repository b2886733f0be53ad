/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "wsrtmpd"
#include "mp4_recording.h"

#include "util.h"

namespace wsrtmp {

namespace {

/* The FLV from the tee back to elementary streams: H.264 untouched but
 * for its packaging (avc3: see mp4_recording.h; h264parse puts SPS/PPS
 * before each IDR that lacks them, so every segment and every fragment
 * after a keyframe decodes on its own), AAC as flvdemux frames it (raw,
 * with its codec data: what mp4mux takes), into MP4 segments. The
 * queue is the bin's input (limited like a file sink's: a disk never
 * holds up the tee for long, a full one fails this destination alone).
 * A queue per stream after the demuxer: splitmuxsink holds one stream
 * back until the other catches up, and with the demuxer's one thread
 * feeding both that waited for ever (tried: the slate test stalled).
 *
 * The muxer: fragments of 250 ms (a moov, then a moof and its mdat per
 * fragment), so a killed daemon leaves files that play up to the last
 * whole fragment; a muxer and file of its own for each segment
 * (async-finalize: the stream never waits for a segment's end). In the
 * description: splitmuxsink makes its first muxer when its pads are
 * requested, as the description is parsed, before configure runs.
 * fragment-mode 0 (dash-or-mss), not 1 (first-moov-then-finalise, which
 * rewrites a closed segment into a regular MP4): with GStreamer 1.22 the
 * latter writes a trun without sample sizes when a fragment ends on a
 * single audio frame the size of its first, and ffmpeg then refuses the
 * whole unfinished file ("error reading header") -- seen in 3 of 3 runs
 * killed at 14 s. A closed segment is made a regular MP4 afterwards
 * (recording_finisher.h). */
constexpr const char *DESCRIPTION =
    "queue name=%1$s-queue ! flvdemux name=%1$s-demux "
    "splitmuxsink name=%1$s async-finalize=true muxer-factory=mp4mux "
    "muxer-properties=\"properties,fragment-duration=(uint)250,"
    "fragment-mode=(int)0\" "
    "%1$s-demux.video ! queue ! h264parse config-interval=-1 ! "
    "capsfilter name=%1$s-avc3 "
    "caps=video/x-h264,stream-format=avc3,alignment=au ! %1$s.video "
    "%1$s-demux.audio ! queue ! %1$s.audio_%%u";

bool
same_string_field (const GstStructure *a, const GstStructure *b,
    const char *field)
{
  return !g_strcmp0 (gst_structure_get_string (a, field),
      gst_structure_get_string (b, field));
}

/* On the avc3 capsfilter's output: once the muxer has its caps, later
 * H.264 caps in the same packaging are dropped. They differ only in what
 * avc3 carries in-band (the slate's or a resumed connection's SPS/PPS,
 * profile and level; flvsplice's inputs and slate all have the
 * broadcast's size), and mp4mux would otherwise add a sample description
 * that the moov it already wrote lacks (an unreadable file) or refuse
 * them (a new segment). */
GstPadProbeReturn
keep_codec_changes_in_band (GstPad *pad, GstPadProbeInfo *info, gpointer)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  g_autoptr (GstPad) peer = gst_pad_get_peer (pad);
  g_autoptr (GstCaps) current = peer ? gst_pad_get_current_caps (peer) :
      nullptr;
  if (!current)
    return GST_PAD_PROBE_OK;
  GstCaps *caps = nullptr;
  gst_event_parse_caps (event, &caps);
  const GstStructure *now = gst_caps_get_structure (current, 0);
  const GstStructure *next = gst_caps_get_structure (caps, 0);
  if (!gst_structure_has_name (next, gst_structure_get_name (now)) ||
      !same_string_field (now, next, "stream-format") ||
      !same_string_field (now, next, "alignment"))
    return GST_PAD_PROBE_OK;
  GST_DEBUG_OBJECT (pad, "new H.264 codec data in-band only: %"
      GST_PTR_FORMAT, caps);
  return GST_PAD_PROBE_DROP;
}

gchar *
segment_location (GstElement *, guint fragment_id, GstSample *,
    gpointer data)
{
  const auto *dest = static_cast<const Destination *> (data);
  std::string path = recording_segment_path (*dest, fragment_id + 1);
  g_message ("recording %s", mask_key_in (path, dest->record_key).c_str ());
  return g_strdup (path.c_str ());
}

}  // namespace

const char *
mp4_recording_description ()
{
  return DESCRIPTION;
}

void
configure_mp4_recording (GstElement *sink, const Destination &dest)
{
  g_object_set (sink, "max-size-time",
      static_cast<guint64> (dest.segment_s) * GST_SECOND, nullptr);
  /* Each sink its own copy of the names (it may outlive dest). */
  g_signal_connect_data (sink, "format-location-full",
      G_CALLBACK (segment_location), new Destination (dest),
      [] (gpointer data, GClosure *) {
        delete static_cast<Destination *> (data);
      }, GConnectFlags (0));
  g_autoptr (GstObject) bin = gst_object_get_parent (GST_OBJECT (sink));
  g_autoptr (GstElement) avc3 = bin ? gst_bin_get_by_name (GST_BIN (bin),
      (std::string (GST_OBJECT_NAME (sink)) + "-avc3").c_str ()) : nullptr;
  g_return_if_fail (avc3);
  g_autoptr (GstPad) src = gst_element_get_static_pad (avc3, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      keep_codec_changes_in_band, nullptr, nullptr);
}

Destination
recording_mp4_destination (const std::string &dir, const std::string &key,
    int segment_s)
{
  Destination dest;
  dest.kind = Destination::Kind::File;
  dest.mp4 = true;
  dest.location = dir;
  dest.name = "recording";
  dest.record_key = key;
  dest.segment_s = segment_s;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *start = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  dest.record_start = start;
  return dest;
}

std::string
recording_segment_path (const Destination &dest, guint n)
{
  std::string base = dest.location + "/" + dest.record_key + "-" +
      dest.record_start + "-" + std::to_string (n);
  std::string path = base + ".mp4";
  for (int again = 2; g_file_test (path.c_str (), G_FILE_TEST_EXISTS);
       again++)
    path = base + "-" + std::to_string (again) + ".mp4";
  return path;
}

}  // namespace wsrtmp
