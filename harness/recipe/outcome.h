// The outcome of a run of a recipe, as reports, the ledger and the commands read it:
// its result and reason, its phases and tests, its retry and teardown, and its exit code.
// What a run does is run/run.h's; this is what it comes to, so that everything that only
// reads outcomes (report/, the ledger's summaries) needs nothing of the run itself.
//
// Values; any thread.
#pragma once

#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/status.h"

namespace harness {

struct TestOutcome {
  std::string name;
  Status status;
  Duration elapsed{0};
  std::string traceback;
};

struct PhaseOutcome {
  std::string name;
  Status status;
  Duration elapsed{0};
};

struct RunOutcome {
  std::string run_id;
  std::string recipe;
  std::string version;
  std::string namespace_name;
  std::string artifacts;        // the run's artifact folder ("" when none was made)
  // passed | failed | error (bad script or input) | infra | interrupted
  std::string result = "error";
  std::string failed_phase;
  std::string reason;
  std::vector<PhaseOutcome> phases;
  std::vector<TestOutcome> tests;
  std::string upgraded_from;    // an upgrade run's first release
  bool deployed = false;        // something may have been created
  int weight = 1;
  std::string transient_class;  // the declared transient class the failure matched, if any
  // Set on a retry: the first attempt's run id and reason, and whether the retry failed
  // too (then the failure is escalated, never retried again).
  std::string retry_of;
  std::string first_reason;
  bool escalated = false;
  Status teardown;              // ok when nothing was left behind
  // Reports only (never in summary.json): the triage verdict decided on this failure
  // later, from the ledger.
  std::string triage_verdict;
  std::string triage_confidence;
  Duration elapsed{0};
  int exit_code = 2;
};

// The exit code of several runs together: the most serious one (WorseExitCode in
// base/exit_code.h).
int CombinedExitCode(const std::vector<RunOutcome>& runs);

}  // namespace harness
