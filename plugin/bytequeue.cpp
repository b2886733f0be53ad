/* wsserversrc's queue of accepted bytes (see bytequeue.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "bytequeue.h"

#include <utility>

namespace wsrtmp {

void
ByteQueue::push (GBytes *message)
{
  gsize size;
  gconstpointer data = g_bytes_get_data (message, &size);
  bytes_ += size;
  if (size < JOIN_BELOW) {
    if (!small_)
      small_ = g_byte_array_sized_new (JOINED_SIZE);
    g_byte_array_append (small_, static_cast<const guint8 *> (data), size);
    if (small_->len >= JOINED_SIZE)
      seal_small ();
    return;
  }
  seal_small ();
  append (gst_buffer_new_wrapped_bytes (message));
}

BufferPtr
ByteQueue::pop ()
{
  if (buffers_.empty ())
    seal_small ();
  if (buffers_.empty ())
    return nullptr;
  BufferPtr next = std::move (buffers_.front ());
  buffers_.pop_front ();
  bytes_ -= gst_buffer_get_size (next.get ());
  return next;
}

void
ByteQueue::clear ()
{
  buffers_.clear ();
  if (small_)
    g_byte_array_unref (small_);
  small_ = nullptr;
  bytes_ = 0;
}

void
ByteQueue::reset ()
{
  clear ();
  next_offset_ = 0;
}

void
ByteQueue::seal_small ()
{
  if (!small_)
    return;
  GBytes *joined = g_byte_array_free_to_bytes (small_);
  small_ = nullptr;
  append (gst_buffer_new_wrapped_bytes (joined));
  g_bytes_unref (joined);
}

void
ByteQueue::append (GstBuffer *buffer)
{
  GST_BUFFER_OFFSET (buffer) = next_offset_;
  next_offset_ += gst_buffer_get_size (buffer);
  GST_BUFFER_OFFSET_END (buffer) = next_offset_;
  buffers_.emplace_back (buffer);
}

}  // namespace wsrtmp
