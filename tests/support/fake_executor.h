// FakeExecutor: an Executor for unit tests that runs nothing. Every command is recorded
// (its argument vector) and answered with `answer`, by default an Infra status: code that
// reaches past a fake Runtime to a real command is a test failure that says so.
//
// Thread-safety: one test's thread.
#pragma once

#include <string>
#include <vector>

#include "exec/executor.h"

namespace harness::testing {

class FakeExecutor : public Executor {
 public:
  explicit FakeExecutor(std::string name = "fake") : name_(std::move(name)) {}

  Result<ProcessResult> answer = Status::Infra("the fake executor runs no commands");
  std::vector<std::vector<std::string>> commands;

  Result<ProcessResult> Run(const Command& cmd, const CancelToken&) override {
    commands.push_back(cmd.argv);
    return answer;
  }
  std::string Describe() const override { return name_; }

 private:
  std::string name_;
};

}  // namespace harness::testing
