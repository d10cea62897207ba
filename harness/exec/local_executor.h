// LocalExecutor: runs commands as child processes of this one.
//
// Each child gets its own process group (so a terminal's Ctrl-C reaches the harness only,
// and the harness decides when children stop), is killed if the harness dies (so a
// SIGKILLed harness leaves no command running on), gets stdin from Command::stdin_data,
// and has its stdout/stderr captured. Thread-safe: each Run() is independent.
#pragma once

#include "exec/executor.h"

namespace harness {

class LocalExecutor : public Executor {
 public:
  Result<ProcessResult> Run(const Command& cmd, const CancelToken& cancel) override;
  std::string Describe() const override { return "local"; }
};

}  // namespace harness
