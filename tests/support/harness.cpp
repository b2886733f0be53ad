/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "harness.h"

#include <algorithm>

#include "fixture.h"
#include "test_main.h"

#include <cppunit/TestAssert.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace wsrtmp::test {

namespace {

/* Cancels a blocking GIO call after timeout_ms unless disarmed first. */
class Deadline {
 public:
  explicit Deadline (int timeout_ms) : cancellable_ (g_cancellable_new ())
  {
    thread_ = std::thread ([this, timeout_ms] {
      std::unique_lock<std::mutex> lock (mutex_);
      if (!cond_.wait_for (lock, std::chrono::milliseconds (timeout_ms),
              [this] { return done_; }))
        g_cancellable_cancel (cancellable_);
    });
  }
  ~Deadline ()
  {
    {
      std::lock_guard<std::mutex> lock (mutex_);
      done_ = true;
    }
    cond_.notify_all ();
    thread_.join ();
    g_object_unref (cancellable_);
  }
  GCancellable *cancellable () const { return cancellable_; }
 private:
  GCancellable *cancellable_;
  std::mutex mutex_;
  std::condition_variable cond_;
  bool done_ = false;
  std::thread thread_;
};

std::vector<const char *>
c_argv (const std::vector<std::string> &argv)
{
  std::vector<const char *> out;
  for (const auto &arg : argv)
    out.push_back (arg.c_str ());
  out.push_back (nullptr);
  return out;
}

std::string
daemon_path ()
{
  const char *path = g_getenv ("WSRTMPD");
  if (path)
    return path;
  return build_root () + "/service/wsrtmpd";
}

}  // namespace

Nginx::Nginx (const std::string &dir) : dir_ (dir)
{
  std::string script = source_root () + "/tests/support/nginx-rtmp.sh";
  std::string out, err;
  /* A port free a moment ago can be taken meanwhile (free ports come from
   * the range outgoing connections use): try again with others. */
  for (int attempt = 0; attempt < 5; attempt++) {
    port_ = free_port ();
    if (run_command ({ script, "start", dir_, std::to_string (port_),
            std::to_string (free_port ()) }, &out, &err) == 0)
      return;
    if (err.find ("Address already in use") == std::string::npos)
      break;
  }
  throw std::runtime_error ("nginx-rtmp.sh start failed: " + err);
}

Nginx::~Nginx ()
{
  std::string script = source_root () + "/tests/support/nginx-rtmp.sh";
  run_command ({ script, "stop", dir_ }, nullptr, nullptr);
}

std::string
Nginx::url () const
{
  return "rtmp://127.0.0.1:" + std::to_string (port_) + "/live";
}

std::string
Nginx::recording (const std::string &key) const
{
  return dir_ + "/rec/" + key + ".flv";
}

std::string
context (const Daemon &daemon, const std::string &what)
{
  return what + "\n--- wsrtmpd log ---\n" + daemon.log ();
}

int
Nginx::publishes (const std::string &key) const
{
  g_autofree char *log = nullptr;
  if (!g_file_get_contents ((dir_ + "/error.log").c_str (), &log, nullptr,
          nullptr))
    return 0;
  int count = 0;
  const std::string needle = "publish: name='" + key + "'";
  for (const char *at = strstr (log, needle.c_str ()); at;
       at = strstr (at + 1, needle.c_str ()))
    count++;
  return count;
}

