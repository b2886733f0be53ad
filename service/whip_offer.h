/* The SDP side of WHIP, without a pipeline: what of a sender's offer we
 * take (each audio and video m-line kept to the codecs we can use, in our
 * order, without simulcast), our public address in the answer, and the
 * candidates of a trickle PATCH. Pure functions of their text: tested in
 * tests/service/test_core.cpp and fuzzed (tests/fuzz).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace wsrtmp {

/* An offer webrtcbin is to answer, and what it holds. */
struct WhipOffer {
  /* The offer with, in each audio and video m-line, only the payloads we
   * take: video H.264 packetization-mode=1 (any profile; first: passed
   * through), VP8, VP9 (transcoded); audio Opus; each with its RTX; no
   * simulcast (a=simulcast, a=rid dropped: one layer is answered). */
  std::string sdp;
  /* "video" or "audio" per m-line we take, in order. */
  std::vector<std::string> tracks;
  /* The a=mid of every m-line ("" when none), in order. */
  std::vector<std::string> mids;
  /* The sender's ICE username fragment (session or first m-line): a
   * trickle fragment with another one is an ICE restart. */
  std::string ice_ufrag;
  /* The id the sender gave the transport-wide congestion control header
   * extension (0: none): the answer takes it (webrtcbin 1.22 answers no
   * extmap by itself), so the sender's bandwidth estimate hears from us. */
  int twcc_ext_id = 0;
};

/* The transport-wide congestion control header extension's URI. */
constexpr const char *TWCC_EXTENSION_URI =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

/* Reads sdp as an offer; false with why (naming the m-line: "m-line 1
 * (video): ...") when it is no SDP or no m-line has media we take. */
bool read_whip_offer (const std::string &sdp, WhipOffer &offer,
    std::string &why);

/* answer with a copy of each host UDP candidate of public_ip's address
 * family announced at public_ip (--webrtc-public-ip: the address a NAT
 * maps 1:1 to ours, same ports). */
std::string announce_public_ip (const std::string &answer,
    const std::string &public_ip);

/* The candidates of a trickle fragment (application/trickle-ice-sdpfrag):
 * each a=candidate line's candidate ("candidate:..."), with the m-line
 * index of the a=mid before it (mids: the offer's; 0 without one). An
 * a=mid we do not know is skipped with its candidates. */
/* The a=ice-ufrag of a trickle fragment, "" when none. */
std::string trickle_ufrag (const std::string &fragment);

std::vector<std::pair<unsigned, std::string>> read_trickle (
    const std::string &fragment, const std::vector<std::string> &mids);

}  // namespace wsrtmp
