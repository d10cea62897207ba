// Triage: re-runs a failing recipe alone and under load until the evidence is decisive,
// then gives a verdict (see verdict/verdict.h) with counts, confidence and evidence.
//
// Alone runs are isolated (nothing else of ours runs on the Swarm meanwhile); loaded runs
// run beside a LoadGenerator. Each attempt is a full cold run with the transient retry
// policy; its artifacts are kept like any run's.
//
// Triage() borrows Docker and the progress callback for the call and owns its runs and
// the load generator. Thread-safety: one triage per recipe at a time; the JSON/table/exit
// code helpers are pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "run/run.h"
#include "sched/load.h"
#include "verdict/verdict.h"

namespace harness {

struct TriageOptions {
  RunOptions base;       // recipe, folders, state
  TriagePolicy policy;
  LoadSpec load;
};

struct TriageAttempt {
  Attempt attempt;
  std::string run_id;
  Duration elapsed{0};
};

struct TriageResult {
  std::string recipe;
  Verdict verdict;
  std::vector<TriageAttempt> attempts;
  std::string load;          // the load, described
  bool interrupted = false;
  Status load_error;         // the load could not be set up (the loaded runs were skipped)
};

TriageResult Triage(const TriageOptions& opts, Docker* docker, const ProgressFn& progress);

// The results table: recipe → failure → alone → under load → verdict → evidence → direction.
std::string TriageTable(const std::vector<TriageResult>& results);
nlohmann::json TriageJson(const TriageResult& result);
// 0 nothing to fix (not reproduced, or a known transient), 1 a failure to fix (genuine,
// intermittent, load-flake), 3 infra, 128+signal interrupted.
int TriageExitCode(const TriageResult& result);

}  // namespace harness
