// LoadGenerator: a controlled amount of other work on the Swarm, beside a run.
//
// Two kinds, combinable: a "hog" stack of its own (CPU spinners and disk writers, as
// Swarm services, so that the load lands where the recipes run), and other recipes run
// over and over. The hog stack is a namespace like any run's — ledger, lock and labels —
// so a killed harness's load is reaped like any leftover.
//
// Triage interleaves alone and loaded runs, so the load is switched on and off between
// runs: Start() deploys the hog stack the first time and scales its services back up
// afterwards, then starts the recipe loops; Pause() stops the loops (after their current
// runs, torn down) and scales the hog services to 0, and returns only once none of their
// tasks or containers is left running, so that an alone run never sees the load. Stop()
// removes everything (also on destruction). Scaling is cheap next to a deploy: no images,
// no networks, no ledger entries.
//
// Thread-safety: Start(), Pause() and Stop() from one thread; recipe loops run on their
// own threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/liveness.h"
#include "run/run.h"
#include "runtime/swarm.h"

namespace harness {

// True when nothing of a hog stack runs any more: no task that is (or is about to be)
// running, and no container of the stack.
bool HogStopped(const ConvergeSnapshot& snap);
// True when every `expected` hog service runs all its replicas. Tasks of earlier rounds
// (desired state Shutdown: paused, and ended as Shutdown or Complete) are not counted,
// so that they are not taken for a crash loop.
bool HogRunning(const ConvergeSnapshot& snap, const std::vector<std::string>& expected);

struct LoadSpec {
  int cpu = 0;                       // CPU spinner tasks
  int io = 0;                        // disk writer tasks (64 MiB writes with fsync, in a loop)
  std::vector<std::string> recipes;  // recipes run in a loop beside the measured run
  std::string image = "recipe-harness/busybox:1";
  bool empty() const { return cpu == 0 && io == 0 && recipes.empty(); }
  std::string Describe() const;  // "4 CPU spinners, 1 disk writer, recipes web, notes"
};

class LoadGenerator {
 public:
  LoadGenerator(Docker* docker, RunOptions base, LoadSpec spec, ProgressFn progress);
  ~LoadGenerator();
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Deploys the hog stack (or scales it back up) and waits until its tasks run; starts
  // the recipe loops.
  Status Start();
  // Stops the recipe loops (after their current runs) and scales the hog stack to 0,
  // waiting until nothing of it runs.
  Status Pause();
  // Stops the recipe loops (after their current runs) and removes the hog stack.
  Status Stop();
  // The load is on (started and not paused).
  bool running() const { return on_; }

 private:
  Status DeployHog();
  Status ScaleHog(bool on);
  // Waits until the hog stack's tasks all run (`on`), or none of them does.
  Status WaitForHog(bool on, Deadline deadline);
  void StartLoops();
  void StopLoops();
  std::vector<std::string> HogServices() const;

  Docker* docker_;
  RunOptions base_;
  LoadSpec spec_;
  ProgressFn progress_;
  SwarmRuntime swarm_;
  bool started_ = false;  // the hog stack exists (or there is none to make)
  bool on_ = false;
  std::string ns_;
  std::string run_id_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<RunLock> lock_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> loops_;
};

}  // namespace harness
