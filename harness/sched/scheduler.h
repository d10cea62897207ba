// Scheduler: runs many jobs (recipe runs) at once within a capacity.
//
// Each job has a weight (the slots it takes; heavy recipes take more) and an expected
// duration (from the ledger's history). The plan orders jobs longest expected first, so
// that the whole sweep finishes early; the pool starts the first job in plan order that
// fits the free capacity (smaller jobs may pass a heavy one that does not fit yet).
// Guaranteed progress: a job heavier than the whole capacity runs alone when nothing
// else runs, and every job eventually starts. Once cancelled, no new job starts; running
// jobs finish (their own teardown) before Run() returns.
//
// Thread-safety: Run() is called from one thread; `work` is called from worker threads,
// one per running job.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"

namespace harness {

struct Job {
  std::string name;
  int weight = 1;
  Duration expected{0};   // 0 when unknown
  size_t index = 0;       // position in the caller's list (results go there)
};

// Longest expected first; unknown durations count as the longest known one (so that new
// recipes are not left to the end); ties: heavier first, then by name.
std::vector<Job> PlanOrder(std::vector<Job> jobs);

class Pool {
 public:
  explicit Pool(int capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
  // Runs every job of `plan` (in PlanOrder) through `work`. Returns how many started.
  size_t Run(const std::vector<Job>& plan, const std::function<void(const Job&)>& work,
             const CancelToken& cancel);
  int capacity() const { return capacity_; }

 private:
  int capacity_;
};

// True when a job of `weight` may start with `in_use` slots taken.
bool CanStart(int weight, int in_use, int capacity);

}  // namespace harness
