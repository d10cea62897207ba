#include "sched/triage.h"

#include <cstdio>
#include <sstream>

#include "base/cancel.h"
#include "verdict/fingerprint.h"

namespace harness {
namespace {

std::string Cell(std::string s, size_t max = 90) {
  for (auto& c : s) {
    if (c == '\n' || c == '|') c = ' ';
  }
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s.empty() ? "-" : s;
}

std::string Count(const Tally& t) {
  if (t.runs() == 0) return "-";
  return std::to_string(t.fail) + "/" + std::to_string(t.runs()) + " failed";
}

const char* OutcomeName(Attempt::Outcome o) {
  switch (o) {
    case Attempt::Outcome::kPass:
      return "passed";
    case Attempt::Outcome::kFail:
      return "failed";
    case Attempt::Outcome::kInfra:
      return "infra";
  }
  return "infra";
}

// The namespace in a run id ("<UTC time>-<namespace>").
std::string NamespaceOf(const std::string& run_id) {
  auto dash = run_id.find('-');
  return dash == std::string::npos ? "" : run_id.substr(dash + 1);
}

nlohmann::json TallyJson(const Tally& t, const Interval& ci) {
  return {{"passed", t.pass},
          {"failed", t.fail},
          {"infra", t.infra},
          {"fail_rate", t.runs() > 0 ? static_cast<double>(t.fail) / t.runs() : 0.0},
          {"fail_rate_interval", {ci.low, ci.high}}};
}

}  // namespace

Attempt AttemptOf(const RunOutcome& o, bool loaded) {
  Attempt a;
  a.loaded = loaded;
  a.run_id = o.run_id;
  a.artifacts = o.artifacts;
  a.elapsed = o.elapsed;
  if (o.result == "passed") {
    a.outcome = Attempt::Outcome::kPass;
  } else if (o.result == "infra") {
    a.outcome = Attempt::Outcome::kInfra;
  } else {
    a.outcome = Attempt::Outcome::kFail;
    a.phase = o.failed_phase;
    a.evidence = o.reason;
    // A test failure is the first failing test and its own message; any other failure is
    // its phase and the run's reason.
    std::string error = o.reason;
    if (o.failed_phase == "test") {
      for (const auto& t : o.tests) {
        if (t.status.ok()) continue;
        a.step = t.name;
        error = t.status.message();
        break;
      }
    }
    std::vector<std::string> names = {o.run_id, o.namespace_name};
    if (!o.retry_of.empty()) {
      names.push_back(o.retry_of);
      names.push_back(NamespaceOf(o.retry_of));
    }
    a.fingerprint = MakeFingerprint(a.phase, a.step, error, names).key;
  }
  if (!o.retry_of.empty()) {
    a.transient_retry = true;
    a.transient_class = o.transient_class;
  }
  return a;
}

TriageResult Triage(const TriageOptions& opts, Docker* docker, const ProgressFn& progress) {
  TriageResult result;
  result.recipe = opts.base.recipe;
  result.load = opts.load.Describe();
  TriagePolicy policy = opts.policy;
  if (opts.load.empty()) policy.with_load = false;
  std::vector<Attempt>& attempts = result.attempts;
  LoadGenerator load(docker, opts.base, opts.load, progress);
  auto say = [&](const std::string& s) {
    if (progress) progress("[" + opts.base.recipe + "] triage: " + s);
  };
  const Clock::time_point started = Clock::now();
  bool conclude = false;  // the triage ends before Decide() stops it
  while (true) {
    auto spent = std::chrono::duration_cast<Duration>(Clock::now() - started);
    Decision d = Decide(attempts, policy, spent);
    result.verdict = d.verdict;
    if (d.next == Next::kStop) break;
    if (CancelToken::Signals().cancelled()) {
      result.interrupted = conclude = true;
      break;
    }
    const bool loaded = d.next == Next::kLoaded;
    // The load on for a loaded run, paused (nothing of it running) for an alone run.
    if (Status ready = loaded ? load.Start() : load.Pause(); !ready.ok()) {
      if (ready.code() == Status::Code::kCancelled) {
        result.interrupted = conclude = true;
        break;
      }
      result.load_error = ready;
      say(std::string("the load could not be ") + (loaded ? "set up" : "paused") + ": " +
          ready.message() + "; removing it, and going on alone");
      result.load_teardown = load.Stop();
      if (!result.load_teardown.ok()) {
        conclude = true;  // an alone run beside a load that may still run would prove nothing
        break;
      }
      policy.with_load = false;
      continue;
    }
    int n = 1;
    for (const auto& a : attempts) n += a.loaded == loaded ? 1 : 0;
    say(std::string(loaded ? "under load" : "alone") + ", attempt " + std::to_string(n) + " (" +
        d.verdict.reason + ")");
    RunOptions o = opts.base;
    o.isolated = !loaded;
    RunOutcome run = RunRecipeWithRetry(o, docker, progress);
    if (run.result == "interrupted") {
      result.interrupted = conclude = true;
      break;
    }
    attempts.push_back(AttemptOf(run, loaded));
    if (run.result == "error") {
      // A script or configuration error cannot be triaged: it fails before deploying.
      result.verdict = Conclude(attempts, policy);
      result.verdict.kind = "genuine";
      result.verdict.reason = "the recipe cannot be loaded or deployed: " + run.reason;
      result.verdict.direction = "recipe: fix its script or compose files";
      break;
    }
    say(run.result + (run.reason.empty() ? "" : ": " + run.reason));
  }
  if (conclude) result.verdict = Conclude(attempts, policy);
  if (!result.load_error.ok())
    result.verdict.reason += "; the load failed: " + result.load_error.message();
  Status stopped = load.Stop();
  if (!stopped.ok()) {
    result.load_teardown = stopped;
  }
  if (!result.load_teardown.ok())
    say("removing the load failed: " + result.load_teardown.message());
  say("verdict " + result.verdict.kind + ": " + result.verdict.reason);
  return result;
}

std::string TriageTable(const std::vector<TriageResult>& results) {
  std::ostringstream os;
  os << "| recipe | failure | alone | under load | verdict | evidence | direction of fix |\n";
  os << "|---|---|---|---|---|---|---|\n";
  for (const auto& r : results) {
    const Verdict& v = r.verdict;
    os << "| " << Cell(r.recipe) << " | " << Cell(v.failing_phase) << " | " << Count(v.alone)
       << " | " << Count(v.loaded) << " | " << v.kind << (r.interrupted ? " (interrupted)" : "")
       << " | " << Cell(v.evidence) << " | " << Cell(v.direction) << " |\n";
  }
  for (const auto& r : results) {
    const Verdict& v = r.verdict;
    os << "\n" << r.recipe << ": " << v.reason << ".\n  " << v.confidence << ".\n";
    if (!v.needs.empty()) os << "  would decide it: " << v.needs << ".\n";
    for (const auto& k : v.failures) {
      os << "  " << k.id << " (" << k.alone << " alone, " << k.loaded << " under load): " << k.key
         << "\n";
      if (!k.run_id.empty()) {
        os << "    e.g. run " << k.run_id
           << (k.artifacts.empty() ? "" : ", proof packets in " + k.artifacts) << "\n";
      }
    }
    if (!r.attempts.empty()) os << "  load: " << r.load << "\n";
  }
  return os.str();
}

nlohmann::json TriageJson(const TriageResult& r) {
  const Verdict& v = r.verdict;
  nlohmann::json j = {{"schema", "recipe-harness/triage/v2"},
                      {"recipe", r.recipe},
                      {"verdict", v.kind},
                      {"reason", v.reason},
                      {"confidence", v.confidence},
                      {"needs", v.needs},
                      {"failing_phase", v.failing_phase},
                      {"evidence", v.evidence},
                      {"representative_run", v.representative_run},
                      {"direction", v.direction},
                      {"error_level", v.error_level},
                      {"load", r.load},
                      {"interrupted", r.interrupted},
                      {"alone", TallyJson(v.alone, v.fail_alone)},
                      {"under_load", TallyJson(v.loaded, v.fail_loaded)}};
  nlohmann::json test = nullptr;
  if (!v.test.empty()) {
    test = {{"name", v.test}, {"p_value", v.p_value}};
    test["threshold"] = v.threshold >= 0 ? nlohmann::json(v.threshold) : nlohmann::json(nullptr);
  }
  j["test"] = test;
  j["fingerprints"] = nlohmann::json::array();
  for (const auto& k : v.failures) {
    j["fingerprints"].push_back({{"id", k.id},
                                 {"key", k.key},
                                 {"phase", k.phase},
                                 {"step", k.step},
                                 {"alone", k.alone},
                                 {"under_load", k.loaded},
                                 {"run_id", k.run_id},
                                 {"artifacts", k.artifacts},
                                 {"evidence", k.evidence}});
  }
  j["attempts"] = nlohmann::json::array();
  for (const auto& a : r.attempts) {
    nlohmann::json aj = {{"run_id", a.run_id},
                         {"loaded", a.loaded},
                         {"outcome", OutcomeName(a.outcome)},
                         {"elapsed_ms", a.elapsed.count()}};
    if (!a.artifacts.empty()) aj["artifacts"] = a.artifacts;
    if (!a.phase.empty()) aj["phase"] = a.phase;
    if (!a.step.empty()) aj["step"] = a.step;
    if (!a.evidence.empty()) aj["evidence"] = a.evidence;
    if (!a.fingerprint.empty()) aj["fingerprint"] = FingerprintId(a.fingerprint);
    if (a.transient_retry) aj["retried_for"] = a.transient_class;
    j["attempts"].push_back(aj);
  }
  if (!r.load_error.ok()) j["load_error"] = r.load_error.message();
  if (!r.load_teardown.ok()) j["load_teardown_error"] = r.load_teardown.message();
  return j;
}

int TriageExitCode(const TriageResult& r) {
  if (r.interrupted) {
    int sig = CancelToken::Signals().signal();
    return ExitCodeForSignal(sig ? sig : 2);
  }
  const std::string& k = r.verdict.kind;
  if (k == "infra" || !r.load_teardown.ok()) return 3;
  if (k == "genuine" || k == "intermittent" || k == "load-flake") return 1;
  if (k == "undecided" && r.verdict.alone.fail + r.verdict.loaded.fail > 0) return 1;
  return 0;
}

}  // namespace harness
