/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "whip_offer.h"

#include <gst/sdp/sdp.h>

#include <algorithm>
#include <map>
#include <set>

namespace wsrtmp {

namespace {

struct Payload {
  std::string encoding;         /* upper case: H264, VP8, OPUS, RTX... */
  std::map<std::string, std::string> fmtp;
};

std::string
upper (const char *text)
{
  g_autofree char *up = g_ascii_strup (text, -1);
  return up;
}

/* "PT rest": the payload type and the rest, false when it is no number. */
bool
split_payload (const char *value, std::string &pt, std::string &rest)
{
  if (!value)
    return false;
  const char *space = strchr (value, ' ');
  pt.assign (value, space ? space - value : strlen (value));
  rest = space ? space + 1 : "";
  return !pt.empty () && std::all_of (pt.begin (), pt.end (),
      [] (char c) { return g_ascii_isdigit (c); });
}

/* The payloads of media by type: rtpmap's encoding, fmtp's parameters. */
std::map<std::string, Payload>
payloads_of (const GstSDPMedia *media)
{
  std::map<std::string, Payload> payloads;
  for (guint i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, i);
    std::string pt, rest;
    if (!split_payload (attr->value, pt, rest))
      continue;
    if (g_str_equal (attr->key, "rtpmap")) {
      payloads[pt].encoding = upper (rest.substr (0, rest.find ('/')).c_str ());
    } else if (g_str_equal (attr->key, "fmtp")) {
      g_auto (GStrv) params = g_strsplit (rest.c_str (), ";", -1);
      for (char **param = params; *param; param++) {
        g_strstrip (*param);
        const char *equals = strchr (*param, '=');
        if (equals)
          payloads[pt].fmtp[std::string (*param, equals - *param)] =
              equals + 1;
      }
    }
  }
  return payloads;
}

/* Our preference (lower first), -1: not taken. */
int
rank (const std::string &kind, const Payload &payload)
{
  if (kind == "audio")
    return payload.encoding == "OPUS" ? 0 : -1;
  if (payload.encoding == "H264") {
    auto mode = payload.fmtp.find ("packetization-mode");
    return mode != payload.fmtp.end () && mode->second == "1" ? 0 : -1;
  }
  if (payload.encoding == "VP8")
    return 1;
  if (payload.encoding == "VP9")
    return 2;
  return -1;
}

std::string
describe (const Payload &payload)
{
  if (payload.encoding == "H264") {
    auto mode = payload.fmtp.find ("packetization-mode");
    return "H264 packetization-mode=" + (mode == payload.fmtp.end () ?
        std::string ("0") : mode->second);
  }
  return payload.encoding.empty () ? "?" : payload.encoding;
}

const char *
direction_of (const GstSDPMedia *media)
{
  for (const char *direction : { "sendonly", "recvonly", "inactive",
          "sendrecv" }) {
    if (gst_sdp_media_get_attribute_val (media, direction))
      return direction;
  }
  return "sendrecv";
}

/* Keeps in media (an audio or video m-line, index i) what we take; false
 * with why when nothing. */
bool
keep_what_we_take (GstSDPMedia *media, guint index, const std::string &kind,
    std::string &why)
{
  std::string where = "m-line " + std::to_string (index) + " (" + kind +
      "): ";
  const char *direction = direction_of (media);
  if (g_str_equal (direction, "recvonly") ||
      g_str_equal (direction, "inactive")) {
    why = where + direction + ": a WHIP sender sends (sendonly)";
    return false;
  }
  std::map<std::string, Payload> payloads = payloads_of (media);
  std::vector<std::pair<int, std::string>> kept;
  std::set<std::string> kept_set;
  std::string offered;
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    std::string pt = gst_sdp_media_get_format (media, i);
    const Payload &payload = payloads[pt];
    if (payload.encoding == "RTX" || payload.encoding == "RED" ||
        payload.encoding == "ULPFEC" || payload.encoding == "FLEXFEC-03")
      continue;
    int r = rank (kind, payload);
    if (r >= 0) {
      kept.emplace_back (r, pt);
      kept_set.insert (pt);
    }
    offered += (offered.empty () ? "" : ", ") + describe (payload);
  }
  if (kept.empty ()) {
    why = where + "no codec we take (" + (kind == "audio" ? "Opus" :
        "H264 packetization-mode=1, VP8, VP9") + "); offered: " +
        (offered.empty () ? "none" : offered);
    return false;
  }
  std::stable_sort (kept.begin (), kept.end (),
      [] (const auto &a, const auto &b) { return a.first < b.first; });
  std::vector<std::string> order;
  for (const auto &[r, pt] : kept)
    order.push_back (pt);
  /* Each kept payload's retransmissions (NACK is answered with RTX). */
  for (const auto &[pt, payload] : payloads) {
    auto apt = payload.fmtp.find ("apt");
    if (payload.encoding == "RTX" && apt != payload.fmtp.end () &&
        kept_set.count (apt->second)) {
      order.push_back (pt);
      kept_set.insert (pt);
    }
  }
  while (gst_sdp_media_formats_len (media) > 0)
    gst_sdp_media_remove_format (media, 0);
  for (const auto &pt : order)
    gst_sdp_media_add_format (media, pt.c_str ());
  for (guint i = gst_sdp_media_attributes_len (media); i-- > 0;) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, i);
    std::string pt, rest;
    bool per_payload = g_str_equal (attr->key, "rtpmap") ||
        g_str_equal (attr->key, "fmtp") || g_str_equal (attr->key, "rtcp-fb");
    bool drop = (per_payload && split_payload (attr->value, pt, rest) &&
        !kept_set.count (pt)) || g_str_equal (attr->key, "simulcast") ||
        g_str_equal (attr->key, "rid");
    if (drop)
      gst_sdp_media_remove_attribute (media, i);
  }
  return true;
}

}  // namespace

