#include "report/reports.h"

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "base/files.h"
#include "base/json_text.h"
#include "base/time.h"
#include "report/junit.h"
#include "report/summary.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

std::vector<RunOutcome> Outcomes(const std::vector<ReportRun>& runs) {
  std::vector<RunOutcome> out;
  out.reserve(runs.size());
  for (const auto& r : runs) out.push_back(r.outcome);
  return out;
}

std::string RelativeLink(const std::string& target, const std::string& from_dir) {
  if (target.empty()) return "";
  std::error_code ec;
  fs::path t = fs::absolute(target, ec);
  fs::path f = fs::absolute(from_dir, ec);
  if (ec) return target;
  fs::path rel = t.lexically_normal().lexically_relative(f.lexically_normal());
  return rel.empty() ? t.string() : rel.generic_string();
}

}  // namespace

Status WriteReports(const ReportSet& set) {
  std::error_code ec;
  fs::create_directories(set.out_dir, ec);
  if (ec) return Status::Infra("cannot create the report folder " + set.out_dir + ": " + ec.message());
  std::vector<RunOutcome> runs = Outcomes(set.selected);
  nlohmann::json all = nlohmann::json::array();
  for (const auto& r : runs) all.push_back(SummaryJson(r));
  HtmlPage page{set.title, set.generated_at, set.selected, set.history};
  const std::string contents[] = {
      JUnitXml(runs, set.title),
      MarkdownSummary(runs, set.title),
      JsonText(nlohmann::json{{"schema", "recipe-harness/sweep/v1"}, {"runs", all}}, 2) + "\n",
      HtmlReport(page),
  };
  for (size_t i = 0; i < ReportFiles().size(); ++i) {
    if (Status s = WriteFileAtomic(set.out_dir + "/" + ReportFiles()[i], contents[i]); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::string> ParseSince(const std::string& text, std::chrono::system_clock::time_point now) {
  static const std::regex kAgo(R"(([0-9]{1,6})([mhd]))");
  static const std::regex kDate(R"([0-9]{4}-[0-9]{2}-[0-9]{2})");
  static const std::regex kTime(R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,3})?)?Z)");
  std::smatch m;
  if (std::regex_match(text, m, kAgo)) {
    int64_t n = std::stoll(m[1].str());
    int64_t unit = m[2] == "m" ? 60 : m[2] == "h" ? 3600 : 86400;
    return IsoTime(now - std::chrono::seconds(n * unit));
  }
  if (std::regex_match(text, kDate)) return text + "T00:00:00.000Z";
  if (std::regex_match(text, kTime)) {
    // Stored times have milliseconds; pad so that they compare as text.
    std::string t = text.substr(0, text.size() - 1);
    if (t.size() == 16) t += ":00";
    if (t.size() == 19) t += ".";
    while (t.size() < 23) t += "0";
    return t + "Z";
  }
  return Status::InvalidArgument("--since '" + text +
                                 "': expected an age like 36h, 7d or 90m, a date like 2026-11-20, "
                                 "or a UTC time like 2026-11-20T06:00:00Z");
}

Result<std::vector<ReportRun>> LoadReportRuns(Ledger* ledger, const RunQuery& query,
                                              const std::string& out_dir) {
  auto records = ledger->FinishedRuns(query);
  if (!records.ok()) return records.status();
  std::vector<ReportRun> runs;
  for (const auto& rec : *records) {
    auto j = nlohmann::json::parse(rec.summary, nullptr, false);
    auto outcome = RunOutcomeFromSummary(j);
    if (!outcome.ok()) {
      return Status::Infra("ledger " + ledger->path() + ": run " + rec.id + ": " + outcome.status().message());
    }
    outcome->artifacts = rec.artifacts;
    if (outcome->result != "passed") {
      // A verdict decided since this run started is the verdict on its failure.
      auto verdict = ledger->LatestVerdict(rec.recipe, rec.started_at);
      if (!verdict.ok()) return verdict.status();
      if (verdict->has_value()) {
        outcome->triage_verdict = (*verdict)->verdict;
        outcome->triage_confidence = (*verdict)->confidence;
      }
    }
    std::error_code ec;  // a folder that cannot be looked at is not linked
    bool kept = !rec.artifacts.empty() && fs::exists(rec.artifacts, ec);
    runs.push_back({std::move(*outcome), rec.started_at, rec.sweep,
                    kept ? RelativeLink(rec.artifacts, out_dir) : ""});
  }
  return runs;
}

std::vector<ReportRun> WithoutRetriedAttempts(std::vector<ReportRun> runs) {
  std::set<std::string> retried;
  for (const auto& r : runs) {
    if (!r.outcome.retry_of.empty()) retried.insert(r.outcome.retry_of);
  }
  runs.erase(std::remove_if(runs.begin(), runs.end(),
                            [&](const ReportRun& r) { return retried.count(r.outcome.run_id) > 0; }),
             runs.end());
  return runs;
}

Result<std::vector<std::vector<ReportRun>>> LoadHistory(Ledger* ledger,
                                                        const std::vector<ReportRun>& selected,
                                                        int per_recipe, const std::string& out_dir) {
  std::set<std::string> recipes;
  for (const auto& r : selected) recipes.insert(r.outcome.recipe);
  std::vector<std::vector<ReportRun>> history;
  for (const auto& recipe : recipes) {
    RunQuery q;
    q.recipe = recipe;
    q.limit = per_recipe;
    auto runs = LoadReportRuns(ledger, q, out_dir);
    if (!runs.ok()) return runs.status();
    history.push_back(std::move(*runs));
  }
  return history;
}

}  // namespace harness
