/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "failure.h"
#include "gstwsserversrc.h"
#include "util.h"

#include <algorithm>
#include <cstring>

namespace wsrtmp {

namespace {

bool
factory_is (GstObject *object, const char *name)
{
  if (!GST_IS_ELEMENT (object))
    return false;
  GstElementFactory *factory = gst_element_get_factory (GST_ELEMENT (object));
  return factory && g_str_equal (GST_OBJECT_NAME (factory), name);
}

bool
klass_contains (GstObject *object, const char *word)
{
  if (!GST_IS_ELEMENT (object))
    return false;
  GstElementFactory *factory = gst_element_get_factory (GST_ELEMENT (object));
  const char *klass = factory ? gst_element_factory_get_metadata (factory,
      GST_ELEMENT_METADATA_KLASS) : nullptr;
  return klass && strstr (klass, word);
}

}  // namespace

Failure
classify_error (GstMessage *message)
{
  g_autoptr (GError) error = nullptr;
  g_autofree char *debug = nullptr;
  gst_message_parse_error (message, &error, &debug);
  const GstStructure *details = nullptr;
  gst_message_parse_error_details (message, &details);
  GstObject *origin = GST_MESSAGE_SRC (message);

  int close_code = 0;
  if (details && gst_structure_get_int (details,
          GST_WS_SERVER_SRC_ERROR_CLOSE_CODE, &close_code)) {
    if (close_code == CLOSE_TOO_BIG)
      return { CLOSE_TOO_BIG, "message too big: lower the bitrate or the "
          "recorder timeslice", "too_big" };
    if (close_code == CLOSE_SERVER_ERROR)
      return { CLOSE_SERVER_ERROR, "server too slow to keep up with the "
          "stream", "too_slow" };
    return { static_cast<gushort> (close_code), "stream closed", "input" };
  }

  if (factory_is (origin, "rtmp2sink")) {
    /* rtmp2sink reports both failures as RESOURCE errors; only the text
     * tells a socket that never opened from a server that said no. */
    const char *text = error->message;
    if (contains_any (text, { "connection refused", "could not connect",
                "resolv", "timed out", "timeout", "unreachable", "no route",
                "not known", "name or service" }))
      return { CLOSE_SERVER_ERROR, "cannot connect to the RTMP server",
          "rtmp_connect" };
    if (contains_any (text, { "cmd failed", "rejected", "refused",
                "badname", "publish", "denied", "auth" }))
      return { CLOSE_SERVER_ERROR, "refused by the RTMP server",
          "rtmp_refused" };
    return { CLOSE_SERVER_ERROR, "lost the connection to the RTMP server",
        "rtmp" };
  }
  if (factory_is (origin, "filesink"))
    return { CLOSE_SERVER_ERROR, "cannot write the recording", "recording" };

  if (error->domain == GST_STREAM_ERROR) {
    switch (error->code) {
      case GST_STREAM_ERROR_CODEC_NOT_FOUND:
        return { CLOSE_UNSUPPORTED_DATA, "unsupported codec", "codec" };
      case GST_STREAM_ERROR_ENCODE:
        return { CLOSE_SERVER_ERROR, "encoder error", "encoder" };
      case GST_STREAM_ERROR_TYPE_NOT_FOUND:
      case GST_STREAM_ERROR_WRONG_TYPE:
      case GST_STREAM_ERROR_DEMUX:
      case GST_STREAM_ERROR_DECODE:
      case GST_STREAM_ERROR_FORMAT:
        if (!klass_contains (origin, "Encoder"))
          return { CLOSE_UNSUPPORTED_DATA, "not a media stream we can read",
              "input" };
        break;
      default:
        break;
    }
  }
  if (klass_contains (origin, "Encoder"))
    return { CLOSE_SERVER_ERROR, "encoder error", "encoder" };
  if (klass_contains (origin, "Decoder") || klass_contains (origin, "Demux"))
    return { CLOSE_UNSUPPORTED_DATA, "not a media stream we can read",
        "input" };
  return { CLOSE_SERVER_ERROR, "internal pipeline error", "pipeline" };
}

const std::vector<std::string> &
error_kinds ()
{
  static const std::vector<std::string> kinds = {
    "key", "token", "origin", "refused", "replaced", "idle", "shutdown", "capacity",
    "per_ip", "input", "codec", "text", "too_big", "too_slow",
    "rtmp_connect", "rtmp_refused", "rtmp", "recording", "encoder",
    "pipeline", "drain_timeout", "kicked", "banned",
  };
  return kinds;
}

bool
is_error_kind (const std::string &kind)
{
  const auto &kinds = error_kinds ();
  return std::find (kinds.begin (), kinds.end (), kind) != kinds.end ();
}

}  // namespace wsrtmp
