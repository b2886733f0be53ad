/* The slate's encoder and its process-wide cache (see flvslate.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "flvslate.h"

#include "flvoutput.h"
#include "flvtag.h"

#include <gst/app/gstappsink.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

/* The element's category: the slate is part of flvsplice's story. */
GST_DEBUG_CATEGORY_EXTERN (gst_flv_splice_debug);

namespace wsrtmp {

namespace {

/* The encoder gives up after this long (a few hundred ms is usual). */
constexpr gint64 ENCODE_LIMIT_US = 60 * G_USEC_PER_SEC;
/* How often the encoder looks for its output, an error, or a cancel. */
constexpr GstClockTime ENCODE_POLL = 100 * GST_MSECOND;

/* A still picture (or a dark card) encoded as flvencodebin encodes
 * (flvoutput.h: H.264 Main, no B-frames, so no composition offsets to care
 * about; AAC-LC) into exactly one GOP, with AAC silence. x264 spends almost
 * nothing on a still picture's P-frames; a constant quality keeps the
 * keyframe sharp. */
constexpr const char *IMAGE_VIDEO =
    "filesrc name=image ! decodebin ! videoconvert ! "
    "videoscale add-borders=true ! "
    "video/x-raw,format=I420,width=%d,height=%d,pixel-aspect-ratio=1/1 ! "
    "imagefreeze num-buffers=%d ! video/x-raw,framerate=%d/%d";
constexpr const char *CARD_VIDEO =
    "videotestsrc pattern=solid-color foreground-color=0xff1c2230 "
    "num-buffers=%d ! video/x-raw,format=I420,width=%d,height=%d,"
    "pixel-aspect-ratio=1/1,framerate=%d/%d";
/* x264's options beside those of flvoutput.h's H264_ENCODER. */
constexpr const char *X264_OPTIONS = "speed-preset=%s pass=qual quantizer=24 "
    "key-int-max=%d option-string=scenecut=0";
/* After the encoded picture: the muxer, and the silence up to its encoder. */
constexpr const char *MUX_AND_SILENCE =
    " ! flvmux name=mux streamable=true ! appsink name=out sync=false "
    "audiotestsrc wave=silence samplesperbuffer=%d num-buffers=%d ! "
    "audio/x-raw,rate=%d,channels=%d ! ";

/* Sorts the encoder's tags into slate: the sequence headers, one GOP of
 * pictures from the keyframe, the audio frames. Takes the tags. */
bool
sort_tags (const std::vector<GstBuffer *> &tags, Slate &slate,
    std::string &error)
{
  for (GstBuffer *tag : tags) {
    flv::Tag info = flv::parse (tag);
    GstBuffer **header = nullptr;
    if (info.complete && info.sequence_header)
      header = info.type == flv::TAG_VIDEO ? &slate.video_header :
          &slate.audio_header;
    if (header) {
      gst_clear_buffer (header);
      *header = tag;
    } else if (info.complete && info.type == flv::TAG_VIDEO &&
        int (slate.video.size ()) < slate.key.gop_frames &&
        (!slate.video.empty () || info.keyframe)) {
      slate.video.push_back (tag);
    } else if (info.complete && info.type == flv::TAG_AUDIO) {
      slate.audio.push_back (tag);
    } else {
      gst_buffer_unref (tag);
    }
  }
  /* Every frame is silence, and AAC frames of silence decode to silence in
   * any order: the first (the encoder starting up) is left out. */
  if (slate.audio.size () > 1) {
    gst_buffer_unref (slate.audio.front ());
    slate.audio.erase (slate.audio.begin ());
  }
  if (!slate.video_header || !slate.audio_header || slate.video.empty () ||
      slate.audio.empty ()) {
    error = "the slate encoder's output has no H.264 keyframe or no AAC";
    return false;
  }
  return true;
}

/* Runs the slate encoder for slate.key (with its image or the card) and
 * sorts its tags into slate. */
bool
encode_with (bool with_image, Slate &slate, std::string &error,
    const std::atomic<bool> &cancelled)
{
  const SlateKey &key = slate.key;
  g_autoptr (GString) description = g_string_new (nullptr);
  if (with_image)
    g_string_append_printf (description, IMAGE_VIDEO, key.width, key.height,
        key.gop_frames, key.fps_n, key.fps_d);
  else
    g_string_append_printf (description, CARD_VIDEO, key.gop_frames,
        key.width, key.height, key.fps_n, key.fps_d);
  /* Silence as long as the video, and a little more. */
  int audio_frames = int (gint64 (key.gop_frames) * key.fps_d * key.rate /
      key.fps_n / AAC_FRAME_SAMPLES) + 4;
  g_string_append_printf (description, " ! %s", h264_encode (printf_string (
              X264_OPTIONS, DEFAULT_SPEED_PRESET, key.gop_frames)).c_str ());
  g_string_append_printf (description, MUX_AND_SILENCE, AAC_FRAME_SAMPLES,
      audio_frames, key.rate, key.channels);
  g_string_append_printf (description, "%s ! mux.", aac_encode ().c_str ());

  g_autoptr (GError) parse_error = nullptr;
  g_autoptr (GstElement) pipeline = gst_parse_launch_full (description->str,
      nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &parse_error);
  if (!pipeline) {
    g_autofree char *text = g_strdup_printf ("cannot build the slate encoder "
        "(%s): install the GStreamer plugins it needs (x264enc, voaacenc, "
        "flvmux, imagefreeze)", parse_error->message);
    error = text;
    return false;
  }
  if (with_image) {
    g_autoptr (GstElement) source = gst_bin_get_by_name (GST_BIN (pipeline),
        "image");
    g_object_set (source, "location", key.image.c_str (), nullptr);
  }
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  std::vector<GstBuffer *> tags;
  g_autoptr (GstMessage) message = nullptr;
  gint64 give_up = g_get_monotonic_time () + ENCODE_LIMIT_US;
  while (!gst_app_sink_is_eos (GST_APP_SINK (sink)) && !cancelled &&
      g_get_monotonic_time () < give_up) {
    /* An error (a file that is no picture) stops the data, not the wait. */
    message = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (message)
      break;
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
        ENCODE_POLL);
    if (sample) {
      tags.push_back (gst_buffer_ref (gst_sample_get_buffer (sample)));
      gst_sample_unref (sample);
    }
  }
  bool eos = gst_app_sink_is_eos (GST_APP_SINK (sink));
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (message || !eos) {
    g_autoptr (GError) err = nullptr;
    if (message)
      gst_message_parse_error (message, &err, nullptr);
    error = err ? err->message : cancelled ? "cancelled" :
        "the slate encoder stalled";
    for (GstBuffer *tag : tags)
      gst_buffer_unref (tag);
    return false;
  }
  return sort_tags (tags, slate, error);
}

/* Encodes slate.key into slate: its image, or the plain card when there is
 * none or it cannot be used. */
void
encode (Slate &slate, const std::atomic<bool> &cancelled)
{
  const SlateKey &key = slate.key;
  gint64 start = g_get_monotonic_time ();
  std::string error;
  bool done = false;
  if (!key.image.empty ()) {
    done = encode_with (true, slate, error, cancelled);
    if (!done) {
      g_autofree char *text = g_strdup_printf ("Cannot use the slate image "
          "\"%s\" (%s): the plain card is shown instead. Give a PNG or JPEG "
          "file.", key.image.c_str (), error.c_str ());
      slate.warning = text;
    }
  }
  if (!done && !encode_with (false, slate, error, cancelled))
    slate.error = error;
  slate.encode_us = g_get_monotonic_time () - start;
  GST_CAT_INFO (gst_flv_splice_debug, "slate %dx%d %d/%d, %d frames, AAC %d "
      "Hz x%d, image \"%s\": encoded in %" G_GINT64_FORMAT " ms (%zu video, "
      "%zu audio tags)%s%s",
      key.width, key.height, key.fps_n, key.fps_d, key.gop_frames, key.rate,
      key.channels, key.image.c_str (), slate.encode_us / 1000,
      slate.video.size (), slate.audio.size (), slate.error.empty () ? "" :
      ": ", slate.error.c_str ());
  slate.ready = true;
}

/* A thread that is always joined, by its destructor: never detached. */
class JoinedThread {
 public:
  template <typename Function>
  explicit JoinedThread (Function &&function)
    : thread_ (std::forward<Function> (function)) {}
  ~JoinedThread () { thread_.join (); }
  JoinedThread (const JoinedThread &) = delete;
  JoinedThread &operator= (const JoinedThread &) = delete;