bool
read_whip_offer (const std::string &sdp, WhipOffer &offer, std::string &why)
{
  g_autoptr (GstSDPMessage) message = nullptr;
  gst_sdp_message_new (&message);
  if (gst_sdp_message_parse_buffer (reinterpret_cast<const guint8 *> (
              sdp.data ()), sdp.size (), message) != GST_SDP_OK ||
      gst_sdp_message_medias_len (message) == 0) {
    why = "not an SDP offer with m-lines";
    return false;
  }
  offer = {};
  if (const char *ufrag = gst_sdp_message_get_attribute_val (message,
          "ice-ufrag"))
    offer.ice_ufrag = ufrag;
  for (guint i = 0; i < gst_sdp_message_medias_len (message); i++) {
    /* The public array: gst_sdp_message_get_media gives it read-only. */
    GstSDPMedia *media = &g_array_index (message->medias, GstSDPMedia, i);
    const char *mid = gst_sdp_media_get_attribute_val (media, "mid");
    const char *ufrag = gst_sdp_media_get_attribute_val (media, "ice-ufrag");
    if (ufrag && offer.ice_ufrag.empty ())
      offer.ice_ufrag = ufrag;
    offer.mids.push_back (mid ? mid : "");
    const char *kind = gst_sdp_media_get_media (media);
    /* Port 0: rejected, unless it is bundled (it shares the first's). */
    bool rejected = gst_sdp_media_get_port (media) == 0 &&
        !gst_sdp_media_get_attribute_val (media, "bundle-only");
    if (!kind || (!g_str_equal (kind, "audio") && !g_str_equal (kind,
                "video")) || rejected)
      continue;
    if (std::count (offer.tracks.begin (), offer.tracks.end (), kind)) {
      why = "m-line " + std::to_string (i) + " (" + kind + "): a second " +
          kind + " track (one of each is taken)";
      return false;
    }
    if (!keep_what_we_take (media, i, kind, why))
      return false;
    for (guint a = 0; a < gst_sdp_media_attributes_len (media) &&
        !offer.twcc_ext_id; a++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, a);
      std::string id, uri;
      if (g_str_equal (attr->key, "extmap") && split_payload (attr->value,
              id, uri) && uri == TWCC_EXTENSION_URI)
        offer.twcc_ext_id = std::stoi (id.substr (0, 3));
    }
    offer.tracks.push_back (kind);
  }
  if (offer.tracks.empty ()) {
    why = "no audio or video m-line";
    return false;
  }
  g_autofree char *text = gst_sdp_message_as_text (message);
  offer.sdp = text;
  return true;
}

std::string
announce_public_ip (const std::string &answer, const std::string &public_ip)
{
  g_autoptr (GstSDPMessage) message = nullptr;
  gst_sdp_message_new (&message);
  if (public_ip.empty () || gst_sdp_message_parse_buffer (
          reinterpret_cast<const guint8 *> (answer.data ()), answer.size (),
          message) != GST_SDP_OK)
    return answer;
  for (guint i = 0; i < gst_sdp_message_medias_len (message); i++) {
    GstSDPMedia *media = &g_array_index (message->medias, GstSDPMedia, i);
    std::vector<std::string> added;
    for (guint a = 0; a < gst_sdp_media_attributes_len (media); a++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, a);
      if (!g_str_equal (attr->key, "candidate") || !attr->value)
        continue;
      /* foundation component transport priority address port typ host */
      g_auto (GStrv) fields = g_strsplit (attr->value, " ", -1);
      if (g_strv_length (fields) < 8 || g_ascii_strcasecmp (fields[2],
              "udp") || !g_str_equal (fields[7], "host") ||
          public_ip == fields[4])
        continue;
      /* Only for the public address's family (a 1:1 NAT of IPv4). */
      bool v6 = strchr (fields[4], ':') != nullptr;
      if (v6 != (public_ip.find (':') != std::string::npos))
        continue;
      g_free (fields[4]);
      fields[4] = g_strdup (public_ip.c_str ());
      g_autofree char *joined = g_strjoinv (" ", fields);
      added.push_back (joined);
    }
    for (const auto &candidate : added)
      gst_sdp_media_add_attribute (media, "candidate", candidate.c_str ());
  }
  g_autofree char *text = gst_sdp_message_as_text (message);
  return text;
}

std::string
trickle_ufrag (const std::string &fragment)
{
  std::string ufrag;
  g_auto (GStrv) lines = g_strsplit (fragment.c_str (), "\n", -1);
  for (char **line = lines; *line; line++) {
    g_strchomp (*line);
    if (g_str_has_prefix (*line, "a=ice-ufrag:")) {
      ufrag = *line + strlen ("a=ice-ufrag:");
      break;
    }
  }
  return ufrag;
}

std::vector<std::pair<unsigned, std::string>>
read_trickle (const std::string &fragment, const std::vector<std::string> &mids)
{
  std::vector<std::pair<unsigned, std::string>> candidates;
  g_auto (GStrv) lines = g_strsplit (fragment.c_str (), "\n", -1);
  bool known = true;
  unsigned index = 0;
  for (char **line = lines; *line; line++) {
    g_strchomp (*line);
    if (g_str_has_prefix (*line, "a=mid:")) {
      auto found = std::find (mids.begin (), mids.end (), *line + 6);
      known = found != mids.end ();
      index = known ? found - mids.begin () : 0;
    } else if (known && g_str_has_prefix (*line, "a=candidate:")) {
      candidates.emplace_back (index, *line + 2);
    }
  }
  return candidates;
}

}  // namespace wsrtmp
