/* Pipelines in CppUnit tests: launched from a description (a parse error
 * fails the test) and owned, so a failed assertion still sets them to NULL.
 * Header-only: only the plugin tests, which link GStreamer, include it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <cppunit/extensions/HelperMacros.h>
#include <gst/gst.h>

#include <memory>
#include <string>

namespace wsrtmp::test {

struct PipelineDeleter {
  void operator() (GstElement *pipeline) const
  {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (pipeline);
  }
};
using PipelinePtr = std::unique_ptr<GstElement, PipelineDeleter>;

inline PipelinePtr
launch (const std::string &description)
{
  g_autoptr (GError) error = nullptr;
  GstElement *pipeline = gst_parse_launch (description.c_str (), &error);
  CPPUNIT_ASSERT_MESSAGE (error ? error->message : "parse failed", pipeline);
  return PipelinePtr (pipeline);
}

/* The pipeline keeps the element alive for the test's duration. */
inline GstElement *
by_name (GstElement *pipeline, const char *name)
{
  GstElement *element = gst_bin_get_by_name (GST_BIN (pipeline), name);
  CPPUNIT_ASSERT (element);
  gst_object_unref (element);
  return element;
}

}  // namespace wsrtmp::test
