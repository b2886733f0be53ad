/* The streaming page: the files under --web-root, read-only for GET and
 * HEAD. Nothing outside the root is served (no "..", symlinks resolved),
 * a directory means its index.html, the content type comes from the file
 * name, and nothing is cached (a new page shows at the next load).
 *
 * Main thread (a SoupServer handler); the Server owns it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include <string>

namespace wsrtmp {

class StaticFiles {
 public:
  /* web_root is resolved once (realpath), here. */
  explicit StaticFiles (const std::string &web_root);

  /* Answers msg for path (as libsoup hands it over, still
   * percent-encoded): the file, 404 or 403. */
  void serve (SoupServerMessage *msg, const char *path) const;

 private:
  std::string root_;            /* canonical, no trailing slash */
};

}  // namespace wsrtmp