Daemon::Daemon (const std::vector<std::string> &args, const std::string &cwd)
{
  log_path_ = log_dir_.file ("wsrtmpd.log");
  std::vector<std::string> argv = { daemon_path (), "--listen",
    "127.0.0.1:0" };
  /* Tests written for one broadcast per connection run with continuity
   * off (--continuity-timeout 0: "today's behaviour"); the continuity
   * tests ask for it. */
  if (std::find (args.begin (), args.end (), "--continuity-timeout") ==
      args.end ())
    argv.insert (argv.end (), { "--continuity-timeout", "0" });
  /* The same for the overload guard (on by default): a test's deliberate
   * stall or a slow sanitizer build is no overload; test_overload asks
   * for it. */
  if (std::find (args.begin (), args.end (), "--overload-delay-ms") ==
      args.end ())
    argv.insert (argv.end (), { "--overload-delay-ms", "0",
        "--overload-cpu-percent", "0", "--overload-machine-percent", "0" });
  argv.insert (argv.end (), args.begin (), args.end ());
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_stderr_file_path (launcher, log_path_.c_str ());
  if (!cwd.empty ())
    g_subprocess_launcher_set_cwd (launcher, cwd.c_str ());
  g_autoptr (GError) error = nullptr;
  auto cargv = c_argv (argv);
  process_ = g_subprocess_launcher_spawnv (launcher, cargv.data (), &error);
  if (!process_)
    throw std::runtime_error (std::string ("cannot start wsrtmpd: ") +
        error->message);

  g_autoptr (GDataInputStream) lines = g_data_input_stream_new (
      g_subprocess_get_stdout_pipe (process_));
  Deadline deadline (10000);
  const std::string marker = "wsrtmpd listening on ";
  const std::string admin_marker = "wsrtmpd admin API on ";
  while (true) {
    g_autofree char *line = g_data_input_stream_read_line_utf8 (lines, nullptr,
        deadline.cancellable (), nullptr);
    if (!line)
      break;
    std::string text = line;
    if (text.rfind (admin_marker, 0) == 0)
      admin_url_ = text.substr (admin_marker.size ());
    if (text.rfind (marker, 0) == 0) {
      url_ = text.substr (marker.size ());
      break;
    }
  }
  if (url_.empty ()) {
    std::string output = log ();
    terminate (2000);
    throw std::runtime_error ("wsrtmpd did not start: " + output);
  }
}

Daemon::~Daemon ()
{
  if (process_) {
    terminate (15000);
    g_object_unref (process_);
  }
}

std::string
Daemon::ingest_url (const std::string &key) const
{
  std::string ws = url_;
  ws.replace (0, 4, "ws");      /* http -> ws, https -> wss */
  return ws + "ingest/" + key;
}

int
Daemon::terminate (int timeout_ms)
{
  if (!process_)
    return -1;
  if (g_subprocess_get_identifier (process_)) {
    g_subprocess_send_signal (process_, SIGTERM);
  }
  Deadline deadline (timeout_ms);
  if (!g_subprocess_wait (process_, deadline.cancellable (), nullptr)) {
    g_subprocess_force_exit (process_);
    g_subprocess_wait (process_, nullptr, nullptr);
    return -1;
  }
  if (!g_subprocess_get_if_exited (process_))
    return 128 + g_subprocess_get_term_sig (process_);
  report_leaks ();
  return g_subprocess_get_exit_status (process_);
}

/* A daemon that exits by itself ends GStreamer (gst_deinit): its leaks
 * tracer (GST_TRACERS in the tests' environment) then logs every object
 * that outlived the broadcasts, one "object-alive" record each. */
void
Daemon::report_leaks ()
{
  if (leaks_reported_)
    return;
  leaks_reported_ = true;
  std::string text = log ();
  if (text.find ("Leaks detected") == std::string::npos)
    return;
  std::string objects;
  const std::string record = "object-alive, ";
  size_t records = 0;
  for (size_t at = text.find (record); at != std::string::npos;
       at = text.find (record, at + 1)) {
    size_t end = text.find ('\n', at);
    std::string object = text.substr (at + record.size (),
        end == std::string::npos ? std::string::npos :
        end - at - record.size ());
    /* The tracer's description of its record's fields. */
    if (object.find ("type-name=(string)%s") != std::string::npos)
      continue;
    records++;
    /* The dtls plugin's one agent with a generated certificate, made once
     * per process for every DTLS connection (WHIP) and kept by design. */
    if (object.find ("type-name=(string)GstDtlsAgent,") != std::string::npos)
      continue;
    objects += object + "\n";
  }
  if (records > 0 && objects.empty ())
    return;
  report_leak ("wsrtmpd's leaks tracer: objects alive at exit:\n" +
      (objects.empty () ? std::string ("(set GST_DEBUG=GST_TRACER:7 to "
          "list them)\n") : objects));
}

std::string
Daemon::log () const
{
  g_autofree char *contents = nullptr;
  if (!g_file_get_contents (log_path_.c_str (), &contents, nullptr, nullptr))
    return "";
  return contents;
}

bool
Daemon::wait_logged (const std::string &text, int timeout_ms) const
{
  auto until = std::chrono::steady_clock::now () +
      std::chrono::milliseconds (timeout_ms);
  while (log ().find (text) == std::string::npos) {
    if (std::chrono::steady_clock::now () >= until)
      return false;
    std::this_thread::sleep_for (std::chrono::milliseconds (100));
  }
  return true;
}

