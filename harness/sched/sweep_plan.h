// The plan of a sweep: one Job per recipe, weighted by its script and ordered by the
// ledger's history (PlanOrder).
//
// A recipe's weight comes from its script (`weight`, the library default 1). A script that
// does not load cannot say its weight: its job keeps the default and carries the load
// error, so that the sweep says so before it starts; the run itself refuses the script in
// prepare, naming file and line. Durations expected from the ledger's history; none when
// the ledger cannot be opened (a new state folder).
//
// Thread-safety: a plain function; any thread. It reads the recipes and the ledger only.
#pragma once

#include <string>
#include <vector>

#include "sched/scheduler.h"

namespace harness {

struct SweepPlanInput {
  std::string recipes_dir;
  std::string state_dir;
  std::vector<std::string> recipes;
};

struct PlannedJob {
  Job job;
  std::string load_error;   // "" when the script loaded (or there is none)
};

// The sweep's jobs in plan order (PlanOrder), each with `job.index` its place in `recipes`.
std::vector<PlannedJob> PlanSweep(const SweepPlanInput& input);

}  // namespace harness
