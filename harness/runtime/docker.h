// Docker: issues `docker ...` commands through an Executor and records each one in the
// current phase's proof packet.
//
// Thread-safety: as the Executor; the PhaseLog passed in belongs to the caller's thread.
#pragma once

#include <string>
#include <vector>

#include "exec/executor.h"
#include "proof/phase_log.h"

namespace harness {

// Ok when the command ran and exited 0; otherwise Infra/Timeout/Cancelled naming the
// command (`what`) and quoting the end of its stderr (or stdout). For any command line
// the harness drives (docker, abra).
Status CheckCommand(const std::string& what, const Result<ProcessResult>& r);

class Docker {
 public:
  Docker(Executor* exec, std::string binary) : exec_(exec), binary_(std::move(binary)) {}

  // Runs `docker <args>`; `log` may be null. A command that ran and failed is returned as
  // an ok Result with its exit code; use Check() to turn that into a Status.
  Result<ProcessResult> Run(const std::vector<std::string>& args, PhaseLog* log, Deadline deadline,
                            const CancelToken& cancel, const std::string& stdin_data = "",
                            const std::vector<std::pair<std::string, std::string>>& env = {});

  // Runs several commands at once, each `docker <args>` on its own Docker (a node's), and
  // records them in `log` in the given order once all have ended. Results in that order.
  struct Job {
    Docker* on;
    std::vector<std::string> args;
  };
  static std::vector<Result<ProcessResult>> RunAll(const std::vector<Job>& jobs, PhaseLog* log, Deadline deadline,
                                                   const CancelToken& cancel);

  // Ok when the command ran and exited 0; otherwise Infra/Timeout/Cancelled naming the
  // command and quoting the end of its stderr.
  static Status Check(const std::vector<std::string>& args, const Result<ProcessResult>& r);

  // Splits JSON-lines output ({{json .}} format) into objects; bad lines are skipped.
  static std::vector<std::string> Lines(const std::string& out);

  Executor* executor() const { return exec_; }
  const std::string& binary() const { return binary_; }

 private:
  Executor* exec_;
  std::string binary_;
};

}  // namespace harness
