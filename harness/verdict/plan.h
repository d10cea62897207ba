// The triage policy (what a person may set) and the sequential plan it implies (what the
// decision rules compare with), fixed before the first run so that looking at the evidence
// after every run cannot raise the chance of a wrong verdict.
//
// The error level α (default 1 %) is split in two halves, one per verdict that a test
// decides (intermittent needs no test: a pass and a failure alone prove it):
//   genuine     α/2: the first `genuine_runs` runs alone all fail with one fingerprint.
//               If no fingerprint fails alone at a rate above θ (`genuine_rate`, 1/2),
//               the chance of that is at most Σ_f p_f^n ≤ ⌊1/θ⌋·θ^n + (1−⌊1/θ⌋θ)^n, and
//               `genuine_runs` is the least n (and at least `min_decisive`) that makes it
//               ≤ α/2. There is one such moment in a triage, so one look.
//   load-flake  α/2, spent evenly over the looks: after every second run (and the last),
//               from the first look at which the most extreme table could reach its share.
//               A look compares the loaded arm's failures with the alone arm's by Fisher's
//               exact test, one-sided. By the union bound the chance of ever calling a
//               load-flake when loaded runs fail no more often than alone ones is ≤ α/2.
// The runs follow a fixed schedule (`arms`): alone and loaded interleaved A L L A A L L A
// ..., so that a drift in time or a period-2 rhythm in the recipe hits both arms alike;
// an arm that reached its cap leaves the schedule to the other.
//
// Values; pure functions; any thread.
#pragma once

#include <vector>

#include "base/time.h"

namespace harness {

enum class Arm { kAlone, kLoaded };

struct TriagePolicy {
  double error_level = 0.01;  // α: at most this chance of a wrong verdict per triage
  double genuine_rate = 0.5;  // θ: genuine means one failure recurs alone more often
  int min_decisive = 3;       // no genuine or known-transient from fewer runs alone
  int max_runs = 18;          // attempts in all (infrastructure failures included)
  int max_alone = 12;
  int max_loaded = 9;
  int min_load_failures = 2;     // load-flake also needs this many failures under load
  int not_reproduced_after = 8;  // runs without any failure: stop, not reproduced
  int max_infra = 3;             // infrastructure failures before giving up
  Duration max_time{3600000};    // --max-minutes
  // Loaded runs can be run. False (no load configured, or the load broke) ends the
  // load-flake test for good: from then on only alone runs, for genuine or intermittent.
  bool with_load = true;
};

struct TriagePlan {
  double alpha = 0.01;
  double alpha_genuine = 0.005;
  double alpha_load = 0.005;
  double genuine_rate = 0.5;
  // Failures in a row alone, one fingerprint, that decide genuine; and the chance of
  // them at rates ≤ genuine_rate (≤ alpha_genuine). 0 runs: unreachable within max_alone.
  int genuine_runs = 0;
  double genuine_p = 1;
  // arms[t]: the arm of counted run t+1 (passes and failures; infrastructure failures
  // are re-run in the same arm); alone[t], loaded[t]: the counts after t counted runs.
  std::vector<Arm> arms;
  std::vector<int> alone, loaded;
  // look_alpha[t]: the level of the load-flake test after t counted runs; 0: no look.
  std::vector<double> look_alpha;
  int looks = 0;
  int min_load_failures = 2;
};

TriagePlan MakePlan(const TriagePolicy& policy);

// The most that Σ_f p_f^n can be when every p_f ≤ rate and Σ_f p_f ≤ 1: the chance that
// n runs in a row fail with one fingerprint when no fingerprint fails at a rate above
// `rate` (see above).
double SameFailureInARow(double rate, int n);

// Whether the load-flake test can still succeed at some look after `t` counted runs if
// every further alone run passes and every further loaded run fails.
bool LoadFlakeReachable(const TriagePlan& plan, int t, int alone_fails, int loaded_fails);

// The fewest further counted runs after which the load-flake test could succeed, with a
// budget raised as far as needed (caps included), if every further alone run passes and
// every further loaded run fails; 0 when it cannot within 200 runs in all. `budget` gets
// the max_runs that would allow it.
int RunsToLoadFlake(const TriagePolicy& policy, int t, int alone_fails, int loaded_fails,
                    int* budget);

}  // namespace harness
