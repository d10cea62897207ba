// What several commands print and write about finished runs: the report set of a run, a
// sweep or a time window (from the ledger), and the runs' summaries on stdout.
// Called on main's thread.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/context.h"
#include "run/run.h"

namespace harness {

// Which runs a report set covers: one run, one sweep, or those since a time; "" for
// neither means the latest sweep, else the last 24 hours.
struct ReportRequest {
  std::string run, sweep, since, recipe, out;
  int history = 30;
};

// Renders the report set `req` selects from the ledger. With `fallback` (the sweep that
// just ran), reports are still written when the ledger cannot be read, without history.
// `written` (when given) receives the folder, files and run count.
Status WriteReportSet(const GlobalOptions& g, const ReportRequest& req, const std::vector<RunOutcome>& fallback,
                      const std::function<void(const std::string&)>& say, nlohmann::json* written = nullptr);

// Prints the runs' outcomes (a results table for a sweep, each failure's reason and
// artifacts for one run; JSON with --json) and returns their combined status, already
// reported.
Status PrintRunOutcomes(const GlobalOptions& g, const std::vector<RunOutcome>& runs, bool table);

}  // namespace harness
