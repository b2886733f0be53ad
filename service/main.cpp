/* wsrtmpd: browser camera (MediaRecorder over WebSocket) to RTMP.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "wsrtmpd"

#include "admin_api.h"
#include "allocator.h"
#include "daemon_config.h"
#include "record_dir_sweep.h"
#include "pipeline_factory.h"
#include "server.h"
#include "systemd_notify.h"

#include <glib-unix.h>
#include <gst/gst.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <unistd.h>

namespace {

struct App {
  GMainLoop *loop = nullptr;
  wsrtmp::Server *server = nullptr;
  int signals = 0;
  guint drain_timer = 0;
  int drain_timeout_s = 10;
};

gboolean
on_drain_timeout (gpointer data)
{
  auto *app = static_cast<App *> (data);
  app->drain_timer = 0;
  g_warning ("streams still draining after %d s; stopping them now",
      app->drain_timeout_s);
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

gboolean
on_signal (gpointer data)
{
  auto *app = static_cast<App *> (data);
  if (++app->signals > 1) {
    g_warning ("second signal: exiting at once");
    _exit (1);
  }
  g_message ("stopping: no new streams, draining %zu active one(s) "
      "(signal again to exit at once)", app->server->session_count ());
  wsrtmp::systemd_notify_stopping ("draining " +
      std::to_string (app->server->session_count ()) + " stream(s)");
  /* Bounded: the sessions' own drain timers fire too, this is the backstop
   * (with the time queued webhooks get after the drain). */
  app->drain_timer = g_timeout_add_seconds (app->drain_timeout_s + 2 +
      (wsrtmp::Webhooks::FLUSH_AT_EXIT_MS + 999) / 1000, on_drain_timeout,
      app);
  app->server->shutdown ([app] { g_main_loop_quit (app->loop); });
  return G_SOURCE_CONTINUE;
}

/* SIGHUP (systemctl reload): new streams use the re-read key list and
 * token secret; a file that does not parse is refused and the old one stays. */
gboolean
on_reload (gpointer data)
{
  auto *config = static_cast<wsrtmp::Config *> (data);
  wsrtmp::systemd_notify_reloading ();
  std::string done, error;
  if (wsrtmp::reload_config_files (*config, done, error))
    g_message ("reloaded %s", done.c_str ());
  else
    g_warning ("reload refused, keeping the previous files: %s",
        error.c_str ());
  wsrtmp::systemd_notify_ready ("reloaded");
  return G_SOURCE_CONTINUE;
}

/* Uninstalled runs: the plugin is next door in the build tree. */
bool
find_plugin ()
{
  g_autoptr (GstElementFactory) factory = gst_element_factory_find (
      "wsserversrc");
  if (factory)
    return true;
#ifdef WSRTMP_PLUGIN_BUILD_DIR
  if (g_file_test (WSRTMP_PLUGIN_BUILD_DIR, G_FILE_TEST_IS_DIR)) {
    gst_registry_scan_path (gst_registry_get (), WSRTMP_PLUGIN_BUILD_DIR);
    g_autoptr (GstElementFactory) again = gst_element_factory_find (
        "wsserversrc");
    if (again)
      return true;
  }
#endif
  return false;
}

}  // namespace

