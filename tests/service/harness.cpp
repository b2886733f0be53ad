/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "harness.h"

#include "fixture.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include <chrono>
#include <cstdlib>
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

Daemon::Daemon (const std::vector<std::string> &args, const std::string &cwd)
{
  log_path_ = log_dir_.file ("wsrtmpd.log");
  std::vector<std::string> argv = { daemon_path (), "--listen",
    "127.0.0.1:0" };
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
  while (true) {
    g_autofree char *line = g_data_input_stream_read_line_utf8 (lines, nullptr,
        deadline.cancellable (), nullptr);
    if (!line)
      break;
    std::string text = line;
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
  return g_subprocess_get_exit_status (process_);
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
Daemon::wait_idle (int timeout_ms) const
{
  auto until = std::chrono::steady_clock::now () +
      std::chrono::milliseconds (timeout_ms);
  while (std::chrono::steady_clock::now () < until) {
    HttpResponse health = http_get (url_ + "healthz");
    if (health.status == 200 &&
        health.body.find ("\"sessions_active\":0") != std::string::npos)
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
  g_autoptr (GDir) fds = g_dir_open ((base + "/fd").c_str (), 0, nullptr);
  if (fds) {
    while (g_dir_read_name (fds))
      stats.fds++;
  }
  return stats;
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
  HttpResponse response;
  g_autoptr (SoupSession) session = soup_session_new_with_options (
      "timeout", 5, nullptr);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url.c_str ());
  if (!msg)
    return response;
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

RawClose
raw_ws_until_close (const std::string &ws_url, int timeout_ms)
{
  RawClose result;
  g_autoptr (GUri) uri = g_uri_parse (ws_url.c_str (), G_URI_FLAGS_ENCODED,
      nullptr);
  if (!uri)
    throw std::runtime_error ("bad URL " + ws_url);
  Deadline deadline (timeout_ms);
  g_autoptr (GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr (GError) error = nullptr;
  g_autoptr (GSocketConnection) connection = g_socket_client_connect_to_host (
      socket_client, g_uri_get_host (uri), g_uri_get_port (uri),
      deadline.cancellable (), &error);
  if (!connection)
    throw std::runtime_error (std::string ("connect: ") + error->message);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  std::string request = std::string ("GET ") + g_uri_get_path (uri) +
      " HTTP/1.1\r\nHost: " + g_uri_get_host (uri) + "\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  if (!g_output_stream_write_all (out, request.data (), request.size (),
          nullptr, deadline.cancellable (), nullptr))
    return result;

  std::string buffer;
  auto fill = [&] (size_t need) {
    while (buffer.size () < need) {
      char chunk[4096];
      gssize n = g_input_stream_read (in, chunk, sizeof chunk,
          deadline.cancellable (), nullptr);
      if (n <= 0)
        return false;
      buffer.append (chunk, n);
    }
    return true;
  };
  size_t header_end;
  while ((header_end = buffer.find ("\r\n\r\n")) == std::string::npos) {
    if (!fill (buffer.size () + 1))
      return result;
  }
  if (buffer.compare (0, 12, "HTTP/1.1 101") != 0)
    throw std::runtime_error ("no upgrade: " + buffer.substr (0, header_end));
  buffer.erase (0, header_end + 4);

  while (true) {
    if (!fill (2))
      return result;
    auto byte = [&] (size_t i) { return static_cast<guint8> (buffer[i]); };
    int opcode = byte (0) & 0x0f;
    guint64 length = byte (1) & 0x7f;
    size_t at = 2;
    if (length == 126) {
      if (!fill (4))
        return result;
      length = (byte (2) << 8) | byte (3);
      at = 4;
    } else if (length == 127) {
      if (!fill (10))
        return result;
      length = 0;
      for (int i = 2; i < 10; i++)
        length = (length << 8) | byte (i);
      at = 10;
    }
    if (!fill (at + length))
      return result;
    std::string payload = buffer.substr (at, length);
    buffer.erase (0, at + length);
    if (opcode == 0x1) {
      result.texts.push_back (payload);
    } else if (opcode == 0x8) {
      if (payload.size () >= 2) {
        result.code = (static_cast<guint8> (payload[0]) << 8) |
            static_cast<guint8> (payload[1]);
        result.reason = payload.substr (2);
      }
      return result;
    }
  }
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

}  // namespace wsrtmp::test
