#include "report/phase_log.h"

#include <cstdio>
#include <ctime>
#include <fstream>

namespace harness {
namespace {

constexpr size_t kOutputLines = 40;

nlohmann::json RedactJson(const Redactor* r, const nlohmann::json& j) {
  if (r == nullptr || r->empty()) return j;
  // Safe: redaction only replaces text inside strings with plain placeholder text.
  return nlohmann::json::parse(r->Apply(j.dump()));
}

}  // namespace

std::string IsoTime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string UtcStamp(std::chrono::system_clock::time_point t) {
  std::string out;
  for (char c : IsoTime(t).substr(0, 19)) {
    if (c != '-' && c != ':') out += c;
  }
  return out;
}

Status WriteFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::Infra("cannot write " + tmp);
    f << content;
    if (!f.good()) return Status::Infra("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::Infra("cannot rename " + tmp);
  return Status::Ok();
}

std::string TailLines(const std::string& text, size_t max_lines) {
  size_t count = 0;
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  while (pos > 0) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (++count == max_lines) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

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
  return WriteFileAtomic(dir + "/" + FileName(), ToJson().dump(2) + "\n");
}

}  // namespace harness