 private:
  std::thread thread_;
};

/* The encodings by format, and the threads that make them. */
class SlateCache {
 public:
  /* Made by the first slate asked for, while GStreamer runs. */
  SlateCache ()
  {
    g_object_weak_ref (G_OBJECT (gst_registry_get ()), on_gstreamer_deinit,
        this);
  }
  SlateCache (const SlateCache &) = delete;
  SlateCache &operator= (const SlateCache &) = delete;

  /* Process exit without gst_deinit (GStreamer still up). */
  ~SlateCache ()
  {
    if (!stop ())
      return;
    g_object_weak_unref (G_OBJECT (gst_registry_get ()), on_gstreamer_deinit,
        this);
  }

  std::shared_ptr<const Slate> get (const SlateKey &key)
  {
    std::lock_guard<std::mutex> lock (lock_);
    auto found = slates_.find (key);
    if (found != slates_.end ())
      return found->second;
    auto slate = std::make_shared<Slate> (key);
    slates_[key] = slate;
    if (!cancelled_)
      encoders_.push_back (std::make_unique<JoinedThread> (
              [slate, this] { encode (*slate, cancelled_); }));
    return slate;
  }

 private:
  /* Encodings under way stop at their next poll; every thread is joined
   * and the slates go. False when it was done already. */
  bool stop ()
  {
    if (cancelled_.exchange (true))
      return false;
    std::lock_guard<std::mutex> lock (lock_);
    encoders_.clear ();
    slates_.clear ();
    return true;
  }

