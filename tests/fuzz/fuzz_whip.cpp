/* libFuzzer target: WHIP's SDP readers (service/whip_offer.h), what a WHIP
 * sender's POST and PATCH bodies reach before any pipeline does.
 *
 * Input format (make_seeds.py writes seeds):
 *
 *   byte 0   which reader: 0 = read_whip_offer (the POST's offer), then
 *            announce_public_ip on the offer it kept; 1 = read_trickle and
 *            trickle_ufrag (a PATCH's fragment, against mids "0" "1"
 *            "video0" "audio1"); 2 = announce_public_ip (an answer)
 *   then     the body's text
 *
 * Checks: no crash or sanitizer report; a refused offer says why; an
 * offer read has a track and a mid for each m-line it kept. (Not that the
 * kept offer reads back the same: GstSDPMessage writes a value holding a
 * lone CR as it is, which then splits the line.)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "whip_offer.h"

#include <glib.h>

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int
LLVMFuzzerInitialize (int *, char ***)
{
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  std::string text (reinterpret_cast<const char *> (data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      wsrtmp::WhipOffer offer;
      std::string why;
      if (!wsrtmp::read_whip_offer (text, offer, why)) {
        if (why.empty ())
          abort ();
        break;
      }
      if (offer.tracks.empty () || offer.mids.size () < offer.tracks.size ())
        abort ();
      wsrtmp::announce_public_ip (offer.sdp, "203.0.113.7");
      break;
    }
    case 1:
      wsrtmp::read_trickle (text, { "0", "1", "video0", "audio1" });
      wsrtmp::trickle_ufrag (text);
      break;
    default:
      wsrtmp::announce_public_ip (text, "203.0.113.7");
      wsrtmp::announce_public_ip (text, "2001:db8::7");
      break;
  }
  return 0;
}
