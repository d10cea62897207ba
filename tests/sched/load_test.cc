// The load generator's part that needs no Swarm: when a paused load counts as stopped.
#include "sched/load.h"

#include <catch2/catch.hpp>

namespace harness {
namespace {

TEST_CASE("a paused load counts as stopped only when nothing of it runs", "[sched][load]") {
  ConvergeSnapshot snap;
  snap.services = {{"load-abc123_cpu", 0, false, ""}};
  snap.tasks = {
      {"t1", "load-abc123_cpu", "load-abc123_cpu.1", "Shutdown", "Complete 2 seconds ago", ""},
      {"t2", "load-abc123_cpu", "load-abc123_cpu.2", "Shutdown", "Shutdown 1 second ago", ""}};
  CHECK(HogStopped(snap));
  snap.tasks[1].current_state = "Running 5 seconds ago";  // told to stop, not stopped yet
  CHECK_FALSE(HogStopped(snap));
  snap.tasks[1].current_state = "Starting 1 second ago";
  CHECK_FALSE(HogStopped(snap));
  snap.tasks[1].current_state = "Failed 1 second ago";
  CHECK(HogStopped(snap));
  snap.containers = {{"c1", "load-abc123_cpu", "t2", "Up 3 seconds"}};  // its container lingers
  CHECK_FALSE(HogStopped(snap));
}

}  // namespace
}  // namespace harness
