// Run summaries: summary.json of one run, and the results table of several.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "recipe/run.h"

namespace harness {

nlohmann::json SummaryJson(const RunOutcome& run);
// What to do about a run: "triage", "triage (escalated)", "re-run", "fix script" or "-".
std::string NextStep(const RunOutcome& run);
// A fixed-width table: recipe, version, result, failed phase, time, reason.
std::string ResultsTable(const std::vector<RunOutcome>& runs);

}  // namespace harness
