/* GStreamer in a test binary: gst_init before the tests are made, and, when
 * GStreamer's leaks tracer runs (GST_TRACERS=leaks, as meson runs every
 * test, the way gst-check runs upstream's), a test that leaves a GstObject
 * alive fails, naming each object's type, name, references and (in the
 * run again that test_main.h describes) where it was made.
 *
 * Linked whole (its static initializer registers it): tests/support's
 * test_main_gst_dep.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test_main.h"

#include <cppunit/Exception.h>
#include <cppunit/Test.h>
#include <cppunit/TestResult.h>
#include <gst/gst.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

namespace wsrtmp::test {

namespace {

/* Objects that live as long as the process by design, made lazily by the
 * first test that needs them. */
bool
process_wide (GType type)
{
  for (GType kind : { GST_TYPE_CLOCK, GST_TYPE_PLUGIN, GST_TYPE_PLUGIN_FEATURE,
           GST_TYPE_REGISTRY, GST_TYPE_TRACER, GST_TYPE_TRACER_RECORD,
           GST_TYPE_TASK_POOL, GST_TYPE_ALLOCATOR,
           /* an element class's, made by its first instance */
           GST_TYPE_PAD_TEMPLATE }) {
    if (g_type_is_a (type, kind))
      return true;
  }
  return false;
}

GstTracer *
find_leaks_tracer ()
{
  GstTracer *found = nullptr;
  GList *tracers = gst_tracing_get_active_tracers ();
  for (GList *l = tracers; l; l = l->next) {
    if (!found && g_str_equal (G_OBJECT_TYPE_NAME (l->data), "GstLeaksTracer"))
      found = GST_TRACER (gst_object_ref (l->data));
  }
  g_list_free_full (tracers, gst_object_unref);
  return found;
}

/* Objects made and not destroyed since the last call (the tracer's activity
 * checkpoints: type and address only, no references taken). */
class Activity {
 public:
  explicit Activity (GstTracer *tracer) : tracer_ (tracer)
  {
    g_signal_emit_by_name (tracer_, "activity-start-tracking");
  }
  ~Activity () { g_signal_emit_by_name (tracer_, "activity-stop-tracking"); }

  /* Address -> type name of each object still alive (process-wide ones
   * aside). */
  std::map<const void *, std::string> alive ()
  {
    GstStructure *checkpoint = nullptr;
    g_signal_emit_by_name (tracer_, "activity-get-checkpoint", &checkpoint);
    if (!checkpoint)
      return {};
    count (checkpoint, "objects-created-list", +1);
    count (checkpoint, "objects-removed-list", -1);
    gst_structure_free (checkpoint);
    std::map<const void *, std::string> objects;
    for (const auto &[address, entry] : net_) {
      if (entry.first > 0)
        objects[address] = entry.second;
    }
    return objects;
  }

 private:
  void count (const GstStructure *checkpoint, const char *field, int sign)
  {
    const GValue *list = gst_structure_get_value (checkpoint, field);
    if (!list || !GST_VALUE_HOLDS_LIST (list))   /* empty: an int */
      return;
    for (guint i = 0; i < gst_value_list_get_size (list); i++) {
      const GstStructure *s = gst_value_get_structure (
          gst_value_list_get_value (list, i));
      const char *type_name = gst_structure_get_string (s, "type-name");
      /* GStreamer 1.22 writes the address as a string ("0x…"). */
      const char *address_text = gst_structure_get_string (s, "address");
      if (!type_name || !address_text)
        continue;
      auto *address = reinterpret_cast<const void *> (
          g_ascii_strtoull (address_text, nullptr, 16));
      GType type = g_type_from_name (type_name);
      if (type && process_wide (type))
        continue;
      auto &entry = net_[address];
      entry.first += sign;
      entry.second = type_name;
    }
  }

  GstTracer *tracer_;
  std::map<const void *, std::pair<int, std::string>> net_;
};

/* The leaked objects' names, references and creation stacks, from the
 * tracer's live objects (which hands over its references: they are given
 * back). Only on failure: the objects are leaked, not dying meanwhile. */
std::string
describe (GstTracer *tracer, const std::map<const void *, std::string> &leaked)
{
  std::string text;
  GstStructure *info = nullptr;
  g_signal_emit_by_name (tracer, "get-live-objects", &info);
  const GValue *list = info ? gst_structure_get_value (info,
      "live-objects-list") : nullptr;
  for (guint i = 0; list && i < gst_value_list_get_size (list); i++) {
    const GstStructure *s = gst_value_get_structure (
        gst_value_list_get_value (list, i));
    const GValue *value = gst_structure_get_value (s, "object");
    if (!value || !G_VALUE_HOLDS_OBJECT (value))
      continue;
    GObject *object = G_OBJECT (g_value_get_object (value));
    g_object_ref (object);
    if (!leaked.count (object))
      continue;
    guint refs = 0;
    gst_structure_get_uint (s, "ref-count", &refs);
    const char *trace = gst_structure_get_string (s, "trace");
    g_autofree char *path = gst_object_get_path_string (GST_OBJECT (object));
    text += std::string (G_OBJECT_TYPE_NAME (object)) + " " + path + ", " +
        std::to_string (refs) + " reference(s)" + (trace ?
        std::string (", made at:\n") + trace : std::string ("\n"));
  }
  if (info)
    gst_structure_free (info);
  if (text.empty ()) {
    for (const auto &[address, type] : leaked)
      text += type + "\n";
  }
  return text;
}

class GstLeakCheck : public CppUnit::TestListener {
 public:
  void startTestRun (CppUnit::Test *, CppUnit::TestResult *) override
  {
    tracer_ = find_leaks_tracer ();
  }
  void endTestRun (CppUnit::Test *, CppUnit::TestResult *) override
  {
    activity_.reset ();
    g_clear_object (&tracer_);
  }
  void startTest (CppUnit::Test *) override
  {
    if (tracer_)
      activity_ = std::make_unique<Activity> (tracer_);
  }
  void endTest (CppUnit::Test *) override
  {
    if (!activity_)
      return;
    /* Streaming threads and sources still winding down drop their last
     * references shortly after a pipeline stops. */
    std::map<const void *, std::string> leaked;
    auto until = std::chrono::steady_clock::now () + std::chrono::seconds (3);
    do {
      while (g_main_context_iteration (nullptr, FALSE)) {
      }
      leaked = activity_->alive ();
      if (leaked.empty ())
        break;
      std::this_thread::sleep_for (std::chrono::milliseconds (50));
    } while (std::chrono::steady_clock::now () < until);
    if (!leaked.empty ())
      report_leak ("GstObjects outlived the test:\n" +
          describe (tracer_, leaked));
    activity_.reset ();
  }

 private:
  GstTracer *tracer_ = nullptr;
  std::unique_ptr<Activity> activity_;
};

struct Register {
  Register ()
  {
    add_test_init ([] (int *argc, char ***argv) { gst_init (argc, argv); });
    static GstLeakCheck check;
    add_test_listener (&check);
  }
} registered;

}  // namespace

}  // namespace wsrtmp::test
