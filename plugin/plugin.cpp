/* The wsrtmp GStreamer plugin: registration only, and the plugin's one lock
 * order.
 *
 * Locking, for every element of this plugin:
 *
 *   settings_lock  ->  state_lock  ->  leaf locks
 *
 * - settings_lock guards an element's properties (its Settings). A thread
 *   that needs the settings and the state copies the settings out first and
 *   releases settings_lock before it takes state_lock; nothing takes
 *   settings_lock while it holds state_lock.
 * - state_lock guards the streaming state (and its condition variable).
 * - Leaf locks are taken last and hold nothing else while held: a module's
 *   own (flvslate.cpp's cache lock, wslistener.h's listen_lock,
 *   flvencodebin's H264Switch and RealTrack locks) and the
 *   GstObject and clock locks GStreamer takes inside calls such as
 *   gst_pad_start_task or gst_clock_id_wait_async.
 * - No lock of ours is held while pushing, posting a message or an error,
 *   pausing a pad task (which waits for the task's iteration) or calling
 *   into libsoup: each may call back into the element. Streaming threads
 *   enter with their pad's stream lock held, so a pad's stream lock always
 *   comes before our locks.
 *
 * Each element's private struct says which lock guards each field.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstflvencodebin.h"
#include "gstflvsplice.h"
#include "gstlivevideorate.h"
#include "gstwsserversrc.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean registered = FALSE;

  registered |= GST_ELEMENT_REGISTER (wsserversrc, plugin);
  registered |= GST_ELEMENT_REGISTER (flvencodebin, plugin);
  registered |= GST_ELEMENT_REGISTER (flvsplice, plugin);
  registered |= GST_ELEMENT_REGISTER (livevideorate, plugin);

  return registered;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, wsrtmp,
    "Browser media over WebSocket to RTMP", plugin_init, VERSION, GST_LICENSE,
    GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
