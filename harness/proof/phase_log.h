// PhaseLog: the proof packet of one phase of a run, as it is being recorded.
//
// Records the commands issued (argument vectors, redacted), their outcome and timing,
// observations and the evidence of failure; Write() puts it in
// `<artifacts>/<run id>/NN-<phase>.json`. Everything passes through the run's Redactor.
// One thread at a time.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/deadline.h"
#include "base/redact.h"
#include "base/status.h"
#include "exec/executor.h"

namespace harness {

class PhaseLog {
 public:
  PhaseLog(int number, std::string phase, const Redactor* redactor);

  const std::string& phase() const { return phase_; }
  int number() const { return number_; }
  // "02-converge.json"
  std::string FileName() const;

  void RecordCommand(const Command& cmd, const Result<ProcessResult>& result);
  // Sets or replaces a top-level observation.
  void Observe(const std::string& key, nlohmann::json value);
  // Appends to the evidence list (task errors, log excerpts, assertion messages).
  void AddEvidence(nlohmann::json item);
  void Finish(const Status& status);

  const Status& status() const { return status_; }
  Duration elapsed() const;
  nlohmann::json ToJson() const;
  // Writes the packet into `dir`. Returns an Infra status on I/O failure.
  Status Write(const std::string& dir) const;

  const Redactor* redactor() const { return redactor_; }

 private:
  int number_;
  std::string phase_;
  const Redactor* redactor_;
  std::chrono::system_clock::time_point started_wall_;
  Clock::time_point started_;
  Clock::time_point ended_;
  bool finished_ = false;
  Status status_;
  nlohmann::json commands_ = nlohmann::json::array();
  nlohmann::json observations_ = nlohmann::json::object();
  nlohmann::json evidence_ = nlohmann::json::array();
};

}  // namespace harness
