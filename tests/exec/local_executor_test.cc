#include "exec/local_executor.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <thread>

#include "support/executor_checks.h"

namespace harness {
namespace {

Result<ProcessResult> RunArgv(std::vector<std::string> argv, Duration timeout = Duration(10000),
                              std::string in = "") {
  LocalExecutor exec;
  Command cmd;
  cmd.argv = std::move(argv);
  cmd.deadline = Deadline::In(timeout);
  cmd.stdin_data = std::move(in);
  return exec.Run(cmd, CancelToken::None());
}

TEST_CASE("captures stdout, stderr and the exit code", "[exec]") {
  auto r = RunArgv({"sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
  CHECK_FALSE(r->ok());
  CHECK(r->Describe() == "exit 3");
}

TEST_CASE("arguments are passed as they are, never through a shell", "[exec]") {
  std::string hostile = "a; touch /tmp/harness-pwned $(id) `id` 'q' \"d\"\n\xc3\xa9";
  auto r = RunArgv({"printf", "%s", hostile});
  REQUIRE(r.ok());
  CHECK(r->out == hostile);
}

TEST_CASE("stdin is delivered", "[exec]") {
  std::string big(1 << 20, 'x');
  auto r = RunArgv({"wc", "-c"}, Duration(10000), big);
  REQUIRE(r.ok());
  CHECK(r->out.find(std::to_string(big.size())) != std::string::npos);
}

TEST_CASE("a deadline stops the whole process group", "[exec]") {
  auto started = Clock::now();
  auto r = RunArgv({"sh", "-c", "sleep 30 & sleep 30; wait"}, Duration(300));
  REQUIRE(r.ok());
  CHECK(r->timed_out);
  CHECK(Clock::now() - started < std::chrono::seconds(5));
  CHECK_THAT(r->Describe(), Catch::StartsWith("timed out after"));
}

TEST_CASE("cancellation stops a running command", "[exec]") {
  CancelToken::ResetForTest();
  LocalExecutor exec;
  Command cmd;
  cmd.argv = {"sleep", "30"};
  std::thread t([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CancelToken::RaiseForTest(SIGINT);
  });
  auto started = Clock::now();
  auto r = exec.Run(cmd, CancelToken::Signals());
  t.join();
  CancelToken::ResetForTest();
  REQUIRE(r.ok());
  CHECK(r->cancelled);
  CHECK(Clock::now() - started < std::chrono::seconds(5));
}

TEST_CASE("a missing program is an error, not a crash", "[exec]") {
  auto r = RunArgv({"/nonexistent/program"});
  CHECK_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInfra);
}

TEST_CASE("shell quoting", "[exec]") {
  CHECK(ShellQuote("plain-word_1.2/x:y") == "plain-word_1.2/x:y");
  CHECK(ShellQuote("") == "''");
  CHECK(ShellQuote("a b") == "'a b'");
  CHECK(ShellQuote("it's") == "'it'\\''s'");
  CHECK(ShellQuote("$(id)") == "'$(id)'");
  CHECK(QuoteArgv({"sh", "-c", "echo hi && false"}) == "sh -c 'echo hi && false'");
  // What the quoted line runs is exactly the original words.
  std::vector<std::string> words = {"printf", "[%s]", "a b", "it's", "$(id)", "`x`", "\n", ""};
  auto r = RunArgv({"sh", "-c", QuoteArgv(words)});
  REQUIRE(r.ok());
  CHECK(r->out == "[a b][it's][$(id)][`x`][\n][]");
}

TEST_CASE("streams output while the command runs", "[exec]") {
  LocalExecutor exec;
  testing::CheckOutputStreams(&exec);
}

}  // namespace
}  // namespace harness
