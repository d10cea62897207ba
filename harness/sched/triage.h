// Triage: re-runs a failing recipe alone and under load until the evidence is decisive,
// then gives a verdict (see verdict/verdict.h) with counts, the test and its error level,
// the failures' fingerprints and a representative failure of each.
//
// The runs follow Decide(): alone and loaded interleaved (A L L A ...) while a load-flake
// can still be shown, alone only once it cannot. Alone runs are isolated (nothing else of
// ours runs on the Swarm meanwhile) and the load is paused for them (its hog stack scaled
// to 0, its recipe loops stopped: see sched/load.h); loaded runs run beside it. The load
// is removed when the triage ends, on every path. A load that cannot be set up or paused
// is removed and the triage goes on alone (only genuine and intermittent are left); one
// that cannot be removed ends the triage. Each attempt is a full cold run with the
// transient retry policy; its artifacts are kept like any run's.
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
  RunOptions base;  // recipe, folders, state
  TriagePolicy policy;
  LoadSpec load;
};

struct TriageResult {
  std::string recipe;
  Verdict verdict;
  std::vector<Attempt> attempts;  // in order, with run ids, artifacts and fingerprints
  std::string load;               // the load, described
  bool interrupted = false;
  Status load_error;     // the load could not be set up or paused (alone runs went on)
  Status load_teardown;  // removing the load failed (something may be left)
};

// What a run comes to for the verdict: its outcome and, for a failure, its phase, failing
// test, message and fingerprint (the run's own namespace and run ids taken out).
Attempt AttemptOf(const RunOutcome& run, bool loaded);

TriageResult Triage(const TriageOptions& opts, Docker* docker, const ProgressFn& progress);

// The results table: recipe → failure → alone → under load → verdict → evidence → direction.
std::string TriageTable(const std::vector<TriageResult>& results);
nlohmann::json TriageJson(const TriageResult& result);
// 0 nothing to fix (not reproduced, or a known transient), 1 a failure to fix (genuine,
// intermittent, load-flake, or undecided after failures), 3 infra or a load that could
// not be removed, 128+signal interrupted.
int TriageExitCode(const TriageResult& result);

}  // namespace harness
