/* Test harness for wsrtmpd: the real binary as a subprocess, our own
 * nginx-rtmp, and small HTTP helpers. Everything is bounded by timeouts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "fixture.h"
#include "joiner.h"

#include <string>
#include <utility>
#include <vector>

namespace wsrtmp::test {

/* nginx with the RTMP module, recording every stream to dir/rec/<key>.flv. */
class Nginx {
 public:
  explicit Nginx (const std::string &dir);
  ~Nginx ();
  std::string url () const;     /* rtmp://127.0.0.1:PORT/live */
  std::string recording (const std::string &key) const;
  /* Publishes nginx accepted so far (its error log, at level info). */
  int publishes (const std::string &key) const;
 private:
  std::string dir_;
  int port_;
};

/* wsrtmpd started with args (plus --listen 127.0.0.1:0); its stderr goes to
 * a log file that failed assertions can show. */
class Daemon {
 public:
  Daemon (const std::vector<std::string> &args, const std::string &cwd = "");
  ~Daemon ();

  const std::string &http_url () const { return url_; }   /* ends with / */
  /* With --admin-listen: the admin API's base URL (ends with /), "" when
   * it has none. */
  const std::string &admin_url () const { return admin_url_; }
  std::string ingest_url (const std::string &key) const;
  /* SIGTERM; waits up to timeout_ms for exit. Returns the exit status, or
   * -1 on timeout (the process is then killed). */
  int terminate (int timeout_ms);
  std::string log () const;
  /* Waits up to timeout_ms for text in the log. */
  bool wait_logged (const std::string &text, int timeout_ms) const;
  /* Polls /healthz until no session and no broadcast is active. */
  bool wait_idle (int timeout_ms) const;
  /* The process id (0 once it exited). */
  int pid () const;
  int port () const;

 private:
  void report_leaks ();
  bool leaks_reported_ = false;

  GSubprocess *process_ = nullptr;
  std::string url_;
  std::string admin_url_;
  std::string log_path_;
  TempDir log_dir_;
};

/* Kills our nginx in dir abruptly (master and workers), like a crash. */
void kill_nginx (const std::string &dir);
/* Starts it again on rtmp_url's port (retrying while the port is held).
 * When it cannot, error gets what nginx-rtmp.sh said the last time. */
bool restart_nginx (const std::string &dir, const std::string &rtmp_url,
    std::string *error = nullptr);

/* Sends the daemon SIGHUP (systemctl reload) and waits up to 5 s for expect
 * ("reloaded ...", "reload refused ...") in what it logs after the signal;
 * fails the running test when the signal cannot be sent or the line does
 * not come. */
void reload_daemon (const Daemon &daemon, const std::string &expect);

/* what, then the daemon's log: the message of a failed assertion. */
std::string context (const Daemon &daemon, const std::string &what);

/* Asserts condition, showing the daemon's log when it fails. The condition
 * is evaluated first: it often waits, and the log is read after it. */
#define ASSERT_LOGGED(daemon, what, condition) \
  do { \
    bool holds_ = (condition); \
    CPPUNIT_ASSERT_MESSAGE (::wsrtmp::test::context (daemon, what), \
        holds_); \
  } while (0)

/* What /proc says about a process. */
struct ProcStats {
  long rss_kb = 0;
  /* Its share of the pages it maps: shared libraries count divided among
   * the processes mapping them, so it moves with what else runs. */
  long pss_kb = 0;
  /* Its heap and stacks (anonymous pages): what it allocated itself. */
  long anonymous_kb = 0;
  int fds = 0;
  int threads = 0;
};
ProcStats proc_stats (int pid);

/* Runs a command to completion (bounded); returns its exit status and
 * stdout/stderr. */
int run_command (const std::vector<std::string> &argv, std::string *out,
    std::string *err, const std::string &cwd = "", int timeout_ms = 20000);

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};
HttpResponse http_get (const std::string &url);
/* Any method, with a body (sent as application/json when not empty),
 * "Authorization: Bearer bearer" when bearer is not empty, and headers. */
HttpResponse http_request (const std::string &method, const std::string &url,
    const std::string &body = "", const std::string &bearer = "",
    const std::vector<std::pair<std::string, std::string>> &headers = {});

/* A sample's value in a /metrics body (name with its labels, if any), or
 * -1 when it is not there. */
double metric (const std::string &metrics_body, const std::string &name);

/* A GBytes' bytes (a recording's chunk) as a string. */
std::string bytes_of (GBytes *bytes);

/* The fixture's first chunks (those the browser emitted before until_ms)
 * joined into path; returns how many. */
size_t write_prefix (const class Fixture &fixture, double until_ms,
    const std::string &path);

}  // namespace wsrtmp::test
