#include "sched/triage.h"

#include <sstream>

#include "base/cancel.h"

namespace harness {
namespace {

Attempt FromRun(const RunOutcome& o, bool loaded) {
  Attempt a;
  a.loaded = loaded;
  if (o.result == "passed") {
    a.outcome = Attempt::Outcome::kPass;
  } else if (o.result == "infra") {
    a.outcome = Attempt::Outcome::kInfra;
  } else {
    a.outcome = Attempt::Outcome::kFail;
    a.phase = o.failed_phase;
    a.evidence = o.reason;
  }
  if (!o.retry_of.empty()) {
    a.transient_retry = true;
    a.transient_class = o.transient_class;
  }
  return a;
}

std::string Cell(std::string s, size_t max = 90) {
  for (auto& c : s) {
    if (c == '\n' || c == '|') c = ' ';
  }
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s.empty() ? "-" : s;
}

std::string Count(const Tally& t) {
  if (t.runs() == 0) return "-";
  return std::to_string(t.pass) + "/" + std::to_string(t.runs()) + " passed";
}

}  // namespace

TriageResult Triage(const TriageOptions& opts, Docker* docker, const ProgressFn& progress) {
  TriageResult result;
  result.recipe = opts.base.recipe;
  result.load = opts.load.Describe();
  std::vector<Attempt> attempts;
  LoadGenerator load(docker, opts.base, opts.load, progress);
  auto say = [&](const std::string& s) {
    if (progress) progress("[" + opts.base.recipe + "] triage: " + s);
  };
  while (true) {
    Decision d = Decide(attempts, opts.policy);
    result.verdict = d.verdict;
    if (d.next == Next::kStop) break;
    if (CancelToken::Signals().cancelled()) {
      result.interrupted = true;
      break;
    }
    bool loaded = d.next == Next::kLoaded;
    if (loaded && !load.running()) {
      if (opts.load.empty()) {
        result.load_error = Status::InvalidArgument("no load configured");
      } else {
        result.load_error = load.Start();
      }
      if (!result.load_error.ok()) {
        result.verdict.reason += "; under load: not run (" + result.load_error.message() + ")";
        break;
      }
    }
    int n = 1;
    for (const auto& a : attempts) n += a.loaded == loaded ? 1 : 0;
    say(std::string(loaded ? "under load" : "alone") + ", attempt " + std::to_string(n) + " (" +
        d.verdict.reason + ")");
    RunOptions o = opts.base;
    o.isolated = !loaded;
    RunOutcome run = RunRecipeWithRetry(o, docker, progress);
    if (run.result == "interrupted") {
      result.interrupted = true;
      break;
    }
    if (run.result == "error") {
      // A script or configuration error cannot be triaged: it fails before deploying.
      Attempt a = FromRun(run, loaded);
      attempts.push_back(a);
      result.attempts.push_back({a, run.run_id, run.elapsed});
      result.verdict = Decide(attempts, opts.policy).verdict;
      result.verdict.kind = "genuine";
      result.verdict.reason = "the recipe cannot be loaded or deployed: " + run.reason;
      result.verdict.direction = "recipe: fix its script or compose files";
      break;
    }
    Attempt a = FromRun(run, loaded);
    attempts.push_back(a);
    result.attempts.push_back({a, run.run_id, run.elapsed});
    say(run.result + (run.reason.empty() ? "" : ": " + run.reason));
  }
  Status stopped = load.Stop();
  if (!stopped.ok()) say("removing the load failed: " + stopped.message());
  say("verdict " + result.verdict.kind + ": " + result.verdict.reason);
  return result;
}

std::string TriageTable(const std::vector<TriageResult>& results) {
  std::ostringstream os;
  os << "| recipe | failure | alone | under load | verdict | evidence | direction of fix |\n";
  os << "|---|---|---|---|---|---|---|\n";
  for (const auto& r : results) {
    const Verdict& v = r.verdict;
    os << "| " << Cell(r.recipe) << " | " << Cell(v.failing_phase) << " | " << Count(v.alone) << " | "
       << Count(v.loaded) << " | " << v.kind << (r.interrupted ? " (interrupted)" : "") << " | "
       << Cell(v.evidence) << " | " << Cell(v.direction) << " |\n";
  }
  for (const auto& r : results) {
    os << "\n" << r.recipe << ": " << r.verdict.reason << ".\n  " << r.verdict.confidence << ".\n";
    if (!r.attempts.empty()) os << "  load: " << r.load << "\n";
  }
  return os.str();
}

nlohmann::json TriageJson(const TriageResult& r) {
  const Verdict& v = r.verdict;
  nlohmann::json j = {{"schema", "recipe-harness/triage/v1"},
                      {"recipe", r.recipe},
                      {"verdict", v.kind},
                      {"reason", v.reason},
                      {"confidence", v.confidence},
                      {"failing_phase", v.failing_phase},
                      {"evidence", v.evidence},
                      {"direction", v.direction},
                      {"load", r.load},
                      {"interrupted", r.interrupted},
                      {"alone", {{"passed", v.alone.pass}, {"failed", v.alone.fail}, {"infra", v.alone.infra}}},
                      {"under_load", {{"passed", v.loaded.pass}, {"failed", v.loaded.fail}, {"infra", v.loaded.infra}}}};
  Interval a = Wilson(v.alone.pass, v.alone.runs());
  Interval l = Wilson(v.loaded.pass, v.loaded.runs());
  j["alone"]["pass_rate_ci95"] = {a.low, a.high};
  j["under_load"]["pass_rate_ci95"] = {l.low, l.high};
  j["attempts"] = nlohmann::json::array();
  for (const auto& t : r.attempts) {
    const char* outcome = t.attempt.outcome == Attempt::Outcome::kPass   ? "passed"
                          : t.attempt.outcome == Attempt::Outcome::kFail ? "failed"
                                                                         : "infra";
    nlohmann::json aj = {{"run_id", t.run_id}, {"loaded", t.attempt.loaded}, {"outcome", outcome},
                         {"elapsed_ms", t.elapsed.count()}};
    if (!t.attempt.phase.empty()) aj["phase"] = t.attempt.phase;
    if (!t.attempt.evidence.empty()) aj["evidence"] = t.attempt.evidence;
    if (t.attempt.transient_retry) aj["retried_for"] = t.attempt.transient_class;
    j["attempts"].push_back(aj);
  }
  if (!r.load_error.ok()) j["load_error"] = r.load_error.message();
  return j;
}

int TriageExitCode(const TriageResult& r) {
  if (r.interrupted) {
    int sig = CancelToken::Signals().signal();
    return ExitCodeForSignal(sig ? sig : 2);
  }
  const std::string& k = r.verdict.kind;
  if (k == "infra") return 3;
  if (k == "genuine" || k == "intermittent" || k == "load-flake") return 1;
  if (k == "undecided" && r.verdict.alone.fail + r.verdict.loaded.fail > 0) return 1;
  return 0;
}

}  // namespace harness
