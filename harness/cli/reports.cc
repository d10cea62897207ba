#include "cli/reports.h"

#include <iostream>

#include "base/exit_code.h"
#include "base/json_text.h"
#include "base/time.h"
#include "report/reports.h"
#include "report/summary.h"

namespace harness {
namespace {

// The ledger query and title of `req`; reads the latest sweep's name from `ledger`.
Status SelectRuns(const ReportRequest& req, Ledger* ledger, RunQuery* q, std::string* title) {
  q->recipe = req.recipe;
  if (!req.run.empty()) {
    q->run_id = req.run;
    *title = "Run " + req.run;
  } else if (!req.sweep.empty()) {
    q->sweep = req.sweep;
    *title = "Canon sweep " + req.sweep.substr(req.sweep.rfind('-') + 1);
  } else {
    if (req.since.empty() && ledger != nullptr) {
      auto latest = ledger->LatestSweep();
      if (!latest.ok()) return Status::Infra(latest.status().message());
      q->sweep = *latest;
      *title = "Canon sweep " + q->sweep.substr(q->sweep.rfind('-') + 1);
    }
    if (q->sweep.empty()) {
      auto since = ParseSince(req.since.empty() ? "24h" : req.since, std::chrono::system_clock::now());
      if (!since.ok()) return Status::InvalidArgument(since.status().message());
      q->since = *since;
      *title = "Runs since " + q->since.substr(0, 16) + " UTC";
    }
  }
  if (!req.recipe.empty()) *title += " — " + req.recipe;
  return Status::Ok();
}

}  // namespace

Status WriteReportSet(const GlobalOptions& g, const ReportRequest& req, const std::vector<RunOutcome>& fallback,
                      const std::function<void(const std::string&)>& say, nlohmann::json* written) {
  ReportSet set;
  set.generated_at = IsoTime(std::chrono::system_clock::now());
  auto ledger = Ledger::Open(g.state);
  RunQuery q;
  if (Status s = SelectRuns(req, ledger.ok() ? ledger->get() : nullptr, &q, &set.title); !s.ok()) return s;
  set.out_dir = !req.out.empty()   ? req.out
                : !q.sweep.empty() ? g.artifacts + "/" + q.sweep
                                   : g.artifacts + "/report-" + UtcStamp();
  if (ledger.ok()) {
    auto runs = LoadReportRuns(ledger->get(), q, set.out_dir);
    if (!runs.ok()) return Status::Infra(runs.status().message());
    set.selected = WithoutRetriedAttempts(std::move(*runs));
    auto history = LoadHistory(ledger->get(), set.selected, req.history, set.out_dir);
    if (!history.ok()) return Status::Infra(history.status().message());
    set.history = std::move(*history);
  } else if (fallback.empty()) {
    return Status::Infra(ledger.status().message());
  }
  if (set.selected.empty() && !fallback.empty()) {
    say("reports from this sweep's own results (the ledger had none: " +
        (ledger.ok() ? std::string("no runs recorded") : ledger.status().message()) + ")");
    for (const auto& r : fallback) set.selected.push_back({r, "", req.sweep, ""});
  }
  if (set.selected.empty()) {
    return Status::InvalidArgument("no finished runs in the ledger " + g.state + " match " +
                                   (!q.run_id.empty() ? "run " + q.run_id
                                    : !q.sweep.empty() ? "sweep " + q.sweep
                                                       : "runs since " + q.since) +
                                   (req.recipe.empty() ? "" : " of recipe " + req.recipe));
  }
  if (Status s = WriteReports(set); !s.ok()) return Status::Infra(s.message());
  std::string files;
  for (const auto& f : ReportFiles()) files += (files.empty() ? "" : ",") + f;
  say("reports: " + set.out_dir + "/{" + files + "}");
  if (written != nullptr) {
    *written = {{"out_dir", set.out_dir}, {"files", ReportFiles()}, {"runs", set.selected.size()},
                {"title", set.title}};
  }
  return Status::Ok();
}

Status PrintRunOutcomes(const GlobalOptions& g, const std::vector<RunOutcome>& runs, bool table) {
  int code = CombinedExitCode(runs);
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : runs) j.push_back(SummaryJson(r));
    std::cout << JsonText(runs.size() == 1 ? j[0] : nlohmann::json{{"runs", j}, {"exit_code", code}}, 2) << "\n";
    return StatusForExitCode(code);
  }
  if (table) std::cout << "\n" << ResultsTable(runs);
  for (const auto& r : runs) {
    if (r.result != "passed" && !r.reason.empty() && !table) {
      std::cout << r.recipe << ": " << r.result << " in " << r.failed_phase << ": " << r.reason << "\n";
    }
    if (!r.artifacts.empty() && !table) std::cout << "artifacts: " << r.artifacts << "\n";
  }
  return StatusForExitCode(code);
}

}  // namespace harness
