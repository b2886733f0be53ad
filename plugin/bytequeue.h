/* wsserversrc's queue: the bytes accepted from the client and not pushed
 * yet, in order, with their stream offsets. Small messages are joined into
 * one buffer: a client may cut its stream into one-byte messages, and a
 * GstBuffer for each byte would cost a hundred times the bytes in memory
 * (beyond what max-queued-bytes counts) and as many pushes downstream.
 *
 * No lock of its own: part of the element's state, guarded by its
 * state_lock (gstwsserversrc.cpp).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <deque>
#include <memory>

namespace wsrtmp {

struct BufferUnref {
  void operator() (GstBuffer *buffer) const { gst_buffer_unref (buffer); }
};
using BufferPtr = std::unique_ptr<GstBuffer, BufferUnref>;

class ByteQueue {
 public:
  ByteQueue () = default;
  ByteQueue (const ByteQueue &) = delete;
  ByteQueue &operator= (const ByteQueue &) = delete;
  ~ByteQueue () { clear (); }

  /* A message's bytes, after all before. */
  void push (GBytes *message);
  /* The oldest bytes, or null when there are none. */
  BufferPtr pop ();

  bool empty () const { return buffers_.empty () && !small_; }
  guint64 bytes () const { return bytes_; }

  /* Drops what is queued; offsets go on from where they were. */
  void clear ();
  /* A new stream: empty, offsets from 0. */
  void reset ();

 private:
  static constexpr gsize JOIN_BELOW = 4096;
  static constexpr guint JOINED_SIZE = 64 * 1024;

  void seal_small ();
  void append (GstBuffer *buffer);

  std::deque<BufferPtr> buffers_;
  GByteArray *small_ = nullptr;     /* small messages not sealed yet */
  guint64 bytes_ = 0;
  guint64 next_offset_ = 0;
};

}  // namespace wsrtmp
