/* wsrtmpd's classes on their own, linked from wsrtmpd-core: error
 * classification, tokens, the option table, the client address behind
 * trusted proxies and the admission of a new connection. Runs in about a
 * second; the daemon as a whole is tested by the wsrtmpd-* binaries.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "admin_api.h"
#include "admission.h"
#include "load_guard.h"
#include "bans.h"
#include "client_address.h"
#include "daemon_config.h"
#include "destination.h"
#include "destination_choice.h"
#include "failure.h"
#include "hook_client.h"
#include "keyframe_pacer.h"
#include "metrics.h"
#include "streams_file.h"
#include "tokens.h"
#include "webhooks.h"
#include "whip_offer.h"

#include <cppunit/extensions/HelperMacros.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

using namespace wsrtmp;

namespace {

/* An error message as origin would post it, with the details wsserversrc
 * adds (close-code) when close_code is not 0. */
Failure
classify (const char *factory, GQuark domain, gint code, const char *text,
    int close_code = 0)
{
  GstElement *origin = factory ? gst_element_factory_make (factory, nullptr) :
      gst_bin_new (nullptr);
  CPPUNIT_ASSERT_MESSAGE (factory ? factory : "bin", origin);
  gst_object_ref_sink (origin);
  GstStructure *details = close_code ? gst_structure_new ("details",
      "close-code", G_TYPE_INT, close_code, nullptr) : nullptr;
  g_autoptr (GError) error = g_error_new_literal (domain, code, text);
  GstMessage *message = gst_message_new_error_with_details (
      GST_OBJECT (origin), error, "debug text", details);
  Failure failure = classify_error (message);
  gst_message_unref (message);
  gst_object_unref (origin);
  return failure;
}

/* parse_config on a command line (argv[0] is added). */
bool
parse (std::vector<std::string> args, Config &config, std::string &error)
{
  args.insert (args.begin (), "wsrtmpd");
  std::vector<char *> owned;
  for (const auto &arg : args)
    owned.push_back (g_strdup (arg.c_str ()));
  owned.push_back (nullptr);
  /* GOption may reorder or drop entries: keep our own copy to free. */
  std::vector<char *> argv = owned;
  int argc = static_cast<int> (args.size ());
  char **pointer = argv.data ();
  bool ok = parse_config (&argc, &pointer, config, error);
  for (char *arg : owned)
    g_free (arg);
  return ok;
}

std::string
parse_error (const std::vector<std::string> &args)
{
  Config config;
  std::string error;
  CPPUNIT_ASSERT_MESSAGE ("accepted: " + (args.empty () ? "" : args[0]),
      !parse (args, config, error));
  return error;
}

/* admit () for a connection to path, with what the server runs in
 * state. */
Admission
admit_path (const Config &config, const std::string &path,
    const AdmissionState &state = {}, const char *origin = nullptr,
    const std::string &query = "", gint64 now_s = 1'800'000'000)
{
  AdmissionRequest request;
  request.path = path;
  request.query = query;
  request.has_origin = origin != nullptr;
  request.origin = origin ? origin : "";
  request.now_s = now_s;
  return admit (config, request, state);
}

/* Refused with code and kind (and the key in the log or not), and with
 * reason when one is given. */
void
assert_refused (const Admission &admission, int code, const char *kind,
    bool key_known, const char *reason = nullptr)
{
  std::string what = std::string (kind) + ": " + admission.refusal.reason;
  CPPUNIT_ASSERT_MESSAGE (what,
      admission.verdict == Admission::Verdict::Refuse);
  CPPUNIT_ASSERT_EQUAL_MESSAGE (what, std::string (kind),
      admission.refusal.kind);
  CPPUNIT_ASSERT_EQUAL_MESSAGE (what, code,
      static_cast<int> (admission.refusal.code));
  CPPUNIT_ASSERT_EQUAL_MESSAGE (what, key_known, admission.key_known);
  CPPUNIT_ASSERT_MESSAGE (what, !admission.refusal.reason.empty ());
  if (reason)
    CPPUNIT_ASSERT_EQUAL (std::string (reason), admission.refusal.reason);
}

class TempFile {
 public:
  explicit TempFile (const std::string &contents)
  {
    int fd = g_file_open_tmp ("wsrtmp-core-XXXXXX", &path_, nullptr);
    CPPUNIT_ASSERT (fd >= 0);
    close (fd);
    g_file_set_contents (path_, contents.c_str (), -1, nullptr);
  }
  ~TempFile () { g_unlink (path_); g_free (path_); }
  std::string path () const { return path_; }
 private:
  char *path_ = nullptr;
};

}  // namespace

class CoreTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE (CoreTest);
  CPPUNIT_TEST (testClassifyError);
  CPPUNIT_TEST (testTokens);
  CPPUNIT_TEST (testConfigDefaults);
  CPPUNIT_TEST (testConfigFileAndCommandLine);
  CPPUNIT_TEST (testConfigBadValues);
  CPPUNIT_TEST (testTrustedProxies);
  CPPUNIT_TEST (testClientAddress);
  CPPUNIT_TEST (testDestinationUrls);
  CPPUNIT_TEST (testDestinationSecretsNeverShown);
  CPPUNIT_TEST (testStreamsFile);
  CPPUNIT_TEST (testSeveralRtmpUrls);
  CPPUNIT_TEST (testDestinationMetrics);
  CPPUNIT_TEST (testAdmissionChecks);
  CPPUNIT_TEST (testAdmissionTokens);
  CPPUNIT_TEST (testBans);
  CPPUNIT_TEST (testAdminConfig);
  CPPUNIT_TEST (testAdmissionLimits);
  CPPUNIT_TEST (testAdmissionJoinOrStart);
  CPPUNIT_TEST (testLoadGuard);
  CPPUNIT_TEST (testAdmissionOverloaded);
  CPPUNIT_TEST (testDeclineHandshake);
  CPPUNIT_TEST (testErrorKindsAreDocumented);
  CPPUNIT_TEST (testPublishAnswer);
  CPPUNIT_TEST (testWebhookSignature);
  CPPUNIT_TEST (testWhipAdmission);
  CPPUNIT_TEST (testWhipOffer);
  CPPUNIT_TEST (testKeyframePacer);
  CPPUNIT_TEST_SUITE_END ();

 public:
  void testClassifyError ()
  {
    struct Case {
      const char *factory;
      GQuark domain;
      gint code;
      const char *text;
      int close_code;
      int expected_code;
      const char *kind;
    };
    const Case cases[] = {
      /* wsserversrc closed the client itself: its close code decides. */
      { "wsserversrc", GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED, "too big",
        1009, 1009, "too_big" },
      { "wsserversrc", GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED, "slow",
        1011, 1011, "too_slow" },
      { "wsserversrc", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "bad",
        1002, 1002, "input" },
      /* rtmp2sink: only its text tells what happened. */
      { "rtmp2sink", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_WRITE,
        "Connection refused", 0, 1011, "rtmp_connect" },
      { "rtmp2sink", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_WRITE,
        "Could not resolve host: name or service not known", 0, 1011,
        "rtmp_connect" },
      { "rtmp2sink", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
        "'publish' cmd failed: NetStream.Publish.BadName", 0, 1011,
        "rtmp_refused" },
      { "rtmp2sink", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
        "Connection reset by peer", 0, 1011, "rtmp" },
      { "filesink", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT,
        "No space left on device", 0, 1011, "recording" },
      /* By error code, and by the origin's class. */
      { "matroskademux", GST_STREAM_ERROR, GST_STREAM_ERROR_CODEC_NOT_FOUND,
        "no decoder", 0, 1003, "codec" },
      { "matroskademux", GST_STREAM_ERROR, GST_STREAM_ERROR_DEMUX,
        "bad EBML", 0, 1003, "input" },
      { "x264enc", GST_STREAM_ERROR, GST_STREAM_ERROR_ENCODE, "encode",
        0, 1011, "encoder" },
      { "x264enc", GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT, "caps",
        0, 1011, "encoder" },
      { "x264enc", GST_CORE_ERROR, GST_CORE_ERROR_FAILED, "broken",
        0, 1011, "encoder" },
      { "avdec_vp8", GST_CORE_ERROR, GST_CORE_ERROR_FAILED, "decoding",
        0, 1003, "input" },
      { nullptr, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE, "state",
        0, 1011, "pipeline" },
    };
    for (const auto &c : cases) {
      Failure failure = classify (c.factory, c.domain, c.code, c.text,
          c.close_code);
      std::string what = std::string (c.factory ? c.factory : "bin") + ": " +
          c.text;
      CPPUNIT_ASSERT_EQUAL_MESSAGE (what, std::string (c.kind), failure.kind);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (what, c.expected_code,
          static_cast<int> (failure.code));
      CPPUNIT_ASSERT_MESSAGE (what, !failure.reason.empty ());
    }
  }

  void testTokens ()
  {
    const std::string secret = "0123456789abcdef-unit";
    const gint64 now = 1'800'000'000;
    std::string token = make_token (secret, "key1", now + 60);
    CPPUNIT_ASSERT_EQUAL (std::to_string (now + 60) + ".", token.substr (0,
            11));
    CPPUNIT_ASSERT_EQUAL ((size_t) 11 + 64, token.size ());
    CPPUNIT_ASSERT (check_token (secret, "key1", token, now));
    CPPUNIT_ASSERT (check_token (secret, "key1", token, now + 60));
    /* Hex in capitals is the same signature. */
    g_autofree char *upper = g_ascii_strup (token.c_str (), -1);
    CPPUNIT_ASSERT (check_token (secret, "key1", upper, now));
    /* Expired, another key, another secret. */
    CPPUNIT_ASSERT (!check_token (secret, "key1", token, now + 61));
    CPPUNIT_ASSERT (!check_token (secret, "key2", token, now));
    CPPUNIT_ASSERT (!check_token ("another-secret-of-16", "key1", token, now));
    CPPUNIT_ASSERT (!check_token ("", "key1", token, now));
    /* Tampered: the expiry moved, one signature digit changed, cut short,
     * extended, garbage. */
    std::string later = std::to_string (now + 6000) + token.substr (10);
    CPPUNIT_ASSERT (!check_token (secret, "key1", later, now));
    std::string flipped = token;
    flipped.back () = flipped.back () == '0' ? '1' : '0';
    CPPUNIT_ASSERT (!check_token (secret, "key1", flipped, now));
    CPPUNIT_ASSERT (!check_token (secret, "key1", token.substr (0,
                token.size () - 1), now));
    CPPUNIT_ASSERT (!check_token (secret, "key1", token + "0", now));
    for (const char *bad : { "", ".", "abc", "12.", ".abc", "-5.abc",
             "1e9.abc", "99999999999999999999.abc" })
      CPPUNIT_ASSERT_MESSAGE (bad, !check_token (secret, "key1", bad, now));
  }

  void testConfigDefaults ()
  {
    Config config;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({}, config, error));
    CPPUNIT_ASSERT_EQUAL (std::string ("127.0.0.1"), config.listen_host);
    CPPUNIT_ASSERT_EQUAL (8080, config.listen_port);
    /* No fixed bound: the overload guard decides. */
    CPPUNIT_ASSERT_EQUAL (0, config.max_sessions);
    CPPUNIT_ASSERT_EQUAL (500, config.overload_delay_ms);
    CPPUNIT_ASSERT_EQUAL (85, config.overload_cpu_percent);
    CPPUNIT_ASSERT_EQUAL (0, config.overload_machine_percent);
    CPPUNIT_ASSERT_EQUAL (4, config.max_connections_per_ip);
    CPPUNIT_ASSERT_EQUAL (1, config.codec_threads);
    CPPUNIT_ASSERT_EQUAL (10, config.idle_timeout_s);
    CPPUNIT_ASSERT_EQUAL (10, config.handshake_timeout_s);
    CPPUNIT_ASSERT_EQUAL (10, config.drain_timeout_s);
    CPPUNIT_ASSERT_EQUAL (30, config.rtmp_retry_time_s);
    CPPUNIT_ASSERT (!config.force_transcode);
    CPPUNIT_ASSERT (config.rtmp_url.empty ());
    CPPUNIT_ASSERT (config.record);
    CPPUNIT_ASSERT_EQUAL (std::string ("./recordings"), config.record_dir);
    CPPUNIT_ASSERT (config.record_mp4);
    CPPUNIT_ASSERT_EQUAL (3600, config.record_segment_s);
    CPPUNIT_ASSERT_EQUAL (0, config.record_keep_days);
    CPPUNIT_ASSERT (config.trusted_proxies.empty ());
    CPPUNIT_ASSERT (config.token_secret.empty ());
    CPPUNIT_ASSERT (g_file_test (config.web_root.c_str (),
            G_FILE_TEST_IS_DIR));

    /* The elements' own defaults, read from their property specs. */
    auto element_default = [] (const char *factory, const char *property) {
      GstElement *element = gst_element_factory_make (factory, nullptr);
      CPPUNIT_ASSERT (element);
      GParamSpec *spec = g_object_class_find_property (G_OBJECT_GET_CLASS (
              element), property);
      GValue value = G_VALUE_INIT;
      g_value_init (&value, spec->value_type);
      g_param_value_set_default (spec, &value);
      g_autofree char *text = gst_value_serialize (&value);
      g_value_unset (&value);
      gst_object_unref (gst_object_ref_sink (element));
      return std::string (text);
    };
    CPPUNIT_ASSERT_EQUAL (element_default ("flvencodebin", "video-bitrate"),
        std::to_string (config.video_bitrate_kbps));
    CPPUNIT_ASSERT_EQUAL (element_default ("flvencodebin", "audio-bitrate"),
        std::to_string (config.audio_bitrate_kbps));
    CPPUNIT_ASSERT_EQUAL (element_default ("flvencodebin", "audio-channels"),
        std::to_string (config.audio_channels));
    CPPUNIT_ASSERT_EQUAL (element_default ("flvencodebin", "speed-preset"),
        config.x264_preset);
    CPPUNIT_ASSERT_EQUAL (element_default ("flvencodebin", "framerate"),
        std::to_string (config.framerate) + "/1");
    CPPUNIT_ASSERT_EQUAL (element_default ("wsserversrc", "max-message-size"),
        std::to_string (config.max_message_size));
    /* And what they are today, as README.md says. */
    CPPUNIT_ASSERT_EQUAL (2500, config.video_bitrate_kbps);
    CPPUNIT_ASSERT_EQUAL (128, config.audio_bitrate_kbps);
    CPPUNIT_ASSERT_EQUAL (2, config.audio_channels);
    CPPUNIT_ASSERT_EQUAL (std::string ("veryfast"), config.x264_preset);
    CPPUNIT_ASSERT_EQUAL (30, config.framerate);
    CPPUNIT_ASSERT_EQUAL ((guint64) 16 * 1024 * 1024, config.max_message_size);

    /* With an RTMP URL, recording only when asked for. */
    Config pushing;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--rtmp-url",
            "rtmp://127.0.0.1/live" }, pushing, error));
    CPPUNIT_ASSERT (!pushing.record);
    CPPUNIT_ASSERT_EQUAL (std::string ("rtmp://127.0.0.1/live/k"),
        pushing.rtmp_location ("k"));
  }

  void testConfigFileAndCommandLine ()
  {
    TempFile secret ("0123456789abcdef-from-file\nsecond line\n");
    TempFile file ("[wsrtmpd]\nmax-sessions = 1\nvideo-bitrate = 1500\n"
        "listen = [::1]:9000\nforce-transcode = true\n"
        "allowed-origins = https://a.example.com/, http://b.example.com:8080\n"
        "trusted-proxies = 10.0.0.0/8\n"
        "token-secret-file = " + secret.path () + "\n"
        "rtmp-url = rtmp://127.0.0.1/live/{key}?x=1\n");
    Config config;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--config", file.path (),
            "--max-sessions", "3", "-l", "127.0.0.1:0" }, config, error));
    /* The command line wins, the file fills in the rest. */
    CPPUNIT_ASSERT_EQUAL (3, config.max_sessions);
    CPPUNIT_ASSERT_EQUAL (std::string ("127.0.0.1"), config.listen_host);
    CPPUNIT_ASSERT_EQUAL (0, config.listen_port);
    CPPUNIT_ASSERT_EQUAL (1500, config.video_bitrate_kbps);
    CPPUNIT_ASSERT (config.force_transcode);
    CPPUNIT_ASSERT_EQUAL ((size_t) 2, config.allowed_origins.size ());
    CPPUNIT_ASSERT (config.origin_allowed ("https://A.example.com"));
    CPPUNIT_ASSERT (!config.origin_allowed ("https://c.example.com"));
    CPPUNIT_ASSERT (config.trusted_proxies.contains ("10.1.2.3"));
    CPPUNIT_ASSERT_EQUAL (std::string ("0123456789abcdef-from-file"),
        config.token_secret);
    CPPUNIT_ASSERT_EQUAL (std::string ("rtmp://127.0.0.1/live/k1?x=1"),
        config.rtmp_location ("k1"));
    /* Defaults stay for what neither gave. */
    CPPUNIT_ASSERT_EQUAL (4, config.max_connections_per_ip);

    Config ipv6;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--config", file.path (),
            "--video-bitrate", "900" }, ipv6, error));
    CPPUNIT_ASSERT_EQUAL (std::string ("::1"), ipv6.listen_host);
    CPPUNIT_ASSERT_EQUAL (9000, ipv6.listen_port);
    CPPUNIT_ASSERT_EQUAL (900, ipv6.video_bitrate_kbps);
    CPPUNIT_ASSERT_EQUAL (1, ipv6.max_sessions);
  }

  void testConfigBadValues ()
  {
    /* The messages README and --help promise, word for word. */
    CPPUNIT_ASSERT_EQUAL (std::string ("--max-sessions: \"many\" is not a "
            "whole number from 0 to 100000"),
        parse_error ({ "--max-sessions", "many" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--framerate: \"0\" is not a whole "
            "number from 1 to 120"), parse_error ({ "--framerate", "0" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--audio-bitrate: \"16\" is not a "
            "whole number from 32 to 320"),
        parse_error ({ "--audio-bitrate", "16" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--audio-channels: \"6\" is not a "
            "whole number from 1 to 2"),
        parse_error ({ "--audio-channels", "6" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--video-bitrate: \"60000\" is not a "
            "whole number from 100 to 50000"),
        parse_error ({ "--video-bitrate", "60000" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--codec-threads: \"65\" is not a "
            "whole number from 0 to 64"),
        parse_error ({ "--codec-threads", "65" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--idle-timeout: \"0\" is not a whole "
            "number from 1 to 3600"), parse_error ({ "--idle-timeout", "0" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--max-message-size: \"1000\" is not a "
            "whole number from 1024 to 1073741824"),
        parse_error ({ "--max-message-size", "1000" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--x264-preset: \"warp\" is not one of "
            "ultrafast superfast veryfast faster fast medium slow slower "
            "veryslow placebo"), parse_error ({ "--x264-preset", "warp" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--listen: \"nocolon\" is not "
            "HOST:PORT ([ADDR]:PORT for IPv6)"),
        parse_error ({ "--listen", "nocolon" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--listen: port \"99999\" is not a "
            "number from 0 to 65535"),
        parse_error ({ "--listen", "host:99999" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--rtmp-url: \"http://x/\" must start "
            "with rtmp://, rtmps:// or srt://"),
        parse_error ({ "--rtmp-url", "http://x/" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--allowed-origins: \"example.com\" is "
            "not an origin like https://host[:port]"),
        parse_error ({ "--allowed-origins", "example.com" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--token-secret: use at least 16 "
            "characters (e.g. openssl rand -hex 32)"),
        parse_error ({ "--token-secret", "short" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--token-secret and "
            "--token-secret-file: give one of them"),
        parse_error ({ "--token-secret", "0123456789abcdef0",
            "--token-secret-file", "/nonexistent" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--tls-cert and --tls-key go "
            "together"), parse_error ({ "--tls-cert", "/x.pem" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--trusted-proxies: \"10.0.0.0/33\" is "
            "not an IP address or network (ADDRESS/PREFIX-LENGTH)"),
        parse_error ({ "--trusted-proxies", "127.0.0.1,10.0.0.0/33" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("--web-root: \"/nonexistent\" is not "
            "a directory"), parse_error ({ "--web-root", "/nonexistent" }));
    CPPUNIT_ASSERT_EQUAL (std::string ("unexpected argument \"extra\""),
        parse_error ({ "extra" }));
    CPPUNIT_ASSERT (parse_error ({ "--no-such-option" }).find (
            "--no-such-option") != std::string::npos);

    TempFile unknown ("[wsrtmpd]\nbogus = 1\n");
    CPPUNIT_ASSERT_EQUAL ("--config " + unknown.path () + ": unknown key "
        "\"bogus\" in [wsrtmpd]", parse_error ({ "--config",
            unknown.path () }));
    TempFile version ("[wsrtmpd]\nversion = true\n");
    CPPUNIT_ASSERT (parse_error ({ "--config", version.path () }).find (
            "unknown key \"version\"") != std::string::npos);
    TempFile no_group ("[other]\nlisten = 1.2.3.4:5\n");
    CPPUNIT_ASSERT_EQUAL ("--config " + no_group.path () + ": no [wsrtmpd] "
        "group", parse_error ({ "--config", no_group.path () }));
    TempFile bad_flag ("[wsrtmpd]\nforce-transcode = maybe\n");
    CPPUNIT_ASSERT (parse_error ({ "--config", bad_flag.path () }).find (
            "force-transcode") != std::string::npos);
    /* A bad value in the file has the option's own message. */
    TempFile bad_value ("[wsrtmpd]\nmax-sessions = -1\n");
    CPPUNIT_ASSERT_EQUAL (std::string ("--max-sessions: \"-1\" is not a whole "
            "number from 0 to 100000"),
        parse_error ({ "--config", bad_value.path () }));
  }

  void testTrustedProxies ()
  {
    TrustedProxies trusted;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, trusted.parse (" 127.0.0.1, 10.0.0.0/8,"
            "2001:db8::/32,::1 ,", error));
    for (const char *yes : { "127.0.0.1", "10.0.0.1", "10.255.255.255",
             "2001:db8::5", "::1", "::ffff:10.1.1.1" })
      CPPUNIT_ASSERT_MESSAGE (yes, trusted.contains (yes));
    for (const char *no : { "127.0.0.2", "11.0.0.1", "2001:db9::1", "::2",
             "", "unknown", "10.0.0.1.5" })
      CPPUNIT_ASSERT_MESSAGE (no, !trusted.contains (no));
    for (const char *bad : { "10.0.0.0/33", "localhost", "1.2.3", "::1/129",
             "10.0.0.1/8" }) {
      TrustedProxies other;
      CPPUNIT_ASSERT_MESSAGE (bad, !other.parse (bad, error));
      CPPUNIT_ASSERT_MESSAGE (error, error.find (bad) != std::string::npos);
    }
    TrustedProxies none;
    CPPUNIT_ASSERT (none.parse ("", error) && none.empty ());
  }

  void testClientAddress ()
  {
    TrustedProxies trusted;
    std::string error;
    CPPUNIT_ASSERT (trusted.parse ("10.0.0.0/8, 2001:db8::/32", error));
    auto client = [&] (const char *peer, const char *forwarded,
        const char *x_forwarded_for) {
      return client_address (trusted, peer, forwarded, x_forwarded_for);
    };
    /* Not from a trusted proxy: the headers are ignored. */
    CPPUNIT_ASSERT_EQUAL (std::string ("198.51.100.9"), client ("198.51.100.9",
            "for=203.0.113.1", "203.0.113.1"));
    /* From one: the rightmost address that is not a proxy. */
    CPPUNIT_ASSERT_EQUAL (std::string ("203.0.113.7"), client ("10.0.0.2",
            nullptr, "203.0.113.7"));
    CPPUNIT_ASSERT_EQUAL (std::string ("203.0.113.7"), client ("10.0.0.2",
            nullptr, "203.0.113.7, 10.0.0.3"));
    /* What the client wrote itself, left of it, is never believed. */
    CPPUNIT_ASSERT_EQUAL (std::string ("203.0.113.7"), client ("10.0.0.2",
            nullptr, "1.1.1.1, 10.9.9.9, 203.0.113.7, 10.0.0.3"));
    /* Only proxies: the furthest one named. */
    CPPUNIT_ASSERT_EQUAL (std::string ("10.0.0.4"), client ("10.0.0.2",
            nullptr, "10.0.0.4, 10.0.0.3"));
    /* Not an address: the walk ends at the proxy that wrote it. */
    CPPUNIT_ASSERT_EQUAL (std::string ("10.0.0.3"), client ("10.0.0.2",
            nullptr, "203.0.113.7, unknown, 10.0.0.3"));
    CPPUNIT_ASSERT_EQUAL (std::string ("10.0.0.2"), client ("10.0.0.2",
            nullptr, "garbage"));
    CPPUNIT_ASSERT_EQUAL (std::string ("10.0.0.2"), client ("10.0.0.2",
            nullptr, ""));
    CPPUNIT_ASSERT_EQUAL (std::string ("10.0.0.2"), client ("10.0.0.2",
            nullptr, nullptr));
    /* Ports and brackets, IPv6 in canonical form. */
    CPPUNIT_ASSERT_EQUAL (std::string ("203.0.113.7"), client ("10.0.0.2",
            nullptr, "203.0.113.7:4711"));
    CPPUNIT_ASSERT_EQUAL (std::string ("2001:db9::17"), client ("10.0.0.2",
            nullptr, "[2001:DB9:0::17]:4711"));
    CPPUNIT_ASSERT_EQUAL (std::string ("2001:db9::17"), client (
            "2001:db8::1", nullptr, "2001:db9::17"));
    /* A dual-stack socket's IPv4 peer. */
    CPPUNIT_ASSERT_EQUAL (std::string ("203.0.113.7"), client (
            "::ffff:10.0.0.2", nullptr, "203.0.113.7"));
    /* RFC 7239 Forwarded, its examples. */
    CPPUNIT_ASSERT_EQUAL (std::string ("192.0.2.60"), client ("10.0.0.2",
            "for=192.0.2.60;proto=http;by=203.0.113.43", nullptr));
    CPPUNIT_ASSERT_EQUAL (std::string ("2001:db9:cafe::17"), client (
            "10.0.0.2", "for=192.0.2.43, For=\"[2001:db9:cafe::17]:4711\"",
            nullptr));
    CPPUNIT_ASSERT_EQUAL (std::string ("192.0.2.43"), client ("10.0.0.2",
            "for=192.0.2.43, for=10.1.1.1;proto=https", nullptr));
    CPPUNIT_ASSERT_EQUAL (std::string ("10.0.0.2"), client ("10.0.0.2",
            "for=_hidden, for=unknown", nullptr));
    CPPUNIT_ASSERT_EQUAL (std::string ("10.0.0.2"), client ("10.0.0.2",
            "proto=https", nullptr));
    /* X-Forwarded-For, the header common proxies write, comes first. */
    CPPUNIT_ASSERT_EQUAL (std::string ("203.0.113.7"), client ("10.0.0.2",
            "for=192.0.2.60", "203.0.113.7"));
  }

  /* Each kind of URL, its display name and the sink it gets. */
  void testDestinationUrls ()
  {
    Destination dest;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse_destination (
            "rtmp://a.rtmp.youtube.com/live2/YT-KEY-123", "", dest, error));
    CPPUNIT_ASSERT (dest.kind == Destination::Kind::Rtmp);
    CPPUNIT_ASSERT_EQUAL (std::string ("a.rtmp.youtube.com"), dest.name);
    CPPUNIT_ASSERT_EQUAL (std::string ("rtmp://a.rtmp.youtube.com/live2/"
            "YT-KEY-123"), dest.location);
    CPPUNIT_ASSERT (dest.sink_description (true).find ("rtmp2sink") !=
        std::string::npos);
    /* Beside others: its own queue, which the link measures. */
    CPPUNIT_ASSERT (dest.sink_description (false).find ("%1$s-queue") !=
        std::string::npos);

    CPPUNIT_ASSERT_MESSAGE (error, parse_destination (
            "rtmps://live-api-s.facebook.com:443/rtmp/FB-KEY", "facebook",
            dest, error));
    CPPUNIT_ASSERT_EQUAL (std::string ("facebook"), dest.name);
    CPPUNIT_ASSERT (dest.tls_verify);
    CPPUNIT_ASSERT_EQUAL (std::string ("rtmps"), std::string (
            dest.kind_name ()));
    CPPUNIT_ASSERT_MESSAGE (error, parse_destination (
            "rtmps://127.0.0.1:1936/live/k?tls-verify=0", "", dest, error));
    CPPUNIT_ASSERT (!dest.tls_verify);
    CPPUNIT_ASSERT_EQUAL (std::string ("rtmps://127.0.0.1:1936/live/k"),
        dest.location);
    GstElement *sink = gst_element_factory_make ("rtmp2sink", nullptr);
    CPPUNIT_ASSERT (sink);
    gst_object_ref_sink (sink);
    dest.configure_sink (sink);
    guint flags = 0xff;
    g_object_get (sink, "tls-validation-flags", &flags, nullptr);
    CPPUNIT_ASSERT_EQUAL (0u, flags);
    gst_object_unref (sink);

    CPPUNIT_ASSERT_MESSAGE (error, parse_destination ("srt://ingest.example."
            "com:9000?streamid=anna&passphrase=0123456789ab&latency=300",
            "srt", dest, error));
    CPPUNIT_ASSERT (dest.kind == Destination::Kind::Srt);
    CPPUNIT_ASSERT_EQUAL (std::string ("srt://ingest.example.com:9000"),
        dest.location);
    CPPUNIT_ASSERT_EQUAL (std::string ("anna"), dest.srt_streamid);
    CPPUNIT_ASSERT_EQUAL (300, dest.srt_latency_ms);
    std::string srt = dest.sink_description (false);
    for (const char *element : { "flvdemux", "h264parse", "aacparse",
             "mpegtsmux", "srtsink", "mode=caller" })
      CPPUNIT_ASSERT_MESSAGE (srt, srt.find (element) != std::string::npos);
    /* The description builds (every element installed, pads named). */
    g_autofree char *built = g_strdup_printf (srt.c_str (), "dest0");
    GError *parse_error = nullptr;
    GstElement *bin = gst_parse_bin_from_description (built, TRUE,
        &parse_error);
    CPPUNIT_ASSERT_MESSAGE (parse_error ? parse_error->message : built, bin);
    gst_object_unref (bin);

    /* Bad URLs: a clear word, never the key. */
    struct { const char *url; const char *says; } bad[] = {
      { "http://example.com/live/SECRETKEY", "unsupported destination "
        "scheme \"http\"" },
      { "rtmp://example.com/SECRETKEY", "needs an application and a stream "
        "key" },
      { "srt://example.com?streamid=SECRETKEY", "needs a port" },
      { "srt://example.com:9000?passphrase=short", "10 to 79 characters" },
      { "srt://example.com:9000?latency=soon", "latency is milliseconds" },
      { "srt://example.com:9000?mode=listener", "mode=caller" },
      { "rtmp://example.com/live/k?tls-verify=0", "rtmps:// URLs only" },
      { "nonsense", "not a destination URL" },
    };
    for (const auto &c : bad) {
      CPPUNIT_ASSERT_MESSAGE (c.url, !parse_destination (c.url, "", dest,
              error));
      CPPUNIT_ASSERT_MESSAGE (error, error.find (c.says) != std::string::npos);
      CPPUNIT_ASSERT_MESSAGE (error, error.find ("SECRETKEY") ==
          std::string::npos);
    }
  }

  /* Platform keys, SRT stream ids and passphrases: masked in logs, absent
   * from names and error words. */
  void testDestinationSecretsNeverShown ()
  {
    Destination dest;
    std::string error;
    CPPUNIT_ASSERT (parse_destination ("rtmps://live-api-s.facebook.com:443/"
            "rtmp/FB-SECRET-KEY", "facebook", dest, error));
    CPPUNIT_ASSERT (dest.masked ().find ("FB-SECRET-KEY") == std::string::npos);
    CPPUNIT_ASSERT (dest.masked ().find ("live-api-s.facebook.com") !=
        std::string::npos);
    g_autoptr (GError) refused = g_error_new_literal (GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_OPEN_WRITE, "Connection error: publish rejected "
        "for FB-SECRET-KEY");
    std::string words = describe_sink_error (dest, refused);
    CPPUNIT_ASSERT_EQUAL (std::string ("facebook refused the stream key"),
        words);
    CPPUNIT_ASSERT (sink_error_is_permanent (refused));
    g_autoptr (GError) tls = g_error_new_literal (GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_OPEN_WRITE, "Unacceptable TLS certificate");
    CPPUNIT_ASSERT (describe_sink_error (dest, tls).find ("certificate is "
            "not trusted") != std::string::npos);
    g_autoptr (GError) down = g_error_new_literal (GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_OPEN_WRITE, "Connection refused");
    CPPUNIT_ASSERT_EQUAL (std::string ("cannot reach facebook (connection "
            "refused)"), describe_sink_error (dest, down));
    CPPUNIT_ASSERT (!sink_error_is_permanent (down));

    CPPUNIT_ASSERT (parse_destination ("srt://10.0.0.9:9000?streamid="
            "SECRET-ID&passphrase=SECRET-PASSPHRASE", "", dest, error));
    std::string shown = dest.masked ();
    CPPUNIT_ASSERT_MESSAGE (shown, shown.find ("SECRET-ID") ==
        std::string::npos && shown.find ("SECRET-PASSPHRASE") ==
        std::string::npos && shown.find ("10.0.0.9:9000") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL (std::string ("10.0.0.9"), dest.name);

    /* Platform query parameters go to the server, masked whole. */
    CPPUNIT_ASSERT (parse_destination ("rtmp://h.example.com/app/KEY1?auth="
            "QUERYSECRET", "", dest, error));
    CPPUNIT_ASSERT (dest.location.find ("auth=QUERYSECRET") !=
        std::string::npos);
    CPPUNIT_ASSERT_MESSAGE (dest.masked (), dest.masked ().find (
            "QUERYSECRET") == std::string::npos);
  }

  void testStreamsFile ()
  {
    TempFile good ("# restream\n[studio-anna]\n"
        "destinations = rtmp://a.rtmp.youtube.com/live2/YT-KEY;"
        "rtmps://live-api-s.facebook.com:443/rtmp/FB-KEY;"
        "srt://ingest.example.com:9000?streamid=anna\n"
        "names = youtube;facebook;srt\nrecord = true\n"
        "[solo]\ndestinations = rtmp://a.example.com/live/K1;"
        "rtmp://a.example.com/live/K2\n");
    StreamsTable streams;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, load_streams_file (good.path (), streams,
            error));
    CPPUNIT_ASSERT_EQUAL ((size_t) 2, streams.size ());
    const StreamEntry &anna = streams.at ("studio-anna");
    CPPUNIT_ASSERT (anna.record);
    CPPUNIT_ASSERT_EQUAL ((size_t) 3, anna.destinations.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("facebook"), anna.destinations[1].name);
    CPPUNIT_ASSERT (anna.destinations[2].kind == Destination::Kind::Srt);
    /* Same host twice: told apart. */
    const StreamEntry &solo = streams.at ("solo");
    CPPUNIT_ASSERT (!solo.record);
    CPPUNIT_ASSERT_EQUAL (std::string ("a.example.com"),
        solo.destinations[0].name);
    CPPUNIT_ASSERT_EQUAL (std::string ("a.example.com-2"),
        solo.destinations[1].name);

    struct { const char *text; const char *says; } bad[] = {
      { "[k]\ndestinations = rtmp://h/app/KEY-X;rtmp://h/app/KEY-Y\n"
        "names = one\n", "1 names for 2 destinations" },
      { "[k]\ndestinations = ftp://h/KEY-X\n", "destination 1: unsupported" },
      { "[bad key!]\ndestinations = rtmp://h/app/KEY-X\n", "stream key must" },
      { "[k]\ndestination = rtmp://h/app/KEY-X\n", "unknown key "
        "\"destination\"" },
      { "[k]\nrecord = false\n", "would go nowhere" },
      { "[k]\nrecord = perhaps\n", "record:" },
      { "[k\n", "--streams-file" },
      { "# nothing\n", "no [stream-key] group" },
    };
    for (const auto &c : bad) {
      TempFile file (c.text);
      StreamsTable kept = streams;
      CPPUNIT_ASSERT_MESSAGE (c.text, !load_streams_file (file.path (), kept,
              error));
      CPPUNIT_ASSERT_MESSAGE (error, error.find (c.says) != std::string::npos);
      CPPUNIT_ASSERT_MESSAGE (error, error.find ("KEY-X") ==
          std::string::npos);
      /* Refused whole: what was loaded stays. */
      CPPUNIT_ASSERT_EQUAL ((size_t) 2, kept.size ());
    }

    /* In the daemon's configuration: its keys are allowed, and only
     * those without a --keys-file; SIGHUP keeps the old table on a bad
     * file. */
    Config config;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--streams-file", good.path (),
            "--rtmp-url", "rtmp://127.0.0.1/live" }, config, error));
    CPPUNIT_ASSERT (config.key_allowed ("studio-anna"));
    CPPUNIT_ASSERT (!config.key_allowed ("stranger"));
    bool record = false;
    auto dests = destinations_for (config, "studio-anna", record);
    CPPUNIT_ASSERT (record);
    CPPUNIT_ASSERT_EQUAL ((size_t) 3, dests.size ());
    auto old = config.streams;
    g_file_set_contents (good.path ().c_str (), "[broken\n", -1, nullptr);
    std::string done;
    CPPUNIT_ASSERT (!reload_config_files (config, done, error));
    CPPUNIT_ASSERT (config.streams == old);
    g_file_set_contents (good.path ().c_str (), "[newkey]\ndestinations = "
        "rtmp://h.example.com/app/K\n", -1, nullptr);
    CPPUNIT_ASSERT_MESSAGE (error, reload_config_files (config, done, error));
    CPPUNIT_ASSERT (config.key_allowed ("newkey"));
    CPPUNIT_ASSERT (!config.key_allowed ("studio-anna"));
    /* A stream that started before keeps its table. */
    CPPUNIT_ASSERT (old->count ("studio-anna"));

    TempFile keys ("walk-in\n");
    Config both;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--streams-file", good.path (),
            "--keys-file", keys.path (), "--rtmp-url",
            "rtmp://127.0.0.1/live" }, both, error));
    CPPUNIT_ASSERT (both.key_allowed ("newkey") &&
        both.key_allowed ("walk-in") && !both.key_allowed ("stranger"));
    dests = destinations_for (both, "walk-in", record);
    CPPUNIT_ASSERT_EQUAL ((size_t) 1, dests.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("rtmp://127.0.0.1/live/walk-in"),
        dests[0].location);
  }

  /* --rtmp-url several times, or a ';' list in the file: each a
   * destination for every key. */
  void testSeveralRtmpUrls ()
  {
    Config config;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--rtmp-url",
            "rtmp://127.0.0.1/live", "--rtmp-url",
            "rtmps://backup.example.com/app/{key}-b" }, config, error));
    bool record = true;
    auto dests = destinations_for (config, "k1", record);
    CPPUNIT_ASSERT (!record);
    CPPUNIT_ASSERT_EQUAL ((size_t) 2, dests.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("rtmp://127.0.0.1/live/k1"),
        dests[0].location);
    CPPUNIT_ASSERT_EQUAL (std::string ("rtmps://backup.example.com/app/k1-b"),
        dests[1].location);
    CPPUNIT_ASSERT_EQUAL (std::string ("backup.example.com"), dests[1].name);
    /* srt://: {key} where it says, nothing appended. */
    Config srt;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--rtmp-url",
            "srt://127.0.0.1:9000?streamid={key}" }, srt, error));
    dests = destinations_for (srt, "k3", record);
    CPPUNIT_ASSERT_EQUAL ((size_t) 1, dests.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("k3"), dests[0].srt_streamid);
    CPPUNIT_ASSERT_EQUAL (std::string ("srt://127.0.0.1:9000"),
        dests[0].location);

    TempFile file ("[wsrtmpd]\nrtmp-url = rtmp://127.0.0.1/live; "
        "rtmp://127.0.0.1:1936/live\n");
    Config from_file;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--config", file.path () },
            from_file, error));
    dests = destinations_for (from_file, "k2", record);
    CPPUNIT_ASSERT_EQUAL ((size_t) 2, dests.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("127.0.0.1-2"), dests[1].name);
  }

  void testDestinationMetrics ()
  {
    Metrics metrics;
    metrics.destination_state ("youtube", nullptr, "connecting");
    metrics.destination_state ("youtube", "connecting", "live");
    metrics.add_destination_bytes ("youtube", 1234);
    metrics.destination_reconnect ("youtube");
    std::string text = metrics.prometheus_text ();
    for (const char *line : {
             "wsrtmp_destination_state{destination=\"youtube\","
             "state=\"live\"} 1\n",
             "wsrtmp_destination_state{destination=\"youtube\","
             "state=\"connecting\"} 0\n",
             "wsrtmp_destination_bytes_out_total{destination=\"youtube\"} "
             "1234\n",
             "wsrtmp_destination_reconnects_total{destination=\"youtube\"} "
             "1\n" })
      CPPUNIT_ASSERT_MESSAGE (text, text.find (line) != std::string::npos);
  }

  /* Origin, the key's form, the key allowed: in that order, and what the
   * client and the log are told. */
  void testAdmissionChecks ()
  {
    Config open;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({}, open, error));
    Admission admitted = admit_path (open, "/ingest/key_1-A");
    CPPUNIT_ASSERT (admitted.verdict == Admission::Verdict::Start);
    CPPUNIT_ASSERT_EQUAL (std::string ("key_1-A"), admitted.key);
    CPPUNIT_ASSERT (!admitted.wait_for_previous);
    /* Without --allowed-origins any Origin, or none, will do. */
    CPPUNIT_ASSERT (admit_path (open, "/ingest/k", {}, "https://x.example")
        .verdict == Admission::Verdict::Start);

    for (const char *path : { "/ingest/", "/ingest/bad key", "/ingest/a/b",
             "/ingest/k%21", "/other/k", "/ingest" }) {
      assert_refused (admit_path (open, path), 1008, "key", false,
          "invalid stream key: use 1-128 of A-Z a-z 0-9 _ -");
    }
    assert_refused (admit_path (open, "/ingest/" + std::string (129, 'k')),
        1008, "key", false);
    CPPUNIT_ASSERT (admit_path (open, "/ingest/" + std::string (128, 'k'))
        .verdict == Admission::Verdict::Start);

    Config origins;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--allowed-origins",
            "https://studio.example.com" }, origins, error));
    assert_refused (admit_path (origins, "/ingest/k"), 1008, "origin", false,
        "origin not allowed");
    assert_refused (admit_path (origins, "/ingest/k", {},
            "https://evil.example.com"), 1008, "origin", false);
    /* Before the key: a bad key from a bad origin is an origin refusal. */
    assert_refused (admit_path (origins, "/ingest/bad key", {},
            "https://evil.example.com"), 1008, "origin", false);
    CPPUNIT_ASSERT (admit_path (origins, "/ingest/k", {},
            "https://Studio.example.com").verdict ==
        Admission::Verdict::Start);

    TempFile keys ("walk-in\n");
    Config listed;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--keys-file", keys.path () },
            listed, error));
    Admission stranger = admit_path (listed, "/ingest/stranger");
    assert_refused (stranger, 1008, "key", true, "stream key not allowed");
    CPPUNIT_ASSERT_EQUAL (std::string ("stranger"), stranger.key);
    CPPUNIT_ASSERT (admit_path (listed, "/ingest/walk-in").verdict ==
        Admission::Verdict::Start);
  }

  /* --token-secret: ?token= signed for the key, not expired. */
  /* The admin API's bans (bans.h) and the refusal they make. */
  void testBans ()
  {
    const gint64 now = 1'800'000'000LL * G_USEC_PER_SEC;
    Bans bans;
    CPPUNIT_ASSERT_EQUAL (gint64 (0), bans.seconds_left ("k1", now));
    bans.ban ("k1", now + 3 * G_USEC_PER_SEC);
    CPPUNIT_ASSERT_EQUAL (gint64 (3), bans.seconds_left ("k1", now));
    CPPUNIT_ASSERT_EQUAL (gint64 (3), bans.seconds_left ("k1", now + 1));
    CPPUNIT_ASSERT_EQUAL (gint64 (1), bans.seconds_left ("k1",
            now + 2 * G_USEC_PER_SEC + 1));
    CPPUNIT_ASSERT_EQUAL (gint64 (0), bans.seconds_left ("k1",
            now + 3 * G_USEC_PER_SEC));
    CPPUNIT_ASSERT_EQUAL (gint64 (0), bans.seconds_left ("k2", now));
    bans.ban ("k2", now + G_USEC_PER_SEC);
    bans.prune (now + 2 * G_USEC_PER_SEC);
    CPPUNIT_ASSERT_EQUAL (size_t (1), bans.size ());

    Config config;
    AdmissionState state;
    state.bans = &bans;
    AdmissionRequest request;
    request.path = "/ingest/k1";
    request.now_us = now;
    request.now_s = now / G_USEC_PER_SEC;
    Admission refused = admit (config, request, state);
    assert_refused (refused, 1008, "banned", true);
    CPPUNIT_ASSERT_MESSAGE (refused.refusal.reason,
        refused.refusal.reason.find ("3 s") != std::string::npos);
    /* Over: let in; another key never was kept out. */
    request.now_us = now + 3 * G_USEC_PER_SEC;
    CPPUNIT_ASSERT (admit (config, request, state).verdict ==
        Admission::Verdict::Start);
    request.now_us = now;
    request.path = "/ingest/k3";
    CPPUNIT_ASSERT (admit (config, request, state).verdict ==
        Admission::Verdict::Start);
    /* A bad key is still a key refusal. */
    request.path = "/ingest/k 1";
    assert_refused (admit (config, request, state), 1008, "key", false);
  }

  /* --admin-listen and --admin-token-file; the bearer check. */
  void testAdminConfig ()
  {
    Config off;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({}, off, error));
    CPPUNIT_ASSERT (!off.admin ());
    Config loopback;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--admin-listen",
            "127.0.0.1:0" }, loopback, error));
    CPPUNIT_ASSERT (loopback.admin ());
    CPPUNIT_ASSERT (loopback.admin_token.empty ());
    Config v6;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--admin-listen", "[::1]:9000" },
            v6, error));
    CPPUNIT_ASSERT_EQUAL (std::string ("::1"), v6.admin_host);
    CPPUNIT_ASSERT_EQUAL (9000, v6.admin_port);
    std::string why = parse_error ({ "--admin-listen", "0.0.0.0:9000" });
    CPPUNIT_ASSERT_MESSAGE (why, why.find ("--admin-token-file") !=
        std::string::npos);
    why = parse_error ({ "--admin-listen", "nowhere" });
    CPPUNIT_ASSERT_MESSAGE (why, why.find ("--admin-listen") !=
        std::string::npos);
    TempFile token ("0123456789abcdef-admin\nignored\n");
    Config open;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--admin-listen", "0.0.0.0:9000",
            "--admin-token-file", token.path () }, open, error));
    CPPUNIT_ASSERT_EQUAL (std::string ("0123456789abcdef-admin"),
        open.admin_token);
    TempFile short_token ("short\n");
    parse_error ({ "--admin-listen", "127.0.0.1:0", "--admin-token-file",
        short_token.path () });

    CPPUNIT_ASSERT (admin_authorized ("", nullptr));
    CPPUNIT_ASSERT (admin_authorized ("0123456789abcdef-admin",
            "Bearer 0123456789abcdef-admin"));
    CPPUNIT_ASSERT (admin_authorized ("0123456789abcdef-admin",
            "bearer 0123456789abcdef-admin"));
    for (const char *header : { (const char *) nullptr, "",
             "Bearer ", "Bearer 0123456789abcdef-admi",
             "Bearer 0123456789abcdef-admin ", "Basic 0123456789abcdef-admin",
             "0123456789abcdef-admin" })
      CPPUNIT_ASSERT_MESSAGE (header ? header : "(none)",
          !admin_authorized ("0123456789abcdef-admin", header));
  }

  void testAdmissionTokens ()
  {
    const std::string secret = "0123456789abcdef-unit";
    const gint64 now = 1'800'000'000;
    Config config;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--token-secret", secret },
            config, error));
    std::string good = "token=" + make_token (secret, "k1", now + 60);
    CPPUNIT_ASSERT (admit_path (config, "/ingest/k1", {}, nullptr, good, now)
        .verdict == Admission::Verdict::Start);
    /* Among other parameters too. */
    CPPUNIT_ASSERT (admit_path (config, "/ingest/k1", {}, nullptr,
            "a=1&" + good + "&b=2", now).verdict ==
        Admission::Verdict::Start);
    for (const std::string &query : { std::string (), std::string ("a=1"),
             std::string ("token="), good.substr (0, good.size () - 1),
             "token=" + make_token (secret, "k2", now + 60),
             "token=" + make_token (secret, "k1", now - 1) })
      assert_refused (admit_path (config, "/ingest/k1", {}, nullptr, query,
              now), 1008, "token", true, "invalid or expired token");
    assert_refused (admit_path (config, "/ingest/k1", {}, nullptr, good,
            now + 61), 1008, "token", true);
    /* A key not allowed is refused as such, token or not. */
    TempFile keys ("other\n");
    Config both;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--token-secret", secret,
            "--keys-file", keys.path () }, both, error));
    assert_refused (admit_path (both, "/ingest/k1", {}, nullptr, good, now),
        1008, "key", true);
    /* Draining comes after the token: a bad token stays a token refusal. */
    AdmissionState draining;
    draining.draining = true;
    assert_refused (admit_path (config, "/ingest/k1", draining, nullptr, "",
            now), 1008, "token", true);
    assert_refused (admit_path (config, "/ingest/k1", draining, nullptr, good,
            now), 1001, "shutdown", true);
  }

  /* WHIP: the key and token from the bearer, the same rules; an Origin
   * only checked when one came (OBS sends none). */
  void testWhipAdmission ()
  {
    const std::string secret = "0123456789abcdef-unit";
    const gint64 now = 1'800'000'000;
    Config config;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--token-secret", secret,
            "--allowed-origins", "https://studio.example" }, config, error));
    auto whip = [&] (const std::string &bearer, const char *origin) {
      AdmissionRequest request;
      request.whip = true;
      request.bearer = bearer;
      request.has_origin = origin != nullptr;
      request.origin = origin ? origin : "";
      request.now_s = now;
      request.now_us = now * G_USEC_PER_SEC;
      return admit (config, request, AdmissionState ());
    };
    std::string good = "k1?token=" + make_token (secret, "k1", now + 60);
    Admission admitted = whip (good, nullptr);
    CPPUNIT_ASSERT (admitted.verdict == Admission::Verdict::Start);
    CPPUNIT_ASSERT_EQUAL (std::string ("k1"), admitted.key);
    CPPUNIT_ASSERT (whip (good, "https://studio.example").verdict ==
        Admission::Verdict::Start);
    assert_refused (whip (good, "https://other.example"), 1008, "origin",
        false);
    assert_refused (whip ("k1", nullptr), 1008, "token", true);
    assert_refused (whip ("k1?token=" + make_token (secret, "k2", now + 60),
            nullptr), 1008, "token", true);
    assert_refused (whip ("bad key", nullptr), 1008, "key", false);
  }

  /* What of an offer we take: H.264 packetization-mode=1 first (any
   * profile), VP8 after it, RTX of those kept, simulcast dropped; the
   * m-line named when nothing is taken; a bundle-only m-line is a track. */
  /* The PLI goes out early enough for the sender's answer to land within
   * the interval, learning how long the sender takes. */
  void testKeyframePacer ()
  {
    const gint64 ms = 1000, tick = 250 * ms, interval = 2000 * ms;
    KeyframePacer pacer (tick);
    CPPUNIT_ASSERT (!pacer.due (10000 * ms, interval));   /* no keyframe yet */
    pacer.keyframe (1000 * ms);
    /* First guess 500 ms + the tick: asked 1.25 s after the keyframe. */
    CPPUNIT_ASSERT (!pacer.due (2200 * ms, interval));
    CPPUNIT_ASSERT (pacer.due (2250 * ms, interval));
    pacer.requested (2250 * ms);
    /* Not again before it could have been answered. */
    CPPUNIT_ASSERT (!pacer.due (2500 * ms, interval));
    /* Answered in 150 ms: the next goes out 0.4 s before the interval. */
    pacer.keyframe (2400 * ms);
    CPPUNIT_ASSERT_EQUAL (150 * ms, pacer.answer_delay_us ());
    CPPUNIT_ASSERT (!pacer.due (3950 * ms, interval));
    CPPUNIT_ASSERT (pacer.due (4000 * ms, interval));
    /* A request lost, asked again: the answer counts from the first. */
    pacer.requested (4000 * ms);
    CPPUNIT_ASSERT (!pacer.due (4250 * ms, interval));
    CPPUNIT_ASSERT (pacer.due (4500 * ms, interval));
    pacer.requested (4500 * ms);
    pacer.keyframe (4700 * ms);
    CPPUNIT_ASSERT_EQUAL (700 * ms, pacer.answer_delay_us ());
    /* A slow sender: never asked sooner than half the interval. */
    CPPUNIT_ASSERT (!pacer.due (5700 * ms, interval));
    CPPUNIT_ASSERT (pacer.due (5750 * ms, interval));
    /* A sender that ignores requests (OBS) and makes its own keyframe
     * 3 s later teaches nothing. */
    pacer.requested (5750 * ms);
    pacer.keyframe (8700 * ms);
    CPPUNIT_ASSERT_EQUAL (700 * ms, pacer.answer_delay_us ());
  }

  void testWhipOffer ()
  {
    const std::string head = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\n"
        "t=0 0\r\na=group:BUNDLE 0 1\r\n";
    const std::string video = "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100\r\n"
        "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n"
        "a=ice-ufrag:abcd\r\n"
        "a=extmap:3 " + std::string (TWCC_EXTENSION_URI) + "\r\n"
        "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n"
        "a=fmtp:97 apt=96\r\na=rtpmap:98 H264/90000\r\n"
        "a=fmtp:98 profile-level-id=640c34;packetization-mode=0\r\n"
        "a=rtpmap:99 H264/90000\r\n"
        "a=fmtp:99 profile-level-id=640c34;packetization-mode=1\r\n"
        "a=rtpmap:100 AV1/90000\r\na=rid:h send\r\n"
        "a=simulcast:send h\r\n";
    const std::string audio = "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\n"
        "c=IN IP4 0.0.0.0\r\na=mid:1\r\na=bundle-only\r\na=sendonly\r\n"
        "a=rtpmap:111 opus/48000/2\r\n";
    WhipOffer offer;
    std::string why;
    CPPUNIT_ASSERT_MESSAGE (why, read_whip_offer (head + video + audio,
            offer, why));
    CPPUNIT_ASSERT_EQUAL (size_t (2), offer.tracks.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("abcd"), offer.ice_ufrag);
    CPPUNIT_ASSERT_EQUAL (3, offer.twcc_ext_id);
    CPPUNIT_ASSERT_MESSAGE (offer.sdp, offer.sdp.find (
            "m=video 9 UDP/TLS/RTP/SAVPF 99 96 97\r\n") != std::string::npos);
    for (const char *gone : { "a=rtpmap:98", "a=rtpmap:100", "a=rid:",
             "a=simulcast:" })
      CPPUNIT_ASSERT_MESSAGE (gone, offer.sdp.find (gone) ==
          std::string::npos);

    CPPUNIT_ASSERT (!read_whip_offer (head + "m=video 9 UDP/TLS/RTP/SAVPF 100"
            "\r\na=sendonly\r\na=rtpmap:100 AV1/90000\r\n", offer, why));
    CPPUNIT_ASSERT_MESSAGE (why, why.find ("m-line 0 (video): no codec we "
            "take") == 0);
    CPPUNIT_ASSERT (!read_whip_offer (head + "m=audio 9 UDP/TLS/RTP/SAVPF 111"
            "\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\n", offer, why));
    CPPUNIT_ASSERT_MESSAGE (why, why.find ("m-line 0 (audio): recvonly") ==
        0);
    CPPUNIT_ASSERT (!read_whip_offer ("hello", offer, why));

    auto candidates = read_trickle ("a=ice-ufrag:abcd\r\nm=audio 9 RTP/AVP 0"
        "\r\na=mid:1\r\na=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\n"
        "a=mid:x\r\na=candidate:2 1 udp 1 192.0.2.1 5001 typ host\r\n",
        { "0", "1" });
    CPPUNIT_ASSERT_EQUAL (size_t (1), candidates.size ());
    CPPUNIT_ASSERT_EQUAL (1u, candidates[0].first);
    CPPUNIT_ASSERT_EQUAL (std::string ("abcd"), trickle_ufrag (
            "a=ice-ufrag:abcd\r\n"));

    std::string answer = announce_public_ip (head + "m=video 9 UDP/TLS/RTP/"
        "SAVPF 96\r\na=candidate:1 1 UDP 2015363327 10.0.0.5 43433 typ host"
        "\r\n", "203.0.113.7");
    CPPUNIT_ASSERT_MESSAGE (answer, answer.find ("a=candidate:1 1 UDP "
            "2015363327 203.0.113.7 43433 typ host") != std::string::npos);
    CPPUNIT_ASSERT (answer.find ("10.0.0.5 43433") != std::string::npos);
  }

  /* Draining, --max-sessions and --max-connections-per-ip. */
  void testAdmissionLimits ()
  {
    Config config;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--max-sessions", "2",
            "--max-connections-per-ip", "2" }, config, error));
    AdmissionState state;
    state.draining = true;
    assert_refused (admit_path (config, "/ingest/k", state), 1001, "shutdown",
        true, "server shutting down");

    state = {};
    state.broadcasts = { { "a", true } };
    CPPUNIT_ASSERT (admit_path (config, "/ingest/k", state).verdict ==
        Admission::Verdict::Start);
    CPPUNIT_ASSERT (!at_capacity (config, 1));
    state.broadcasts.push_back ({ "b", true });
    CPPUNIT_ASSERT (at_capacity (config, 2));
    assert_refused (admit_path (config, "/ingest/k", state), 1013, "capacity",
        true, "server at capacity, try again later");
    /* Broadcasts still ending count too. */
    state.broadcasts = { { "a", false }, { "b", false } };
    assert_refused (admit_path (config, "/ingest/k", state), 1013,
        "capacity", true);

    state = {};
    state.streams_from_peer = 1;
    CPPUNIT_ASSERT (admit_path (config, "/ingest/k", state).verdict ==
        Admission::Verdict::Start);
    state.streams_from_peer = 2;
    assert_refused (admit_path (config, "/ingest/k", state), 1013, "per_ip",
        true, "too many streams from your address, try again later");
    /* Capacity is checked first. */
    state.broadcasts = { { "a", true }, { "b", true } };
    assert_refused (admit_path (config, "/ingest/k", state), 1013,
        "capacity", true);

    /* 0: no limit. */
    Config unlimited;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--max-sessions", "0",
            "--max-connections-per-ip", "0" }, unlimited, error));
    CPPUNIT_ASSERT (!at_capacity (unlimited, 100000));
    state.streams_from_peer = 1000;
    state.broadcasts.assign (50, { "a", true });
    CPPUNIT_ASSERT (admit_path (unlimited, "/ingest/k", state).verdict ==
        Admission::Verdict::Start);
  }

  /* The overload guard: on at once when either figure is over its limit,
   * off after three calm samples in a row (delay under half, CPU 10 points
   * under); the median delay, so one slow streamer does not count. */
  void testLoadGuard ()
  {
    LoadGuardSettings settings;
    settings.delay_on_ms = 500;
    settings.cpu_on_percent = 80;
    LoadGuard guard (settings);
    auto sample = [] (double cpu, std::vector<gint64> delays) {
      LoadSample taken;
      taken.cpu_percent = cpu;
      taken.delays_ms = std::move (delays);
      return taken;
    };
    CPPUNIT_ASSERT (!guard.update (sample (10, {})));
    CPPUNIT_ASSERT (!guard.at_risk ());
    /* One broadcast of three far behind: the median is not. */
    CPPUNIT_ASSERT (!guard.update (sample (10, { 0, 5000, 20 })));
    CPPUNIT_ASSERT_EQUAL ((gint64) 20, guard.delay_ms ());
    /* One broadcast alone far behind is its streamer's uplink. */
    CPPUNIT_ASSERT (!guard.update (sample (10, { 5000 })));
    CPPUNIT_ASSERT_EQUAL ((gint64) 5000, guard.delay_ms ());
    /* Most behind: on at once. */
    CPPUNIT_ASSERT (guard.update (sample (10, { 600, 5000, 20 })));
    CPPUNIT_ASSERT (guard.at_risk ());
    CPPUNIT_ASSERT_EQUAL ((gint64) 600, guard.delay_ms ());
    CPPUNIT_ASSERT_MESSAGE (guard.figures (), guard.figures ().find (
            "output delay (median) 600 ms, limit 500 ms") !=
        std::string::npos);
    /* Under the limit but not under half of it: stays on. */
    for (int i = 0; i < 5; i++)
      CPPUNIT_ASSERT (!guard.update (sample (10, { 300 })));
    CPPUNIT_ASSERT (guard.at_risk ());
    /* Three calm samples turn it off; a busy one between starts again. */
    CPPUNIT_ASSERT (!guard.update (sample (10, { 100 })));
    CPPUNIT_ASSERT (!guard.update (sample (10, { 100 })));
    CPPUNIT_ASSERT (!guard.update (sample (75, { 100 })));
    CPPUNIT_ASSERT (!guard.update (sample (10, { 100 })));
    CPPUNIT_ASSERT (!guard.update (sample (10, {})));
    CPPUNIT_ASSERT (guard.at_risk ());
    CPPUNIT_ASSERT (guard.update (sample (69, {})));
    CPPUNIT_ASSERT (!guard.at_risk ());
    /* The CPU alone, two seconds in a row (one is a spike). */
    CPPUNIT_ASSERT (!guard.update (sample (80, { 0 })));
    CPPUNIT_ASSERT (!guard.update (sample (10, { 0 })));
    CPPUNIT_ASSERT (!guard.update (sample (80, { 0 })));
    CPPUNIT_ASSERT (guard.update (sample (80, { 0 })));
    CPPUNIT_ASSERT (guard.at_risk ());

    /* The machine busy with others while we are not. */
    settings.machine_on_percent = 90;
    LoadGuard shared (settings);
    LoadSample busy_machine = sample (20, { 0 });
    busy_machine.machine_percent = 95;
    CPPUNIT_ASSERT (!shared.update (busy_machine));
    CPPUNIT_ASSERT (shared.update (busy_machine));
    CPPUNIT_ASSERT_MESSAGE (shared.figures (), shared.figures ().find (
            "; machine 95 %, limit 90 %") != std::string::npos);
    busy_machine.machine_percent = 85;
    for (int i = 0; i < 3; i++)
      CPPUNIT_ASSERT (!shared.update (busy_machine));
    CPPUNIT_ASSERT (shared.at_risk ());
    busy_machine.machine_percent = 79;
    for (int i = 0; i < 2; i++)
      CPPUNIT_ASSERT (!shared.update (busy_machine));
    CPPUNIT_ASSERT (shared.update (busy_machine));
    CPPUNIT_ASSERT (!shared.at_risk ());

    /* 0: that figure is not watched. */
    LoadGuard off ({ 0, 0, 0, 2, 3 });
    LoadSample everything = sample (100, { 60000 });
    everything.machine_percent = 100;
    CPPUNIT_ASSERT (!off.update (everything));
    CPPUNIT_ASSERT (!off.at_risk ());
  }

  /* Overloaded, a new key is refused with the retryable kind capacity; a
   * connection joining or taking over its own key's broadcast is not. */
  void testAdmissionOverloaded ()
  {
    Config config;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({}, config, error));
    AdmissionState state;
    state.overloaded = true;
    state.broadcasts = { { "live", true } };
    Admission refused = admit_path (config, "/ingest/new", state);
    assert_refused (refused, 1013, "capacity", true,
        "server busy, try again later");
    CPPUNIT_ASSERT (refused.overload);
    /* Takeover (no continuity): a new broadcast for its own key. */
    Admission takeover = admit_path (config, "/ingest/live", state);
    CPPUNIT_ASSERT (takeover.verdict == Admission::Verdict::Start);
    CPPUNIT_ASSERT (takeover.wait_for_previous);
    state.continuity = true;
    CPPUNIT_ASSERT (admit_path (config, "/ingest/live", state).verdict ==
        Admission::Verdict::Join);
    /* Not overloaded: admitted; a ban still comes first. */
    state.overloaded = false;
    CPPUNIT_ASSERT (admit_path (config, "/ingest/new", state).verdict ==
        Admission::Verdict::Start);
    CPPUNIT_ASSERT (!admit_path (config, "/ingest/new", state).overload);
  }

  /* With continuity a connection joins its key's newest accepting
   * broadcast, even at capacity; otherwise it starts one, waiting while an
   * older one for the key still runs. */
  void testAdmissionJoinOrStart ()
  {
    Config config;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--max-sessions", "3" }, config,
            error));
    AdmissionState state;
    state.continuity = true;
    state.broadcasts = { { "k", false }, { "x", true }, { "k", true } };
    Admission joined = admit_path (config, "/ingest/k", state);
    CPPUNIT_ASSERT (joined.verdict == Admission::Verdict::Join);
    CPPUNIT_ASSERT_EQUAL ((size_t) 2, joined.join);
    /* Two accepting: the newest. */
    state.broadcasts = { { "k", true }, { "k", true } };
    CPPUNIT_ASSERT_EQUAL ((size_t) 1, admit_path (config, "/ingest/k",
            state).join);
    /* At capacity a connection still joins, but starts nothing. */
    state.broadcasts = { { "k", true }, { "x", true }, { "y", true } };
    CPPUNIT_ASSERT (admit_path (config, "/ingest/k", state).verdict ==
        Admission::Verdict::Join);
    assert_refused (admit_path (config, "/ingest/z", state), 1013,
        "capacity", true);
    /* The per-address limit holds for joining too. */
    Config per_ip;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--max-connections-per-ip", "1" },
            per_ip, error));
    state.streams_from_peer = 1;
    assert_refused (admit_path (per_ip, "/ingest/k", state), 1013, "per_ip",
        true);
    state.streams_from_peer = 0;

    /* Ending: a new broadcast, after the old one. */
    state.broadcasts = { { "k", false }, { "x", true } };
    Admission started = admit_path (config, "/ingest/k", state);
    CPPUNIT_ASSERT (started.verdict == Admission::Verdict::Start);
    CPPUNIT_ASSERT (started.wait_for_previous);
    /* Without continuity nobody joins. */
    state.continuity = false;
    state.broadcasts = { { "k", true } };
    started = admit_path (config, "/ingest/k", state);
    CPPUNIT_ASSERT (started.verdict == Admission::Verdict::Start);
    CPPUNIT_ASSERT (started.wait_for_previous);
    started = admit_path (config, "/ingest/other", state);
    CPPUNIT_ASSERT (started.verdict == Admission::Verdict::Start);
    CPPUNIT_ASSERT (!started.wait_for_previous);
  }

  /* A draining server sends trusted proxies 503 instead of upgrading. */
  /* The kinds a client can be told are README's table of error kinds,
   * no more and no fewer, in its order (the page's table is checked
   * against the same README: tests/e2e/error_kinds.test.mjs). */
  /* What an --on-publish answer means (hook_client.h). */
  void testPublishAnswer ()
  {
    PublishVerdict ok = read_publish_answer (204, "");
    CPPUNIT_ASSERT (ok.allowed);
    CPPUNIT_ASSERT (!ok.destinations.has_destinations);
    CPPUNIT_ASSERT (read_publish_answer (200, "OK").allowed);

    PublishVerdict no = read_publish_answer (403,
        "{\"reason\":\"  plan\nexpired \"}");
    CPPUNIT_ASSERT (!no.allowed);
    CPPUNIT_ASSERT_EQUAL (std::string ("refused"), no.outcome);
    CPPUNIT_ASSERT_EQUAL (std::string ("plan expired"), no.reason);
    PublishVerdict bare = read_publish_answer (500, "<html>");
    CPPUNIT_ASSERT_EQUAL (std::string ("refused by the streaming service"),
        bare.reason);
    /* A long reason is cut at a character, within 100 bytes. */
    std::string long_reason;
    for (int i = 0; i < 60; i++)
      long_reason += "\xc3\xa9";
    PublishVerdict cut = read_publish_answer (403, "{\"reason\":\"" +
        long_reason + "\"}");
    CPPUNIT_ASSERT (cut.reason.size () <= 100);
    CPPUNIT_ASSERT (g_utf8_validate (cut.reason.c_str (), -1, nullptr));

    PublishVerdict chosen = read_publish_answer (200, "{\"destinations\":"
        "[\"rtmp://a.example.com/live2/SECRET\",{\"url\":\"srt://b.example."
        "com:9000?streamid=x\",\"name\":\"srt\"}],\"record\":true}");
    CPPUNIT_ASSERT (chosen.allowed);
    CPPUNIT_ASSERT (chosen.destinations.has_destinations);
    CPPUNIT_ASSERT_EQUAL ((size_t) 2, chosen.destinations.destinations.size ());
    CPPUNIT_ASSERT_EQUAL (std::string ("srt"),
        chosen.destinations.destinations[1].name);
    CPPUNIT_ASSERT (chosen.destinations.has_record &&
        chosen.destinations.record);
    Config config;
    bool record = false;
    auto used = destinations_for (config, "k", record, &chosen.destinations);
    CPPUNIT_ASSERT_EQUAL ((size_t) 2, used.size ());
    CPPUNIT_ASSERT (record);

    for (const char *bad : { "{\"destinations\":[\"http://x/y\"]}",
             "{\"destinations\":\"rtmp://a/b/c\"}",
             "{\"destinations\":[]}", "{\"destinations\":[{\"name\":\"x\"}]}",
             "{\"record\":\"yes\"}" }) {
      PublishVerdict verdict = read_publish_answer (200, bad);
      CPPUNIT_ASSERT_MESSAGE (bad, !verdict.allowed);
      CPPUNIT_ASSERT_EQUAL_MESSAGE (bad, std::string ("error"),
          verdict.outcome);
      /* The platform's key is never in what the log gets. */
      CPPUNIT_ASSERT (verdict.detail.find ("SECRET") == std::string::npos);
    }
    CPPUNIT_ASSERT (read_publish_answer (200,
        "{\"destinations\":[],\"record\":true}").allowed);
  }

  /* The webhook's signature: HMAC-SHA256 of the exact body, in hex
   * (RFC 4231 test case 2), and the body's members in order. */
  void testWebhookSignature ()
  {
    CPPUNIT_ASSERT_EQUAL (std::string ("sha256=5bdcc146bf60754e6a042426089575"
            "c75a003f089d2739839dec58b964ec3843"),
        Webhooks::signature ("Jefe", "what do ya want for nothing?"));
    JsonObject *fields = json_object_new ();
    json_object_set_double_member (fields, "duration_s", 1.5);
    std::string body = Webhooks::event_body ("id-1", "broadcast.ended",
        "2025-01-01T00:00:00.000Z", "anna", fields);
    json_object_unref (fields);
    CPPUNIT_ASSERT_EQUAL (std::string ("{\"id\":\"id-1\",\"type\":"
            "\"broadcast.ended\",\"time\":\"2025-01-01T00:00:00.000Z\","
            "\"key\":\"anna\",\"duration_s\":1.5}"), body);
  }

  void testErrorKindsAreDocumented ()
  {
    const char *root = g_getenv ("WSRTMP_SOURCE_ROOT");
    CPPUNIT_ASSERT (root);
    g_autofree char *readme = nullptr;
    CPPUNIT_ASSERT (g_file_get_contents ((std::string (root) +
                "/README.md").c_str (), &readme, nullptr, nullptr));
    const char *table = strstr (readme, "\nError kinds (");
    CPPUNIT_ASSERT (table);
    std::vector<std::string> documented;
    g_auto (GStrv) lines = g_strsplit (table + 1, "\n", -1);
    bool in_table = false;
    for (char **line = lines; *line; line++) {
      if (g_str_has_prefix (*line, "| `")) {
        in_table = true;
        const char *start = *line + 3;
        const char *end = strchr (start, '`');
        documented.emplace_back (start, end ? end - start : 0);
      } else if (in_table && !g_str_has_prefix (*line, "|")) {
        break;
      }
    }
    CPPUNIT_ASSERT_EQUAL (error_kinds ().size (), documented.size ());
    for (size_t i = 0; i < documented.size (); i++)
      CPPUNIT_ASSERT_EQUAL (error_kinds ()[i], documented[i]);
    CPPUNIT_ASSERT (is_error_kind ("too_big"));
    CPPUNIT_ASSERT (!is_error_kind ("constructor"));
  }

  void testDeclineHandshake ()
  {
    Config direct;
    std::string error;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({}, direct, error));
    CPPUNIT_ASSERT (!decline_handshake (direct, true, "127.0.0.1"));
    Config proxied;
    CPPUNIT_ASSERT_MESSAGE (error, parse ({ "--trusted-proxies",
            "10.0.0.0/8" }, proxied, error));
    CPPUNIT_ASSERT (decline_handshake (proxied, true, "10.1.2.3"));
    CPPUNIT_ASSERT (!decline_handshake (proxied, false, "10.1.2.3"));
    CPPUNIT_ASSERT (!decline_handshake (proxied, true, "203.0.113.5"));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION (CoreTest);
