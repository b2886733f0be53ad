/* Joins a thread however the scope is left (a failed assertion throws).
 * Header-only: tests that do not link the support library use it too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <thread>

namespace wsrtmp::test {

class Joiner {
 public:
  explicit Joiner (std::thread &thread) : thread_ (thread) {}
  ~Joiner () { if (thread_.joinable ()) thread_.join (); }
 private:
  std::thread &thread_;
};

}  // namespace wsrtmp::test
