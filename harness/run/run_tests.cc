// ColdRun::Test: the recipe's tests, each within its budget; and the evidence of a failure.
#include "run/cold_run.h"

#include <filesystem>
#include <functional>

#include "base/files.h"
#include "base/strings.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr int kEvidenceLogLines = 50;

}  // namespace

// ---- test

Status ColdRun::Test() {
  // The serving check first (when the recipe's router rules name the run's domain and
  // there is a proxy), then the recipe's own tests.
  struct ToRun {
    std::string name;
    std::function<HookOutcome()> run;
    Duration budget;
  };
  std::vector<ToRun> tests;
  if (ChecksServing()) {
    tests.push_back({kServingCheck, [this] {
                       HookOutcome h;
                       h.status = CheckServing();
                       return h;
                     },
                     spec_->deploy_timeout});
  }
  for (const auto& t : spec_->tests) {
    tests.push_back({t.name, [this, &t] { return engine_->Call(t.fn, host_.get(), Deadline::In(spec_->test_timeout)); },
                     spec_->test_timeout});
  }
  PhaseLog test(phase_number_++, "test", &redactor_);
  Duration planned{0};
  for (const auto& t : tests) planned += t.budget;
  PhaseStarted(test, planned);
  Say("test started (" + std::to_string(tests.size()) + " tests)");
  nlohmann::json results = nlohmann::json::array();
  int failed = 0;
  std::string first_failure;
  Status infra_failure;
  for (const auto& t : tests) {
    if (cancel_.cancelled()) break;
    auto started = Clock::now();
    {
      Event e;
      e.kind = EventKind::kStepStarted;
      e.name = t.name;
      Emit(e);
    }
    HookOutcome h = t.run();
    TestOutcome to{t.name, h.status, std::chrono::duration_cast<Duration>(Clock::now() - started),
                   h.traceback};
    if (h.status.code() == Status::Code::kTimeout) {
      to.status = Status::Timeout("test \"" + t.name + "\" ran past its time budget of " + FormatDuration(t.budget));
    }
    if (h.status.code() == Status::Code::kCancelled) to.status = Interrupted();
    nlohmann::json r = {{"name", t.name},
                        {"status", to.status.ok() ? "passed" : "failed"},
                        {"elapsed_ms", to.elapsed.count()},
                        {"api_calls", host_->calls()}};
    host_->ClearCalls();
    if (!to.status.ok()) {
      r["error"] = to.status.message();
      if (!to.traceback.empty()) r["traceback"] = to.traceback;
      if (to.status.code() != Status::Code::kCancelled) {
        ++failed;
        if (first_failure.empty()) first_failure = to.status.message();
        test.AddEvidence({{"test", t.name}, {"error", to.status.message()}});
      }
    }
    Say(std::string(to.status.ok() ? "  pass " : "  FAIL ") + t.name + " (" +
        FormatDuration(to.elapsed) + ")" + (to.status.ok() ? "" : ": " + to.status.message()));
    results.push_back(r);
    to.status = to.status.WithMessage(redactor_.Apply(to.status.message()));
    {
      Event e;
      e.kind = EventKind::kStepEnded;
      e.name = t.name;
      e.status = to.status.ok() ? "passed" : "failed";
      e.text = to.status.message();
      e.elapsed = to.elapsed;
      Emit(e);
    }
    to.traceback = redactor_.Apply(to.traceback);
    bool infra = to.status.code() == Status::Code::kInfra;
    if (infra) infra_failure = to.status;
    out_.tests.push_back(std::move(to));
    // The harness, Docker or the target failed under the test: the rest would not be
    // judged fairly either.
    if (infra) break;
  }
  test.Observe("tests", results);
  Status status;
  if (cancel_.cancelled()) {
    status = Interrupted();
  } else if (!infra_failure.ok()) {
    status = infra_failure;
  } else if (failed > 0) {
    status = Status::Failed(std::to_string(failed) + " of " + std::to_string(tests.size()) +
                            " tests failed; first: " + first_failure);
  }
  if (!status.ok()) {
    Fail("test", status);
    if (status.code() != Status::Code::kCancelled) CollectEvidence(test);
  }
  RecordPhase(test, status);
  return status;
}

void ColdRun::CollectEvidence(PhaseLog& p) {
  const std::string logs_dir = out_.artifacts + "/logs";
  std::error_code ec;
  fs::create_directories(logs_dir, ec);
  if (ec) NoteArtifacts(Status::Infra("cannot create " + logs_dir + ": " + ec.message()));
  const CancelToken& never = CancelToken::None();
  for (const auto& svc : staged_->objects.services) {
    auto logs = runtime_->Logs(out_.namespace_name, host_ ? host_->Key(svc) : svc, 200, Deadline::In(Duration(15000)), never);
    if (!logs.ok()) {
      // Evidence, not a verdict: the packet says which logs are missing and why.
      p.AddEvidence({{"service", svc}, {"log_error", redactor_.Apply(logs.status().message())}});
      continue;
    }
    std::string text = redactor_.Apply(*logs);
    if (!ec) NoteArtifacts(WriteFileAtomic(logs_dir + "/" + svc + ".log", text));
    p.AddEvidence({{"service", svc}, {"log_tail", TailLines(text, kEvidenceLogLines)}});
  }
  if (auto health = runtime_->ContainerHealth(out_.namespace_name, Deadline::In(Duration(15000))); health.ok()) {
    for (const auto& c : *health) {
      if (c.value("health", "") != "healthy" || c.value("state", "") != "running") {
        p.AddEvidence({{"container", c}});
      }
    }
  }
  if (auto snap = runtime_->Observe(out_.namespace_name, full_services_, nullptr, Deadline::In(Duration(15000)), never); snap.ok()) {
    for (const auto& t : snap->tasks) {
      if (!t.error.empty() || t.desired_state != "Running") {
        p.AddEvidence({{"task", t.name}, {"state", t.current_state}, {"error", t.error}});
      }
    }
  }
}

}  // namespace harness
