// Checks that every Executor must pass, shared by the LocalExecutor unit tests and the
// SshExecutor tests against a real sshd. Catch assertions; one test thread.
#pragma once

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "base/temp_dir.h"
#include "exec/executor.h"

namespace harness::testing {

// Output reaches Command::on_output while the command runs: the command waits for a file
// that only the callback creates, after it has seen the first line, so without streaming
// it would run into its deadline.
inline void CheckOutputStreams(Executor* exec) {
  TempDir dir("harness-stream");
  std::string go = dir.path() + "/go";
  Command cmd;
  cmd.argv = {"sh", "-c", "echo first; echo warn >&2; while [ ! -e \"$1\" ]; do sleep 0.02; done; echo second",
              "sh", go};
  cmd.deadline = Deadline::In(Duration(10000));
  std::string seen_out, seen_err;
  cmd.on_output = [&](int stream, std::string_view data) {
    (stream == 1 ? seen_out : seen_err).append(data);
    if (seen_out.find("first\n") != std::string::npos) std::ofstream(go) << "";
  };
  auto r = exec->Run(cmd, CancelToken::None());
  REQUIRE(r.ok());
  CHECK(r->ok());
  CHECK(seen_out == "first\nsecond\n");
  CHECK(seen_err == "warn\n");
  CHECK(r->out == seen_out);
}

}  // namespace harness::testing
