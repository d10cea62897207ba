// Verdicts: what re-runs of a failing recipe, alone and under load, say about the failure.
//
// Pure logic over recorded attempts, so that it is unit-tested on recorded outcomes and fed
// by a simulator (tests/verdict/) with recipes of known behaviour. "Isolation before
// blame"; and a verdict is never wrong more often than the error level α (default 1 %),
// whatever the recipe does. Each verdict has a truth, so that "wrong" is defined (p_A,
// p_L: the failure rates alone and under load; p_f: the rate alone of one fingerprint):
//
//   genuine          right when one fingerprint fails alone at p_f > 1/2 (θ, genuine_rate).
//                    Decided when the first n runs alone all fail with one fingerprint,
//                    n the least that makes that chance ≤ α/2 at p_f ≤ θ (9 at 1 %).
//   load-flake       right when p_L > p_A. Decided when Fisher's exact test (one-sided)
//                    of loaded against alone failures reaches its look's share of α/2.
//   intermittent     right when 0 < p_A < 1, or alone failures have several fingerprints.
//                    Decided once a pass and a failure alone (or two fingerprints alone)
//                    are seen: then it is certain. Reports p_A with its interval.
//   known-transient  green except for failures in a declared transient class whose single
//                    retry passed (at least min_decisive runs alone); as before.
//   infra            only the harness, Docker or the host failed (max_infra attempts).
//   undecided        never wrong: the evidence did not suffice within the budget, or the
//                    failure did not reproduce. Says what more would decide it.
// plan.h has the sequential plan (the schedule of arms, the looks and their levels).
//
// Decide() also says which arm to run next, following the plan's interleaved schedule
// while the load-flake test can still succeed, and alone only once it cannot (then only
// genuine or intermittent are left to find). It stops as soon as a verdict is decided,
// and at the budget (max_runs attempts, max_time).
//
// Thread-safety: pure functions of their arguments; any thread.
#pragma once

#include <string>
#include <vector>

#include "base/time.h"
#include "verdict/plan.h"
#include "verdict/stats.h"

namespace harness {

struct Attempt {
  enum class Outcome { kPass, kFail, kInfra };
  Outcome outcome = Outcome::kPass;
  bool loaded = false;           // run under load (else alone)
  bool transient_retry = false;  // the first try failed in a declared transient class
  std::string transient_class;   // that class
  std::string phase;             // the failing phase (for kFail)
  std::string step;              // the failing test; "" for a phase without steps
  std::string evidence;          // the failure's message
  std::string fingerprint;       // Fingerprint::key; "" → made from phase, step, evidence
  std::string run_id;
  std::string artifacts;  // the run's artifact folder (its proof packets)
  Duration elapsed{0};
};

struct Tally {
  int pass = 0, fail = 0, infra = 0;
  int runs() const { return pass + fail; }
};

enum class Next { kAlone, kLoaded, kStop };

// The failures of one fingerprint, with a representative one: the first alone, else the
// first under load.
struct FailureKind {
  std::string key, id;
  std::string phase, step;
  int alone = 0, loaded = 0;
  std::string run_id, artifacts, evidence;
};

struct Verdict {
  std::string kind = "undecided";
  Tally alone, loaded;
  double error_level = 0.01;
  // The test that decided (or would have): "same-failure-in-a-row" for genuine, "fisher"
  // for load-flake, "" when none applies; its p-value and the level it was compared with.
  std::string test;
  double p_value = -1;
  double threshold = -1;
  // The failure rates with their two-sided Clopper-Pearson intervals at 1 − error_level.
  Interval fail_alone, fail_loaded;
  std::vector<FailureKind> failures;  // most frequent first
  std::string confidence;             // counts, rates and intervals, for a person
  std::string reason;                 // why this verdict (or why none yet)
  std::string needs;                  // undecided: what more would decide it
  std::string evidence;               // the representative failure's message
  std::string failing_phase;          // the most frequent fingerprint's phase
  std::string representative_run;     // and its run
  std::string direction;              // suggested direction of fix
};

struct Decision {
  Next next = Next::kStop;
  Verdict verdict;
};

// The verdict so far and the next run. The verdict is described in full (rates,
// intervals, evidence) only when the decision is to stop; otherwise it holds the counts
// and a reason. `spent`: how long the triage has taken so far; negative: the attempts'
// own durations.
Decision Decide(const std::vector<Attempt>& attempts, const TriagePolicy& policy,
                Duration spent = Duration(-1));
// The verdict when the triage must end now (interrupted, or the load broke): a verdict
// already decided, else intermittent when certain, else undecided.
Verdict Conclude(const std::vector<Attempt>& attempts, const TriagePolicy& policy);

}  // namespace harness