  /* gst_deinit drops the registry: the encoders (a pipeline each) must be
   * gone by then, before GStreamer's objects and its leaks tracer's report
   * are (an application that stops right after a first slate was asked
   * for, as wsrtmpd at exit). */
  static void on_gstreamer_deinit (gpointer self, GObject *)
  {
    static_cast<SlateCache *> (self)->stop ();
  }

  std::atomic<bool> cancelled_ { false };
  std::mutex lock_;
  std::map<SlateKey, std::shared_ptr<Slate>> slates_;   /* guarded by lock_ */
  /* One per entry of slates_, finished or not; guarded by lock_. */
  std::vector<std::unique_ptr<JoinedThread>> encoders_;
};

}  // namespace

bool
aac_format_supported (int rate, int channels)
{
  static const int rates[] = { 8000, 11025, 12000, 16000, 22050, 24000, 32000,
    44100, 48000, 64000, 88200, 96000 };
  return channels >= 1 && channels <= 2 &&
      std::find (std::begin (rates), std::end (rates), rate) != std::end (rates);
}

bool
SlateKey::operator< (const SlateKey &other) const
{
  return std::tie (image, width, height, fps_n, fps_d, gop_frames, rate,
      channels) < std::tie (other.image, other.width, other.height,
      other.fps_n, other.fps_d, other.gop_frames, other.rate, other.channels);
}

Slate::~Slate ()
{
  gst_clear_buffer (&video_header);
  gst_clear_buffer (&audio_header);
  for (GstBuffer *tag : video)
    gst_buffer_unref (tag);
  for (GstBuffer *tag : audio)
    gst_buffer_unref (tag);
}

std::shared_ptr<const Slate>
slate_for (const SlateKey &key)
{
  /* Destroyed with the plugin's module (unload, or exit). */
  static SlateCache cache;
  return cache.get (key);
}

}  // namespace wsrtmp
