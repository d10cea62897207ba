// Verdicts: what re-runs of a failing recipe say about the failure.
//
// Pure logic over recorded attempts, so that it is unit-tested on recorded outcomes.
// "Isolation before blame": a failure is only called a flake with re-runs proving it.
//
//   genuine          fails alone, every time (at least kMinDecisive times, no pass)
//   intermittent     mixed results alone
//   load-flake       green alone (at least kMinDecisive passes), red under load
//                    (at least kMinLoadFailures failures)
//   known-transient  failed in a declared transient class, and its single retry passed
//   infra            only the harness, Docker or the host failed
//   undecided        not enough evidence (yet)
//
// Decide() also says what to run next, so that triage stops as soon as the evidence is
// decisive and goes on while it is not.
//
// Thread-safety: pure functions of their arguments; any thread.
#pragma once

#include <string>
#include <vector>

#include "verdict/stats.h"

namespace harness {

struct Attempt {
  enum class Outcome { kPass, kFail, kInfra };
  Outcome outcome = Outcome::kPass;
  bool loaded = false;           // run under load (else alone)
  bool transient_retry = false;  // the first try failed in a declared transient class
  std::string transient_class;   // that class
  std::string phase;             // the failing phase (for kFail)
  std::string evidence;          // the failure's message
};

struct TriagePolicy {
  int min_decisive = 3;     // same outcome this often alone decides genuine / alone-green
  int max_alone = 6;
  int min_load_failures = 2;
  int max_loaded = 6;
  int max_infra = 3;        // infrastructure failures before giving up with `infra`
};

struct Tally {
  int pass = 0, fail = 0, infra = 0;
  int runs() const { return pass + fail; }
};

enum class Next { kAlone, kLoaded, kStop };

struct Verdict {
  std::string kind = "undecided";
  Tally alone, loaded;
  std::string confidence;        // "alone 0/3 passed (95% CI for the pass rate 0.00-0.56); ..."
  std::string reason;            // why this verdict (or why none yet)
  std::string evidence;          // a representative failure
  std::string failing_phase;
  std::string direction;         // suggested direction of fix
};

struct Decision {
  Next next = Next::kStop;
  Verdict verdict;
};

Decision Decide(const std::vector<Attempt>& attempts, const TriagePolicy& policy);

}  // namespace harness