bool
Daemon::wait_idle (int timeout_ms) const
{
  auto until = std::chrono::steady_clock::now () +
      std::chrono::milliseconds (timeout_ms);
  while (std::chrono::steady_clock::now () < until) {
    HttpResponse health = http_get (url_ + "healthz");
    if (health.status == 200 &&
        health.body.find ("\"sessions_active\":0") != std::string::npos &&
        health.body.find ("\"broadcasts_active\":0") != std::string::npos)
      return true;
    std::this_thread::sleep_for (std::chrono::milliseconds (200));
  }
  return false;
}

int
Daemon::pid () const
{
  const char *id = process_ ? g_subprocess_get_identifier (process_) : nullptr;
  return id ? atoi (id) : 0;
}

int
Daemon::port () const
{
  auto colon = url_.rfind (':');
  return atoi (url_.c_str () + colon + 1);
}

ProcStats
proc_stats (int pid)
{
  ProcStats stats;
  std::string base = "/proc/" + std::to_string (pid);
  g_autofree char *status = nullptr;
  if (g_file_get_contents ((base + "/status").c_str (), &status, nullptr,
          nullptr)) {
    g_auto (GStrv) lines = g_strsplit (status, "\n", -1);
    for (char **line = lines; *line; line++) {
      if (g_str_has_prefix (*line, "VmRSS:"))
        stats.rss_kb = atol (*line + 6);
      else if (g_str_has_prefix (*line, "Threads:"))
        stats.threads = atoi (*line + 8);
    }
  }
  /* PSS: the process's share of the pages it maps (shared libraries
   * divided among their users): what it costs the machine. */
  g_autofree char *rollup = nullptr;
  if (g_file_get_contents ((base + "/smaps_rollup").c_str (), &rollup,
          nullptr, nullptr)) {
    const char *pss = strstr (rollup, "\nPss:");
    if (pss)
      stats.pss_kb = atol (pss + 5);
    const char *anonymous = strstr (rollup, "\nAnonymous:");
    if (anonymous)
      stats.anonymous_kb = atol (anonymous + 11);
  }
  g_autoptr (GDir) fds = g_dir_open ((base + "/fd").c_str (), 0, nullptr);
  if (fds) {
    while (g_dir_read_name (fds))
      stats.fds++;
  }
  return stats;
}

double
metric (const std::string &metrics_body, const std::string &name)
{
  auto at = metrics_body.find ("\n" + name + " ");
  if (at == std::string::npos)
    return -1;
  return g_ascii_strtod (metrics_body.c_str () + at + name.size () + 2,
      nullptr);
}

int
run_command (const std::vector<std::string> &argv, std::string *out,
    std::string *err, const std::string &cwd, int timeout_ms)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      static_cast<GSubprocessFlags> (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
          G_SUBPROCESS_FLAGS_STDERR_PIPE));
  if (!cwd.empty ())
    g_subprocess_launcher_set_cwd (launcher, cwd.c_str ());
  auto cargv = c_argv (argv);
  g_autoptr (GError) error = nullptr;
  g_autoptr (GSubprocess) process = g_subprocess_launcher_spawnv (launcher,
      cargv.data (), &error);
  if (!process)
    throw std::runtime_error ("cannot run " + argv[0] + ": " + error->message);
  g_autofree char *stdout_text = nullptr;
  g_autofree char *stderr_text = nullptr;
  Deadline deadline (timeout_ms);
  if (!g_subprocess_communicate_utf8 (process, nullptr, deadline.cancellable (),
          &stdout_text, &stderr_text, &error)) {
    g_subprocess_force_exit (process);
    return -1;
  }
  if (out)
    *out = stdout_text ? stdout_text : "";
  if (err)
    *err = stderr_text ? stderr_text : "";
  return g_subprocess_get_if_exited (process) ?
      g_subprocess_get_exit_status (process) : -1;
}

HttpResponse
http_get (const std::string &url)
{
  return http_request ("GET", url);
}

