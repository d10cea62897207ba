#include "base/exit_code.h"

#include <catch2/catch.hpp>
#include <csignal>

#include "base/cancel.h"

using namespace harness;

TEST_CASE("each status code has its exit code", "[exit-code]") {
  CancelToken::ResetForTest();
  CHECK(ExitCodeFor(Status::Ok()) == 0);
  CHECK(ExitCodeFor(Status::Failed("a test failed")) == 1);
  CHECK(ExitCodeFor(Status::Timeout("converge")) == 1);
  CHECK(ExitCodeFor(Status::InvalidArgument("bad name")) == 2);
  CHECK(ExitCodeFor(Status::NotFound("no recipe")) == 2);
  CHECK(ExitCodeFor(Status::Infra("docker")) == 3);
  // Cancelled without a signal (a superseded run) exits as SIGINT would.
  CHECK(ExitCodeFor(Status::Cancelled("")) == 130);
}

TEST_CASE("a cancelled status exits with the signal that arrived", "[exit-code]") {
  CancelToken::ResetForTest();
  CancelToken::RaiseForTest(SIGTERM);
  CHECK(ExitCodeFor(Status::Cancelled("")) == 143);
  CancelToken::ResetForTest();
  // A run's own token (a superseded run) names its own signal, or none.
  CHECK(ExitCodeFor(Status::Cancelled(""), SIGTERM) == 143);
  CHECK(ExitCodeFor(Status::Cancelled(""), 0) == 130);
  CHECK(ExitCodeFor(Status::Infra("docker"), SIGTERM) == 3);
}

TEST_CASE("exit codes and statuses convert both ways", "[exit-code]") {
  CancelToken::ResetForTest();
  for (int code : {0, 1, 2, 3, 130}) {
    CHECK(ExitCodeFor(StatusForExitCode(code, "m")) == code);
  }
  CHECK(StatusForExitCode(1).message().empty());
  CHECK(StatusForExitCode(3, "docker down").message() == "docker down");
  // A code the harness never uses is the harness's own failure.
  CHECK(StatusForExitCode(7).code() == Status::Code::kInfra);
}

TEST_CASE("several outcomes exit with the most serious one", "[exit-code]") {
  CHECK(CombinedExitCode({}) == 0);
  CHECK(CombinedExitCode({0, 0}) == 0);
  CHECK(CombinedExitCode({0, 1, 0}) == 1);
  CHECK(CombinedExitCode({1, 2, 1}) == 2);
  CHECK(CombinedExitCode({2, 3, 1}) == 3);
  CHECK(CombinedExitCode({3, 143, 1}) == 143);
  CHECK(CombinedExitCode({130, 3}) == 130);
  CHECK(WorseExitCode(0, 1) == 1);
  CHECK(WorseExitCode(3, 2) == 3);
  CHECK(WorseExitCode(1, 7) == 7);  // unknown ranks as infrastructure
}
