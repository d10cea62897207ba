// The report set of a sweep, a run or a time window: junit.xml, summary.md, summary.json
// and report.html, written into one folder. Sweeps write it as they end; `harness report`
// renders it again later from the ledger (every run keeps its summary there).
//
// WriteReports() owns nothing past the call; the loaders borrow the ledger for theirs.
// Thread-safety: one writer per output folder; the ledger's own rules apply to its reads.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/status.h"
#include "ledger/ledger.h"
#include "report/html.h"

namespace harness {

struct ReportSet {
  std::string title;
  std::string out_dir;
  std::string generated_at;                      // ISO-8601 UTC
  std::vector<ReportRun> selected;               // oldest first
  std::vector<std::vector<ReportRun>> history;   // recent runs per selected recipe
};

// The files WriteReports() writes, in that order.
inline const std::vector<std::string>& ReportFiles() {
  static const std::vector<std::string> kFiles = {"junit.xml", "summary.md", "summary.json", "report.html"};
  return kFiles;
}

Status WriteReports(const ReportSet& set);

// The start of a time window, as an ISO-8601 UTC time: "36h", "7d", "90m" before `now`, or
// a date ("2026-11-20") or time ("2026-11-20T06:00:00Z") itself.
Result<std::string> ParseSince(const std::string& text, std::chrono::system_clock::time_point now);

// Finished runs matching `query`, oldest first, their links relative to `out_dir`.
Result<std::vector<ReportRun>> LoadReportRuns(Ledger* ledger, const RunQuery& query,
                                              const std::string& out_dir);
// `runs` without the attempts that a retry in `runs` replaced (the retry names them).
std::vector<ReportRun> WithoutRetriedAttempts(std::vector<ReportRun> runs);
// The last `per_recipe` finished runs of each recipe among `selected`, oldest first.
Result<std::vector<std::vector<ReportRun>>> LoadHistory(Ledger* ledger,
                                                        const std::vector<ReportRun>& selected,
                                                        int per_recipe, const std::string& out_dir);

}  // namespace harness