HttpResponse
http_request (const std::string &method, const std::string &url,
    const std::string &request_body, const std::string &bearer,
    const std::vector<std::pair<std::string, std::string>> &headers)
{
  HttpResponse response;
  g_autoptr (SoupSession) session = soup_session_new_with_options (
      "timeout", 5, nullptr);
  g_autoptr (SoupMessage) msg = soup_message_new (method.c_str (),
      url.c_str ());
  if (!msg)
    return response;
  if (!request_body.empty ()) {
    g_autoptr (GBytes) bytes = g_bytes_new (request_body.data (),
        request_body.size ());
    soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  }
  if (!bearer.empty ())
    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Authorization", ("Bearer " + bearer).c_str ());
  for (const auto &[name, value] : headers)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
        name.c_str (), value.c_str ());
  /* Only ever our own daemon: its test certificate is self-signed. */
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (+[] (
          SoupMessage *, GTlsCertificate *, GTlsCertificateFlags) -> gboolean {
        return TRUE;
      }), nullptr);
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, nullptr,
      nullptr);
  response.status = soup_message_get_status (msg);
  const char *type = soup_message_headers_get_content_type (
      soup_message_get_response_headers (msg), nullptr);
  response.content_type = type ? type : "";
  if (body) {
    gsize size;
    auto *data = static_cast<const char *> (g_bytes_get_data (body, &size));
    response.body.assign (data ? data : "", size);
  }
  return response;
}

std::string
bytes_of (GBytes *bytes)
{
  gsize size;
  auto *data = static_cast<const char *> (g_bytes_get_data (bytes, &size));
  return std::string (data, size);
}

size_t
write_prefix (const Fixture &fixture, double until_ms, const std::string &path)
{
  std::ofstream file (path, std::ios::binary);
  size_t count = 0;
  double t0 = fixture.chunks ().front ().t_ms;
  for (const auto &chunk : fixture.chunks ()) {
    if (chunk.t_ms - t0 >= until_ms)
      break;
    gsize size;
    auto *data = static_cast<const char *> (g_bytes_get_data (chunk.bytes,
            &size));
    file.write (data, size);
    count++;
  }
  return count;
}

/* Kills our nginx abruptly (master and workers), like a crash. */
void
kill_nginx (const std::string &dir)
{
  g_autofree char *text = nullptr;
  if (!g_file_get_contents ((dir + "/nginx.pid").c_str (), &text, nullptr,
          nullptr))
    return;
  int master = atoi (text);
  /* The master first: killed after a worker, it could respawn that worker,
   * and the orphan would go on serving the port. */
  std::vector<int> workers;
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, nullptr);
  for (const char *name; (name = g_dir_read_name (proc));) {
    int pid = atoi (name);
    if (pid <= 0)
      continue;
    g_autofree char *stat = nullptr;
    if (!g_file_get_contents ((std::string ("/proc/") + name + "/stat").c_str (),
            &stat, nullptr, nullptr))
      continue;
    const char *close = strrchr (stat, ')');
    int ppid = 0;
    if (close && sscanf (close + 2, "%*c %d", &ppid) == 1 && ppid == master)
      workers.push_back (pid);
  }
  kill (master, SIGKILL);
  for (int pid : workers)
    kill (pid, SIGKILL);
  std::this_thread::sleep_for (std::chrono::milliseconds (200));
}

bool
restart_nginx (const std::string &dir, const std::string &rtmp_url,
    std::string *error)
{
  std::string port = rtmp_url.substr (rtmp_url.rfind (':') + 1);
  port = port.substr (0, port.find ('/'));
  std::string out, err;
  /* The killed processes may hold the port a moment longer. */
  for (int attempt = 0; attempt < 20; attempt++) {
    if (attempt)
      std::this_thread::sleep_for (std::chrono::milliseconds (250));
    if (run_command ({ source_root () + "/tests/support/nginx-rtmp.sh",
            "start", dir, port, std::to_string (free_port ()) }, &out,
            &err) == 0)
      return true;
  }
  if (error)
    *error = err;
  return false;
}

void
reload_daemon (const Daemon &daemon, const std::string &expect)
{
  size_t before = daemon.log ().size ();
  CPPUNIT_ASSERT_EQUAL (0, kill (daemon.pid (), SIGHUP));
  for (int i = 0; i < 100; i++) {
    if (daemon.log ().find (expect, before) != std::string::npos)
      return;
    std::this_thread::sleep_for (std::chrono::milliseconds (50));
  }
  CPPUNIT_FAIL ("no \"" + expect + "\" after SIGHUP:\n" + daemon.log ());
}

}  // namespace wsrtmp::test
