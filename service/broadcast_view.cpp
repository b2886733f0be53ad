/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "broadcast_view.h"

namespace wsrtmp {

std::string
iso8601_utc (gint64 unix_us)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (
      unix_us / G_USEC_PER_SEC);
  if (!time)
    return "";
  g_autofree char *text = g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ");
  return text ? text : "";
}

const char *
broadcast_state_word (Broadcast::State state)
{
  /* The page says "connecting" where the broadcast says "starting". */
  if (state == Broadcast::State::Starting)
    return "connecting";
  return Broadcast::state_name (state);
}

namespace {

void
add_string (JsonBuilder *builder, const char *name, const std::string &value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value.c_str ());
}

void
add_int (JsonBuilder *builder, const char *name, gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

}  // namespace

JsonNode *
broadcast_view (const Broadcast &broadcast,
    const std::vector<InputView> &inputs)
{
  /* The newest input that has decided speaks for the output. */
  std::string output;
  guint64 kbps_in = 0;
  for (const InputView &input : inputs) {
    if (!input.output_mode.empty ())
      output = input.output_mode;
    kbps_in += input.bitrate_kbps;
  }

  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  add_string (builder, "key", broadcast.key ());
  add_string (builder, "state", broadcast_state_word (broadcast.state ()));
  add_string (builder, "started", iso8601_utc (broadcast.started_unix_us ()));
  json_builder_set_member_name (builder, "duration_s");
  json_builder_add_double_value (builder,
      static_cast<gint64> (broadcast.duration_s () * 10) / 10.0);
  add_string (builder, "output", output);
  /* What every destination gets: FLV's H.264 and AAC (the input's video is
   * passed through or transcoded to H.264, its audio made AAC). */
  json_builder_set_member_name (builder, "codecs");
  json_builder_begin_object (builder);
  add_string (builder, "video", "h264");
  add_string (builder, "audio", "aac");
  json_builder_end_object (builder);
  add_int (builder, "bitrate_in_kbps", kbps_in);
  add_int (builder, "bitrate_out_kbps", broadcast.kbps_out ());
  json_builder_set_member_name (builder, "on_slate");
  json_builder_add_boolean_value (builder, broadcast.on_slate ());

  json_builder_set_member_name (builder, "inputs");
  json_builder_begin_array (builder);
  for (const InputView &input : inputs) {
    json_builder_begin_object (builder);
    add_string (builder, "transport", input.transport);
    add_string (builder, "client", input.client);
    add_string (builder, "connected_since",
        iso8601_utc (input.connected_unix_us));
    add_string (builder, "state", input.state);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "destinations");
  json_builder_begin_array (builder);
  if (const DestinationSet *set = broadcast.destination_set ()) {
    for (const auto &link : set->links ()) {
      json_builder_begin_object (builder);
      add_string (builder, "name", link->name ());
      add_string (builder, "url",
          broadcast.masked_location (link->destination ()));
      add_string (builder, "state",
          DestinationLink::state_name (link->state ()));
      add_int (builder, "kbps", link->kbps ());
      add_int (builder, "reconnects", link->reconnects ());
      json_builder_end_object (builder);
    }
  }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

}  // namespace wsrtmp
