/* flvencodebin's onMetaData filter (see muxtags.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "muxtags.h"

#include <string>
#include <utility>

namespace wsrtmp {

namespace {

/* One muxer pad's bookkeeping. */
struct MuxPadTags {
  /* A buffer went in since the stream started or changed. */
  bool flowing = false;
  /* What flvmux tells a new stream by (it re-sends the codec header), for
   * the H.264 and AAC it gets here: the codec and its codec_data. */
  std::string media;
  GstBuffer *codec_data = nullptr;
  /* As last forwarded. */
  std::string title, artist;

  ~MuxPadTags () { gst_clear_buffer (&codec_data); }

  /* Takes the caps; true when they start a new stream. */
  bool stream_changes (GstCaps *caps)
  {
    const GstStructure *s = gst_caps_get_structure (caps, 0);
    const GValue *value = gst_structure_get_value (s, "codec_data");
    GstBuffer *data = value && GST_VALUE_HOLDS_BUFFER (value) ?
        gst_value_get_buffer (value) : nullptr;
    bool changed = media != gst_structure_get_name (s);
    if (data && (!codec_data || gst_buffer_get_size (data) !=
            gst_buffer_get_size (codec_data) || !same_bytes (data)))
      changed = true;
    media = gst_structure_get_name (s);
    if (data)
      gst_buffer_replace (&codec_data, data);
    return changed;
  }

  bool same_bytes (GstBuffer *data) const
  {
    GstMapInfo map;
    if (!gst_buffer_map (data, &map, GST_MAP_READ))
      return false;
    bool same = gst_buffer_memcmp (codec_data, 0, map.data, map.size) == 0;
    gst_buffer_unmap (data, &map);
    return same;
  }

  /* True when tags bring a title or artist other than the last ones. */
  bool names_change (const GstTagList *tags)
  {
    bool changed = false;
    for (auto [tag, last] : { std::pair<const char *, std::string *> {
             GST_TAG_TITLE, &title }, { GST_TAG_ARTIST, &artist } }) {
      g_autofree char *value = nullptr;
      if (gst_tag_list_get_string (tags, tag, &value) && *last != value) {
        *last = value;
        changed = true;
      }
    }
    return changed;
  }
};

/* The part of tags that flvmux writes, in their scope. */
GstTagList *
muxed_tags (const GstTagList *tags)
{
  GstTagList *kept = gst_tag_list_new_empty ();
  gst_tag_list_set_scope (kept, gst_tag_list_get_scope (tags));
  for (const char *tag : { GST_TAG_TITLE, GST_TAG_ARTIST,
           GST_TAG_NOMINAL_BITRATE, GST_TAG_BITRATE }) {
    for (guint i = 0; i < gst_tag_list_get_tag_size (tags, tag); i++)
      gst_tag_list_add_value (kept, GST_TAG_MERGE_APPEND, tag,
          gst_tag_list_get_value_index (tags, tag, i));
  }
  return kept;
}

GstPadProbeReturn
filter_mux_tags (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *state = static_cast<MuxPadTags *> (data);
  if (!(GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM)) {
    state->flowing = true;
    return GST_PAD_PROBE_OK;
  }
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    gst_event_parse_caps (event, &caps);
    if (state->stream_changes (caps))
      state->flowing = false;
    return GST_PAD_PROBE_OK;
  }
  if (GST_EVENT_TYPE (event) != GST_EVENT_TAG)
    return GST_PAD_PROBE_OK;

  GstTagList *tags;
  gst_event_parse_tag (event, &tags);
  GstTagList *kept = muxed_tags (tags);
  bool names_changed = state->names_change (kept);
  if (gst_tag_list_is_empty (kept) || (state->flowing && !names_changed)) {
    gst_tag_list_unref (kept);
    return GST_PAD_PROBE_DROP;
  }
  gst_event_unref (event);
  GST_PAD_PROBE_INFO_DATA (info) = gst_event_new_tag (kept);
  return GST_PAD_PROBE_OK;
}

}  // namespace

void
filter_mux_pad_tags (GstPad *pad)
{
  gst_pad_add_probe (pad, static_cast<GstPadProbeType> (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
          GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      filter_mux_tags, new MuxPadTags (),
      [] (gpointer state) { delete static_cast<MuxPadTags *> (state); });
}

}  // namespace wsrtmp
