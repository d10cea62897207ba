// SwarmRuntime::CreateSharedNetwork against recorded docker answers: a name Swarm still
// holds for a network being created or released elsewhere is tried again, an existing
// network is fine, and anything else is the error it was.
#include <catch2/catch.hpp>

#include <deque>

#include "runtime/docker.h"
#include "runtime/swarm.h"

namespace harness::testing {
namespace {

// Answers each command with the next of `answers` (the last one over and over).
class ScriptedExecutor : public Executor {
 public:
  std::deque<ProcessResult> answers;
  std::vector<std::vector<std::string>> commands;

  Result<ProcessResult> Run(const Command& cmd, const CancelToken&) override {
    commands.push_back(cmd.argv);
    ProcessResult r = answers.front();
    if (answers.size() > 1) answers.pop_front();
    return r;
  }
  std::string Describe() const override { return "scripted"; }
};

ProcessResult Exit(int code, const std::string& err = "") {
  ProcessResult r;
  r.exit_code = code;
  r.err = err;
  return r;
}

const char* kConflict =
    "Error response from daemon: rpc error: code = Unknown desc = name conflicts with an existing object";

TEST_CASE("a shared network whose name Swarm still holds is created once it is free", "[runtime]") {
  ScriptedExecutor exec;
  exec.answers = {Exit(1, kConflict), Exit(1, kConflict), Exit(0)};
  Docker docker(&exec, "docker");
  SwarmRuntime swarm(&docker);
  Status s = swarm.CreateSharedNetwork("proxy", {{"harness.run", "r1"}}, nullptr, Deadline::In(Duration(30000)),
                                       CancelToken::None());
  CHECK(s.ok());
  REQUIRE(exec.commands.size() == 3);
  CHECK(exec.commands[2].back() == "proxy");
}

TEST_CASE("a shared network another run made meanwhile is fine", "[runtime]") {
  ScriptedExecutor exec;
  exec.answers = {Exit(1, kConflict), Exit(1, "Error response from daemon: network with name proxy already exists")};
  Docker docker(&exec, "docker");
  SwarmRuntime swarm(&docker);
  CHECK(swarm.CreateSharedNetwork("proxy", {}, nullptr, Deadline::In(Duration(30000)), CancelToken::None()).ok());
  CHECK(exec.commands.size() == 2);
}

TEST_CASE("a shared network Swarm never frees, or another error, fails", "[runtime]") {
  ScriptedExecutor exec;
  exec.answers = {Exit(1, kConflict)};
  Docker docker(&exec, "docker");
  SwarmRuntime swarm(&docker);
  Status held = swarm.CreateSharedNetwork("proxy", {}, nullptr, Deadline::In(Duration(700)), CancelToken::None());
  CHECK_FALSE(held.ok());
  CHECK_THAT(held.message(), Catch::Contains("name conflicts"));
  CHECK(exec.commands.size() >= 2);

  ScriptedExecutor other;
  other.answers = {Exit(1, "Error response from daemon: permission denied")};
  Docker docker2(&other, "docker");
  SwarmRuntime swarm2(&docker2);
  Status denied = swarm2.CreateSharedNetwork("proxy", {}, nullptr, Deadline::In(Duration(30000)), CancelToken::None());
  CHECK_FALSE(denied.ok());
  CHECK(other.commands.size() == 1);
}

}  // namespace
}  // namespace harness::testing
