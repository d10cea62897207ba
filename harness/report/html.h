// The sweep page: a self-contained static HTML report (no network needed to view it).
//
// Per recipe: the result of its latest run in the selection, a history strip of recent
// runs (each linking to its proof packets), its durations over time as a small chart, and
// its pass rate with a 95% confidence interval. A pure function of the runs it is given
// (no clock, no I/O), so it has an approval baseline.
//
// Thread-safety: pure; any thread.
#pragma once

#include <string>
#include <vector>

#include "recipe/outcome.h"

namespace harness {

// A finished run as a report sees it: its outcome, when it started, and where its proof
// packets are, relative to the report ("" when it has none).
struct ReportRun {
  RunOutcome outcome;
  std::string started_at;  // ISO-8601 UTC
  std::string sweep;
  std::string link;
};

struct HtmlPage {
  std::string title;
  std::string generated_at;             // ISO-8601 UTC
  std::vector<ReportRun> selected;      // the runs the report is about, oldest first
  // Recent runs of each selected recipe, oldest first (the selected ones included).
  std::vector<std::vector<ReportRun>> history;
};

std::string HtmlReport(const HtmlPage& page);

}  // namespace harness
