// Run summaries: summary.json of one run, and the results table of several.
//
// Reading and writing summary.json touch only the file they are given; the table and JSON
// forms are pure. Thread-safety: any thread, one writer per run folder.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "recipe/outcome.h"

namespace harness {

nlohmann::json SummaryJson(const RunOutcome& run);
// The outcome a summary.json describes (what reports need of it), for reports rendered
// later from the ledger. Fails on a summary of another schema or a malformed one.
Result<RunOutcome> RunOutcomeFromSummary(const nlohmann::json& summary);
// What to do about a run: "triage", "triage (escalated)", "re-run", "fix script" or "-".
std::string NextStep(const RunOutcome& run);
// A fixed-width table: recipe, version, result, failed phase, time, reason.
std::string ResultsTable(const std::vector<RunOutcome>& runs);

}  // namespace harness