int
main (int argc, char **argv)
{
  wsrtmp::tune_allocator (argv);
  /* GStreamer first (it takes its --gst-* options out of argv): the option
   * table reads defaults and ranges from our elements. */
  gst_init (&argc, &argv);
  if (!find_plugin ()) {
    g_printerr ("wsrtmpd: the GStreamer element wsserversrc (plugin "
        "\"wsrtmp\") is not installed. For an uninstalled build, set "
        "GST_PLUGIN_PATH=<builddir>/plugin\n");
    return 1;
  }
  wsrtmp::Config config;
  std::string error;
  if (!wsrtmp::parse_config (&argc, &argv, config, error)) {
    g_printerr ("wsrtmpd: %s\n(see wsrtmpd --help)\n", error.c_str ());
    return 2;
  }
  std::string missing;
  if (!wsrtmp::PipelineFactory::check_elements (missing)) {
    g_printerr ("wsrtmpd: the GStreamer element \"%s\" is missing; install "
        "gstreamer1.0-plugins-{base,good,bad,ugly} and gstreamer1.0-libav\n",
        missing.c_str ());
    return 1;
  }

  wsrtmp::EncodeSettings settings;
  settings.video_bitrate_kbps = config.video_bitrate_kbps;
  settings.x264_preset = config.x264_preset;
  settings.framerate = config.framerate;
  settings.codec_threads = config.codec_threads;
  settings.audio_bitrate_kbps = config.audio_bitrate_kbps;
  settings.audio_channels = config.audio_channels;
  settings.passthrough = !config.force_transcode;
  wsrtmp::ContinuitySettings continuity;
  continuity.timeout_s = config.continuity_timeout_s;
  continuity.slate_image = config.slate_image;
  wsrtmp::PipelineFactory factory (settings, continuity);

  App app;
  app.drain_timeout_s = config.drain_timeout_s;
  app.loop = g_main_loop_new (nullptr, FALSE);
  {
    wsrtmp::Server server (config, factory);
    app.server = &server;
    std::string url;
    if (!server.listen (url, error)) {
      g_printerr ("wsrtmpd: %s\n", error.c_str ());
      g_main_loop_unref (app.loop);
      return 1;
    }
    /* --admin-listen: the operator's API, on a listener of its own. */
    std::unique_ptr<wsrtmp::AdminApi> admin;
    std::string admin_url;
    if (config.admin ()) {
      admin = std::make_unique<wsrtmp::AdminApi> (config, server);
      if (!admin->listen (admin_url, error)) {
        g_printerr ("wsrtmpd: %s\n", error.c_str ());
        g_main_loop_unref (app.loop);
        return 1;
      }
      g_message ("admin API at %sapi/v1/broadcasts%s", admin_url.c_str (),
          config.admin_token.empty () ? " (no token: loopback only)" : "");
      /* Before the listening line, which tests and scripts wait for. */
      printf ("wsrtmpd admin API on %s\n", admin_url.c_str ());
    }
    guint sigint = g_unix_signal_add (SIGINT, on_signal, &app);
    guint sigterm = g_unix_signal_add (SIGTERM, on_signal, &app);
    guint sighup = g_unix_signal_add (SIGHUP, on_reload, &config);

    std::string destination = config.rtmp_url.empty () ? "" :
        "RTMP " + config.rtmp_url;
    if (config.record)
      destination += (destination.empty () ? "" : " + ") +
          std::string ("recordings in ") + config.record_dir;
    g_message ("wsrtmpd %s: ingest at %singest/KEY, output to %s",
        WSRTMP_VERSION, url.c_str (), destination.c_str ());
    /* Tests and scripts wait for this exact line (and the real port). */
    printf ("wsrtmpd listening on %s\n", url.c_str ());
    fflush (stdout);
    wsrtmp::systemd_notify_ready ("listening on " + url);
    wsrtmp::SystemdWatchdog watchdog;

    /* --record-dir's sweep (--record-keep-days, abandoned rewrites): at
     * start, then every hour. */
    guint sweep_timer = 0;
    if (!config.record_dir.empty ()) {
      auto sweep = [] (gpointer data) -> gboolean {
        auto *c = static_cast<const wsrtmp::Config *> (data);
        wsrtmp::remove_old_recordings (c->record_dir, c->record_keep_days);
        wsrtmp::remove_abandoned_rewrites (c->record_dir);
        return G_SOURCE_CONTINUE;
      };
      sweep (&config);
      sweep_timer = g_timeout_add_seconds (3600, sweep, &config);
    }

    g_main_loop_run (app.loop);

    if (sweep_timer)
      g_source_remove (sweep_timer);

    if (app.drain_timer)
      g_source_remove (app.drain_timer);
    g_source_remove (sigint);
    g_source_remove (sigterm);
    g_source_remove (sighup);
    /* Still exit 0: the operator asked us to stop and we did, in bounded
     * time; the sessions' own logs say which streams were cut short. */
    if (server.session_count () > 0)
      g_warning ("%zu stream(s) did not finish draining",
          server.session_count ());
    g_message ("stopped");
  }
  g_main_loop_unref (app.loop);
  /* Every broadcast and connection is gone: GStreamer's leaks tracer
   * (GST_TRACERS=leaks, as the tests run us) reports here any object that
   * outlived them. */
  gst_deinit ();
  return 0;
}
