#include "proof/phase_log.h"

#include <cstdio>

#include "base/files.h"
#include "base/json_text.h"
#include "base/strings.h"
#include "base/time.h"

namespace harness {
namespace {

constexpr size_t kOutputLines = 40;

nlohmann::json RedactJson(const Redactor* r, const nlohmann::json& j) {
  if (r == nullptr || r->empty()) return j;
  // Safe: redaction only replaces text inside strings with plain placeholder text.
  return nlohmann::json::parse(r->Apply(JsonText(j)));
}

}  // namespace

PhaseLog::PhaseLog(int number, std::string phase, const Redactor* redactor)
    : number_(number),
      phase_(std::move(phase)),
      redactor_(redactor),
      started_wall_(std::chrono::system_clock::now()),
      started_(Clock::now()),
      ended_(started_) {}

std::string PhaseLog::FileName() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d-", number_);
  return buf + phase_ + ".json";
}

void PhaseLog::RecordCommand(const Command& cmd, const Result<ProcessResult>& result) {
  nlohmann::json c;
  c["argv"] = cmd.argv;
  c["line"] = QuoteArgv(cmd.argv);
  if (!cmd.stdin_data.empty()) c["stdin"] = "(" + std::to_string(cmd.stdin_data.size()) + " bytes)";
  if (!result.ok()) {
    c["error"] = result.status().message();
  } else {
    const ProcessResult& r = result.value();
    c["exit_code"] = r.exit_code;
    c["outcome"] = r.Describe();
    c["elapsed_ms"] = r.elapsed.count();
    if (!r.ok()) {
      c["stdout_tail"] = TailLines(r.out, kOutputLines);
      c["stderr_tail"] = TailLines(r.err, kOutputLines);
    }
  }
  commands_.push_back(RedactJson(redactor_, c));
}

void PhaseLog::Observe(const std::string& key, nlohmann::json value) {
  observations_[key] = RedactJson(redactor_, value);
}

void PhaseLog::AddEvidence(nlohmann::json item) {
  evidence_.push_back(RedactJson(redactor_, item));
}

void PhaseLog::Finish(const Status& status) {
  if (finished_) return;
  finished_ = true;
  status_ = status;
  ended_ = Clock::now();
}

Duration PhaseLog::elapsed() const {
  auto end = finished_ ? ended_ : Clock::now();
  return std::chrono::duration_cast<Duration>(end - started_);
}

nlohmann::json PhaseLog::ToJson() const {
  nlohmann::json j;
  j["schema"] = "recipe-harness/proof-packet/v1";
  j["phase"] = phase_;
  j["number"] = number_;
  j["started_at"] = IsoTime(started_wall_);
  j["elapsed_ms"] = elapsed().count();
  j["status"] = status_.ok() ? "ok" : CodeName(status_.code());
  if (!status_.ok()) j["error"] = redactor_ ? redactor_->Apply(status_.message()) : status_.message();
  j["commands"] = commands_;
  j["observations"] = observations_;
  j["evidence"] = evidence_;
  return j;
}

Status PhaseLog::Write(const std::string& dir) const {
  return WriteFileAtomic(dir + "/" + FileName(), JsonText(ToJson(), 2) + "\n");
}

}  // namespace harness
