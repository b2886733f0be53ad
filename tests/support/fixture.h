/* Real browser recordings from tests/data: one file per MediaRecorder chunk.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace wsrtmp::test {

struct Chunk {
  GBytes *bytes;                /* owned by the Fixture */
  double t_ms;                  /* when the browser emitted it, since start */
};

class Fixture {
 public:
  /* Loads $WSRTMP_TEST_DATA/<name>/ (chunk-NNNNN.bin + meta.json). Throws
   * std::runtime_error when it cannot. */
  explicit Fixture (const std::string &name);
  ~Fixture ();
  Fixture (const Fixture &) = delete;
  Fixture &operator= (const Fixture &) = delete;

  const std::string &name () const { return name_; }
  const std::string &mime_type () const { return mime_type_; }
  const std::vector<Chunk> &chunks () const { return chunks_; }
  /* All chunks joined: the file the browser recorded. */
  GBytes *joined () const { return joined_; }
  std::string dir () const;
  /* The joined file written to a temporary path (removed with the Fixture). */
  const std::string &joined_path () const;

 private:
  std::string name_;
  std::string mime_type_;
  std::vector<Chunk> chunks_;
  GBytes *joined_ = nullptr;
  mutable std::string joined_path_;
};

/* What ffprobe says about a media file's streams (counts packets). */
struct StreamInfo {
  std::string codec_type;       /* "video" | "audio" */
  std::string codec_name;       /* "h264", "aac", "vp8", ... */
  std::string profile;
  int width = 0, height = 0;
  int sample_rate = 0, channels = 0;
  long packets = 0;
  double first_pts = 0, last_pts = 0;    /* seconds */
  double duration () const { return last_pts - first_pts; }
  std::vector<double> keyframe_times;    /* video only, seconds */
};

/* Runs ffprobe on path; throws std::runtime_error on failure. */
std::vector<StreamInfo> probe_streams (const std::string &path);
const StreamInfo *find_stream (const std::vector<StreamInfo> &streams,
    const std::string &codec_type);

/* A directory under $TMPDIR (mode 0755: nginx's worker may run as nobody
 * and must reach it), removed recursively on destruction. */
class TempDir {
 public:
  TempDir ();
  ~TempDir ();
  TempDir (const TempDir &) = delete;
  TempDir &operator= (const TempDir &) = delete;
  const std::string &path () const { return path_; }
  std::string file (const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/* A self-signed certificate for 127.0.0.1, made with openssl: dir/cert.pem
 * and dir/key.pem. Throws std::runtime_error when it cannot. */
void generate_certificate (const std::string &dir);

/* A TCP port on 127.0.0.1 nothing listens on right now. */
int free_port ();

std::string data_dir ();
std::string source_root ();
std::string build_root ();

}  // namespace wsrtmp::test
