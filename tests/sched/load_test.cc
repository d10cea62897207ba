// The load generator's parts that need no Swarm: when a paused load counts as stopped, and
// a resumed one as running.
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

TEST_CASE("a resumed load counts as running once its replicas run, whatever ran before",
          "[sched][load]") {
  ConvergeSnapshot snap;
  snap.services = {{"load-abc123_cpu", 2, false, ""}};
  // Three earlier rounds, paused: their tasks ended, some as Complete (the spinners exit 0).
  for (int round = 0; round < 3; ++round) {
    snap.tasks.push_back({"old" + std::to_string(round), "load-abc123_cpu", "load-abc123_cpu.1",
                          "Shutdown", "Complete 1 minute ago", ""});
  }
  snap.tasks.push_back(
      {"t1", "load-abc123_cpu", "load-abc123_cpu.1", "Running", "Running 2 seconds ago", ""});
  CHECK_FALSE(HogRunning(snap, {"load-abc123_cpu"}));  // 1 of 2
  snap.tasks.push_back(
      {"t2", "load-abc123_cpu", "load-abc123_cpu.2", "Running", "Starting 1 second ago", ""});
  CHECK_FALSE(HogRunning(snap, {"load-abc123_cpu"}));
  snap.tasks.back().current_state = "Running 1 second ago";
  CHECK(HogRunning(snap, {"load-abc123_cpu"}));
  // Tasks of this round that failed still count against it.
  for (int i = 0; i < 3; ++i) {
    snap.tasks.push_back({"f" + std::to_string(i), "load-abc123_cpu", "load-abc123_cpu.2",
                          "Running", "Failed 1 second ago", "oom"});
  }
  CHECK_FALSE(HogRunning(snap, {"load-abc123_cpu"}));
}

}  // namespace
}  // namespace harness
