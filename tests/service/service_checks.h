/* What the wsrtmpd service tests share (test_daemon, test_streaming,
 * test_bad_input, test_fairness, test_access, test_rtmp_side,
 * test_endurance): checks of what arrived, ways to stream a recording to
 * the daemon, and the allowances made under AddressSanitizer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "fixture.h"
#include "harness.h"
#include "wsclient.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace wsrtmp::test {

/* Under AddressSanitizer freed memory sits in quarantine: RSS says nothing
 * about leaks there (ASan reports those itself). */
bool rss_meaningful ();

/* Under AddressSanitizer the daemon runs two to three times slower. A test
 * whose timeouts are short (an idle timeout of 2 s beside a real-time
 * stream) scales them, and the waits that follow from them, by this, so a
 * loaded CI machine does not turn slowness into a failure; what is checked
 * stays the same. */
int timing_scale ();

/* What a recording must be: H.264 + AAC (a track the input lacks is
 * generated), as long as the input, keyframes at most 2 s apart. */
void check_output (const std::string &input_path,
    const std::string &output_path, const std::string &label);

/* Whether any text message the client received contains needle. */
bool has_text (const WsClient &client, const std::string &needle);

/* One client replays a fixture to the end and closes normally; returns
 * the client for further checks. */
std::unique_ptr<WsClient> stream_fixture (const Daemon &daemon,
    const Fixture &fixture, const std::string &key, bool realtime,
    const WsClient::Options &options = WsClient::Options ());

/* Raw HTTP GET of exactly target (no client-side normalisation): the
 * status code and the whole response. */
std::pair<int, std::string> raw_http (int port, const std::string &target);

/* A whole recording as one-byte binary frames, then a 1000 close. */
std::string one_byte_frames (const Fixture &fixture);

/* Streams a fixture's chunks from first to last (exclusive) as fast as
 * the socket takes them, closes with 1000, returns the server's code. */
int raw_stream (int port, const std::string &key, const Fixture &fixture,
    size_t first, size_t last, int close_code = 1000);

/* A process's RSS, PSS, fds and threads in one line. */
std::string stats_text (const ProcStats &stats);

/* Sends chunks [first, last) of fixture paced as the browser emitted them. */
void send_paced (WsClient &client, const Fixture &fixture, size_t first,
    size_t last);

/* How many chunks the browser emitted before until_ms. */
size_t chunks_before (const Fixture &fixture, double until_ms);

/* One answer of the admin API a test got, for check_against_openapi. */
struct OpenApiExchange {
  std::string method, path;     /* path without the query */
  HttpResponse response;
};

/* Every exchange against doc/openapi.yaml (tests/service/check_openapi.py):
 * prints its summary, fails the test on a mismatch. */
void check_against_openapi (const std::vector<OpenApiExchange> &exchanges);

/* A stream token for key valid until expiry (unix seconds), as a web app
 * makes one with --token-secret's secret (README, Access). */
std::string make_token (const std::string &secret, const std::string &key,
    gint64 expiry);

}  // namespace wsrtmp::test
