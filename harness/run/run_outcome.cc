// How a run's outcome is judged once its phases are over: infrastructure, transient classes,
// retries, the exit code, summary.json.
#include "run/cold_run.h"

#include <signal.h>

#include <regex>

#include "base/files.h"
#include "base/json_text.h"
#include "report/summary.h"

namespace harness {

void ColdRun::Fail(const std::string& phase, const Status& s) {
  if (!out_.failed_phase.empty()) return;
  out_.failed_phase = phase;
  out_.reason = redactor_.Apply(s.message());
  switch (s.code()) {
    case Status::Code::kCancelled: out_.result = "interrupted"; break;
    case Status::Code::kInfra: out_.result = "infra"; break;
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotFound: out_.result = "error"; break;
    default: out_.result = "failed"; break;
  }
}

// ---- after the phases

void ColdRun::JudgeInfrastructure() {
  // A run during which Docker went away or restarted proves nothing about the recipe:
  // its outcome is the infrastructure's, whatever the tests said.
  if (!out_.deployed || out_.result == "interrupted") return;
  Status infra;
  if (std::string now = runtime_->DaemonIdentity(Deadline::In(Duration(10000)));
      !daemon_.empty() && !now.empty() && now != daemon_) {
    infra = Status::Infra("the Docker daemon restarted during the run (pid/start " + daemon_ + " -> " + now + ")");
  } else if (!out_.failed_phase.empty()) {
    if (Status up = runtime_->Preflight(nullptr, Deadline::In(Duration(20000)), CancelToken::None()); !up.ok()) {
      infra = Status::Infra("Docker stopped answering during the run: " + up.message());
    }
  }
  if (infra.ok()) return;
  if (out_.failed_phase.empty()) out_.failed_phase = out_.phases.back().name;
  out_.reason = infra.message() + (out_.reason.empty() ? "" : "; " + out_.failed_phase + " failed with: " + out_.reason);
  out_.result = "infra";
}

void ColdRun::MatchTransientClass() {
  // A failure in a declared transient class may be retried once (RunRecipeWithRetry).
  // Prepare's infrastructure failures (a busy registry) only by a class of that phase.
  bool infra_in_prepare = out_.result == "infra" && out_.failed_phase == "prepare";
  if ((out_.result != "failed" && !infra_in_prepare) || opts_.retry_of) return;
  for (const auto& c : spec_->transient) {
    if (infra_in_prepare && c.phase != "prepare") continue;
    if ((c.phase == "any" || c.phase == out_.failed_phase) && std::regex_search(out_.reason, std::regex(c.match))) {
      out_.transient_class = c.name;
      return;
    }
  }
}

void ColdRun::Conclude() {
  if (cancel_.cancelled() || out_.result == "interrupted") {
    out_.result = "interrupted";
    if (out_.failed_phase.empty()) out_.failed_phase = "teardown";
    out_.exit_code = ExitCode(Status::Cancelled(out_.reason));
  } else if (!out_.teardown.ok() || out_.result == "infra") {
    out_.result = "infra";
    out_.exit_code = 3;
  } else if (!out_.failed_phase.empty()) {
    out_.exit_code = out_.result == "error" ? 2 : 1;
  } else {
    out_.result = "passed";
    out_.exit_code = 0;
  }
  NoteRetry();
  // Without a complete ledger a crash could not be cleaned up after: not a green run.
  if (!ledger_status_.ok() && out_.exit_code < 3) Degrade(ledger_status_);
  Say(out_.result + (out_.reason.empty() ? "" : ": " + out_.reason));
}

void ColdRun::Degrade(const Status& why) {
  if (out_.exit_code < 3) {  // infra already, or interrupted: that stays
    out_.result = "infra";
    out_.exit_code = 3;
    if (out_.failed_phase.empty()) out_.failed_phase = "teardown";
  }
  out_.reason += (out_.reason.empty() ? "" : "; ") + why.message();
}

void ColdRun::NoteRetry() {
  if (!opts_.retry_of) return;
  out_.retry_of = opts_.retry_of->run_id;
  out_.first_reason = opts_.retry_of->reason;
  out_.transient_class = opts_.retry_of->transient_class;
  if (out_.result == "failed" || out_.result == "infra") {
    out_.escalated = true;
    out_.reason = "failed again after one retry for the transient class '" + out_.transient_class +
                  "' (escalated): " + out_.reason;
  }
}

RunOutcome ColdRun::Finish() {
  out_.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - started_);
  // Without its proof packets and run.log a run proves nothing: not a green run.
  if (artifacts_status_.ok()) artifacts_status_ = log_.status();
  if (!artifacts_status_.ok()) {
    Degrade(artifacts_status_.Prefixed("artifacts"));
    Say(out_.result + ": " + out_.reason);
  }
  auto summary = [&] { return redactor_.Apply(JsonText(SummaryJson(out_), 2)) + "\n"; };
  const std::string summary_path = out_.artifacts + "/summary.json";
  // summary.json first: if it cannot be written the outcome says so, and the ledger keeps
  // that outcome; if the ledger then cannot, summary.json is written again to agree.
  bool summary_written = false;
  if (!out_.artifacts.empty()) {
    Status written = WriteFileAtomic(summary_path, summary());
    summary_written = written.ok();
    if (!written.ok()) {
      Degrade(written.Prefixed("the run's summary was not written"));
      Say("artifacts: " + written.message() + " (the outcome is " + out_.result + ")");
    }
  }
  if (ledger_) {
    Status ended = ledger_->EndRun(out_.run_id, out_.version, out_.result, out_.exit_code, summary());
    NoteLedger(ended);
    if (!ended.ok()) {
      Degrade(ended.Prefixed("the ledger did not record the run's end"));
      if (summary_written) {
        if (Status again = WriteFileAtomic(summary_path, summary()); !again.ok()) Say("artifacts: " + again.message());
      }
    }
    if (!ledger_status_.ok()) Say("ledger: " + ledger_status_.message());
  }
  Event ended;
  ended.kind = EventKind::kRunEnded;
  ended.status = out_.result;
  ended.text = out_.reason;
  ended.elapsed = out_.elapsed;
  ended.exit_code = out_.exit_code;
  Emit(ended);
  return out_;
}

}  // namespace harness
