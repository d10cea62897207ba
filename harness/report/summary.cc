#include "report/summary.h"

#include <algorithm>
#include <sstream>

#include "base/deadline.h"

namespace harness {

std::string NextStep(const RunOutcome& r) {
  // Failures need triage to tell flakes from defects; infrastructure failures a re-run.
  if (r.result == "failed") return r.escalated ? "triage (escalated)" : "triage";
  if (r.result == "infra") return "re-run";
  if (r.result == "error") return "fix script";
  return "-";
}

nlohmann::json SummaryJson(const RunOutcome& run) {
  nlohmann::json j;
  j["schema"] = "recipe-harness/summary/v1";
  j["run_id"] = run.run_id;
  j["recipe"] = run.recipe;
  j["version"] = run.version;
  if (!run.upgraded_from.empty()) j["upgraded_from"] = run.upgraded_from;
  j["namespace"] = run.namespace_name;
  j["result"] = run.result;
  // Runs whose failure is the infrastructure's carry that verdict already; the others get
  // theirs from triage (re-runs alone and under load).
  if (run.result == "infra") j["verdict"] = "infra";
  if (std::string next = NextStep(run); next != "-") j["next"] = next;
  j["exit_code"] = run.exit_code;
  j["elapsed_ms"] = run.elapsed.count();
  if (!run.failed_phase.empty()) j["failed_phase"] = run.failed_phase;
  if (!run.reason.empty()) j["reason"] = run.reason;
  j["weight"] = run.weight;
  if (!run.retry_of.empty()) {
    j["retry"] = {{"transient_class", run.transient_class}, {"first_run", run.retry_of},
                  {"first_reason", run.first_reason}, {"escalated", run.escalated}};
  } else if (!run.transient_class.empty()) {
    j["transient_class"] = run.transient_class;
  }
  j["phases"] = nlohmann::json::array();
  for (const auto& p : run.phases) {
    nlohmann::json pj = {{"name", p.name},
                         {"status", p.status.ok() ? "ok" : CodeName(p.status.code())},
                         {"elapsed_ms", p.elapsed.count()}};
    if (!p.status.ok()) pj["error"] = p.status.message();
    j["phases"].push_back(pj);
  }
  j["tests"] = nlohmann::json::array();
  for (const auto& t : run.tests) {
    nlohmann::json tj = {{"name", t.name},
                         {"status", t.status.ok() ? "passed" : "failed"},
                         {"elapsed_ms", t.elapsed.count()}};
    if (!t.status.ok()) tj["error"] = t.status.message();
    if (!t.status.ok() && !t.traceback.empty()) tj["traceback"] = t.traceback;
    j["tests"].push_back(tj);
  }
  j["teardown"] = {{"needed", run.deployed},
                   {"verified", run.deployed && run.teardown.ok()}};
  if (!run.teardown.ok()) j["teardown"]["error"] = run.teardown.message();
  return j;
}

Result<RunOutcome> RunOutcomeFromSummary(const nlohmann::json& j) {
  if (!j.is_object() || j.value("schema", "") != "recipe-harness/summary/v1") {
    return Status::InvalidArgument("not a recipe-harness/summary/v1 document");
  }
  try {
    RunOutcome r;
    r.run_id = j.at("run_id").get<std::string>();
    r.recipe = j.at("recipe").get<std::string>();
    r.version = j.value("version", "");
    r.namespace_name = j.value("namespace", "");
    r.result = j.at("result").get<std::string>();
    r.exit_code = j.at("exit_code").get<int>();
    r.elapsed = Duration(j.value("elapsed_ms", int64_t{0}));
    r.failed_phase = j.value("failed_phase", "");
    r.reason = j.value("reason", "");
    r.weight = j.value("weight", 1);
    r.transient_class = j.value("transient_class", "");
    if (j.contains("retry")) {
      const auto& retry = j["retry"];
      r.transient_class = retry.value("transient_class", "");
      r.retry_of = retry.value("first_run", "");
      r.first_reason = retry.value("first_reason", "");
      r.escalated = retry.value("escalated", false);
    }
    for (const auto& p : j.value("phases", nlohmann::json::array())) {
      r.phases.push_back({p.at("name").get<std::string>(),
                          Status::FromCodeName(p.at("status").get<std::string>(), p.value("error", "")),
                          Duration(p.value("elapsed_ms", int64_t{0}))});
    }
    for (const auto& t : j.value("tests", nlohmann::json::array())) {
      Status s = t.at("status") == "passed" ? Status::Ok() : Status::Failed(t.value("error", ""));
      r.tests.push_back({t.at("name").get<std::string>(), s, Duration(t.value("elapsed_ms", int64_t{0})),
                         t.value("traceback", "")});
    }
    const auto& teardown = j.value("teardown", nlohmann::json::object());
    r.deployed = teardown.value("needed", false);
    if (teardown.contains("error")) r.teardown = Status::Infra(teardown["error"].get<std::string>());
    return r;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("malformed summary: ") + e.what());
  }
}

std::string ResultsTable(const std::vector<RunOutcome>& runs) {
  struct Row {
    std::string recipe, version, result, phase, time, next, reason;
  };
  std::vector<Row> rows;
  rows.push_back({"RECIPE", "VERSION", "RESULT", "PHASE", "TIME", "NEXT", "REASON"});
  for (const auto& r : runs) {
    std::string reason = r.reason;
    if (auto nl = reason.find('\n'); nl != std::string::npos) reason = reason.substr(0, nl);
    if (reason.size() > 100) reason = reason.substr(0, 97) + "...";
    // What a person should do next: failures need triage to tell flakes from defects.
    std::string next = NextStep(r);
    rows.push_back({r.recipe, r.version.empty() ? "-" : r.version, r.result,
                    r.failed_phase.empty() ? "-" : r.failed_phase, FormatDuration(r.elapsed), next,
                    reason.empty() ? "-" : reason});
  }
  size_t w[6] = {0, 0, 0, 0, 0, 0};
  for (const auto& row : rows) {
    w[0] = std::max(w[0], row.recipe.size());
    w[1] = std::max(w[1], row.version.size());
    w[2] = std::max(w[2], row.result.size());
    w[3] = std::max(w[3], row.phase.size());
    w[4] = std::max(w[4], row.time.size());
    w[5] = std::max(w[5], row.next.size());
  }
  std::ostringstream os;
  auto pad = [](const std::string& s, size_t n) { return s + std::string(n - s.size() + 2, ' '); };
  for (const auto& row : rows) {
    os << pad(row.recipe, w[0]) << pad(row.version, w[1]) << pad(row.result, w[2])
       << pad(row.phase, w[3]) << pad(row.time, w[4]) << pad(row.next, w[5]) << row.reason << "\n";
  }
  size_t passed = std::count_if(runs.begin(), runs.end(),
                                [](const RunOutcome& r) { return r.result == "passed"; });
  os << passed << " passed, " << runs.size() - passed << " failed\n";
  return os.str();
}

}  // namespace harness
