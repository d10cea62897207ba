// The nightly canon sweep's plan: for every recipe enrolled in the warm canon, the newest
// release newer than its canonical version (tested cold, then promoted when green), or why
// there is nothing to do.
//
// Loud by design: no enrolled recipe is an error, and so is an enrolled recipe whose
// script or source cannot be read — a sweep must never pass by testing nothing.
//
// RunCanonSweep() borrows Docker and progress for the call; its runs may use them from the
// pool's threads. Thread-safety: one canon sweep per state folder at a time (promotions
// lock per recipe); the table and exit code helpers are pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/cancel.h"
#include "base/status.h"
#include "run/run.h"
#include "warm/collision.h"
#include "warm/promote.h"

namespace harness {

class Ledger;
class RecipeSources;

struct CanonCandidate {
  std::string recipe;
  std::string canonical;   // the warm canon's version
  std::string candidate;   // the newest release newer than it ("" when none)
  // new | nothing new | held | unreachable | broken
  std::string state;
  std::string detail;      // why, for everything but "new"
  Status status;           // unreachable (Infra) or broken (InvalidArgument/NotFound)
};

// REQUIRES: `ledger` and `sources` are open. InvalidArgument when nothing is enrolled.
Result<std::vector<CanonCandidate>> PlanCanonSweep(Ledger* ledger, RecipeSources* sources, const std::string& state_dir,
                                                   const CancelToken& cancel);

struct CanonOutcome {
  CanonCandidate plan;
  std::optional<RunOutcome> cold;            // the cold run of the candidate
  std::optional<PromoteOutcome> promotion;   // when the cold run passed
  int exit_code = 0;
};

struct CanonSweepOptions {
  RunOptions base;          // recipes, state, artifacts, sweep id, events
  ReservedPolicy policy;
  int jobs = 2;
};

// Tests each new candidate cold (retried once for a declared transient class), and
// promotes it when green; `jobs` slots at a time, longest expected first. Recipes with
// nothing new keep their plan's state.
std::vector<CanonOutcome> RunCanonSweep(const std::vector<CanonCandidate>& plan, const CanonSweepOptions& opts,
                                        Docker* docker, const ProgressFn& progress);

// RECIPE CANONICAL CANDIDATE COLD PROMOTION NOTE, and a count line.
std::string CanonTable(const std::vector<CanonOutcome>& outcomes);

// The sweep's exit code: the worst of its cold runs, promotions and unreachable or broken
// sources, by WorseExitCode (base/exit_code.h).
int CanonExitCode(const std::vector<CanonOutcome>& outcomes);

}  // namespace harness
