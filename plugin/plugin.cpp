/* The wsrtmp GStreamer plugin: registration only.
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
