// The waits of converge and upgrade: Swarm converges, the version label, the readiness probe.
#include "run/cold_run.h"

#include <algorithm>

#include "base/wait.h"

namespace harness {

// The deployed version is polled, not read once: a rolling update takes a while to show,
// and Swarm may roll a failed update back silently, leaving the old version running.
Status ColdRun::WaitForVersion(PhaseLog& converge) {
  const std::string label = version_label_.empty() ? "coop-cloud." + out_.namespace_name + ".version" : version_label_;
  const std::string& want = expect_version_;
  std::string last;
  while (true) {
    auto versions = runtime_->ServiceVersions(full_services_, label, nullptr, deploy_deadline_, cancel_);
    if (!versions.ok()) return versions.status();
    bool any = false, all = true;
    last.clear();
    for (const auto& v : *versions) {
      if (v.update_state.rfind("rollback", 0) == 0) {
        converge.Observe("versions", last);
        return Status::Failed("Swarm rolled the update of " + v.service + " back (" + v.update_state +
                              "); it runs " + (v.version.empty() ? "an unlabelled version" : v.version) +
                              ", not " + want);
      }
      if (v.version.empty()) continue;
      any = true;
      all = all && v.version == want;
      last += (last.empty() ? "" : ", ") + v.service + "=" + v.version;
    }
    if (!any) {
      return Status::Failed("no service carries the label " + label + ": the deployed version cannot be verified");
    }
    if (all) {
      converge.Observe("versions", last);
      Say("deployed version verified: " + want);
      return Status::Ok();
    }
    if (cancel_.cancelled()) return Interrupted();
    if (deploy_deadline_.passed()) {
      converge.Observe("versions", last);
      return Status::Timeout("the deployed version did not become " + want + " within the deploy budget of " +
                             FormatDuration(spec_->deploy_timeout) + " (" + last + ")");
    }
    WaitFor(Duration(250), cancel_);
  }
}

Status ColdRun::WaitForSwarm(PhaseLog& converge) {
  Duration interval{100};
  std::string last_reason;
  int polls = 0, woken = 0;
  nlohmann::json history = nlohmann::json::array();
  std::map<std::string, Clock::time_point> first_running;  // task id → first seen running
  // Docker's events of the namespace wake the wait; the first look is after the stream
  // started, so nothing before it is missed.
  std::unique_ptr<ChangeWatch> watch = runtime_->Watch(out_.namespace_name, deploy_deadline_);
  Status status;
  while (true) {
    if (cancel_.cancelled()) {
      status = Interrupted();
      break;
    }
    if (deploy_deadline_.passed()) {
      status = Status::Timeout("did not converge within the deploy budget of " +
                               FormatDuration(spec_->deploy_timeout) + "; last state: " + last_reason);
      break;
    }
    auto snap = runtime_->Observe(out_.namespace_name, full_services_, nullptr, deploy_deadline_, cancel_);
    ++polls;
    if (!snap.ok()) {
      if (snap.status().code() == Status::Code::kTimeout) continue;  // the deadline decides
      status = snap.status();
      break;
    }
    auto now = Clock::now();
    std::map<std::string, Duration> running_for;
    for (const auto& t : snap->tasks) {
      if (t.current_state.rfind("Running", 0) != 0) continue;
      auto seen = first_running.emplace(t.id, now).first->second;
      running_for[t.id] = std::chrono::duration_cast<Duration>(now - seen);
    }
    Judgement j = JudgeConvergence(*snap, full_services_, running_for, spec_->settle);
    if (j.reason != last_reason) {
      history.push_back({{"after_ms", converge.elapsed().count()}, {"state", j.reason}});
      last_reason = j.reason;
    }
    if (j.kind == Judgement::Kind::kConverged) break;
    if (j.kind == Judgement::Kind::kFailed) {
      for (const auto& e : j.evidence) converge.AddEvidence({{"task", e}});
      status = Status::Failed(j.reason);
      break;
    }
    // Docker's next event of the namespace ends the wait early; a task that only has to
    // stay up wakes it when its settle time is over.
    Duration next = std::min(interval, deploy_deadline_.remaining());
    for (const auto& [id, up] : running_for) {
      if (up < spec_->settle) next = std::min(next, spec_->settle - up + Duration(1));
    }
    if (watch->Wait(next, cancel_)) {
      // Docker's other views (task states) follow an event within moments: look again soon.
      ++woken;
      interval = Duration(100);
      continue;
    }
    interval = std::min(interval * 3 / 2, Duration(1000));
  }
  converge.Observe("polls", polls);
  converge.Observe("woken_by_events", woken);
  converge.Observe("states", history);
  return status;
}

Status ColdRun::WaitForReadiness(PhaseLog& converge) {
  Say("swarm converged; readiness probe");
  Duration wait{100};
  int tries = 0;
  std::string observation;
  Status status;
  while (true) {
    if (cancel_.cancelled()) {
      status = Interrupted();
      break;
    }
    ++tries;
    HookOutcome h = engine_->Call(spec_->ready, host_.get(), deploy_deadline_);
    if (h.status.code() == Status::Code::kCancelled) {
      status = Interrupted();
      break;
    }
    if (h.status.ok() && h.truthy) break;
    observation = h.status.ok() ? (h.observation.empty() ? "probe returned false" : h.observation)
                                : h.status.message();
    if (deploy_deadline_.passed()) {
      status = Status::Timeout("readiness probe did not pass within the deploy budget of " +
                               FormatDuration(spec_->deploy_timeout) + " (" + std::to_string(tries) +
                               " tries); last observation: " + observation);
      break;
    }
    WaitFor(std::min(wait, deploy_deadline_.remaining()), cancel_);
    wait = std::min(wait * 3 / 2, Duration(2000));
  }
  converge.Observe("readiness_tries", tries);
  if (!observation.empty()) converge.Observe("readiness_last_observation", observation);
  converge.Observe("api_calls", host_->calls());
  host_->ClearCalls();
  return status;
}

}  // namespace harness
