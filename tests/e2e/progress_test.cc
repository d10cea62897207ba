// Progress as an operator sees it: a live view on a terminal (a real pseudo-terminal via
// script(1)), plain lines with --plain and NO_COLOR, JSON lines with --json.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <set>
#include <sstream>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "support/e2e.h"
#include "support/schema_check.h"

namespace harness::testing {
namespace {

struct Tty {
  int exit_code = -1;
  std::string screen;  // everything the terminal received
};

// Runs `harness <args>` on a pseudo-terminal, with `env` set first.
Tty RunOnTerminal(const std::vector<std::string>& env, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"env", "-u", "NO_COLOR", "TERM=xterm", "COLUMNS=120"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(HarnessBinary());
  argv.insert(argv.end(), args.begin(), args.end());
  LocalExecutor exec;
  Command cmd;
  cmd.argv = {"script", "-qfec", QuoteArgv(argv), "/dev/null"};
  cmd.deadline = Deadline::In(Duration(300000));
  auto r = exec.Run(cmd, CancelToken::None());
  Tty t;
  if (!r.ok()) return t;
  t.exit_code = r->exit_code;
  t.screen = r->out;
  return t;
}

// The one run whose artifacts are in `artifacts` left nothing (its namespace is read from
// its summary: a terminal's screen and JSON lines do not give it as plain lines do).
void CheckRunsLeftNothing(const std::string& artifacts) {
  auto namespaces = NamespacesOfRuns(artifacts);
  REQUIRE(namespaces.size() == 1);
  CHECK_THAT(LeftoversOf(namespaces[0]), NothingLeft());
  CleanUp(namespaces[0]);
}

TEST_CASE("a terminal gets the live view, in colour", "[progress]") {
  TempDir tmp("progress-live");
  auto t = RunOnTerminal({}, {"run", "pass", "--recipes", FixtureRecipes(), "--state", tmp.path() + "/state",
                              "--artifacts", tmp.path() + "/artifacts"});
  INFO(t.screen);
  CHECK(t.exit_code == 0);
  CHECK_THAT(t.screen, Catch::Contains("\x1b[1F\x1b[J"));             // the run's line redrawn in place
  CHECK_THAT(t.screen, Catch::Contains("converge"));
  CHECK_THAT(t.screen, Catch::Contains("\x1b[32mpassed\x1b[0m in "));  // its result, scrolled above
  CHECK(t.screen.find("harness: [pass]") == std::string::npos);       // not plain lines
  CheckRunsLeftNothing(tmp.path() + "/artifacts");
}

TEST_CASE("--plain and NO_COLOR on a terminal: plain lines, no escapes", "[progress]") {
  TempDir tmp("progress-plain");
  auto t = RunOnTerminal({"NO_COLOR=1"}, {"--plain", "run", "pass", "--recipes", FixtureRecipes(), "--state",
                                          tmp.path() + "/state", "--artifacts", tmp.path() + "/artifacts"});
  INFO(t.screen);
  CHECK(t.exit_code == 0);
  CHECK_THAT(t.screen, Catch::Contains("harness: [pass] converge ok"));
  CHECK_THAT(t.screen, Catch::Contains("harness: [pass] passed"));
  CHECK(t.screen.find('\x1b') == std::string::npos);
  CheckRunsLeftNothing(tmp.path() + "/artifacts");
}

TEST_CASE("--json: every progress line is an event object", "[progress]") {
  TempDir tmp("progress-json");
  auto r = RunHarness({"run", "pass", "--json", "--recipes", FixtureRecipes(), "--state", tmp.path() + "/state",
                       "--artifacts", tmp.path() + "/artifacts"},
                      Duration(300000));
  INFO(r.err);
  CHECK(r.exit_code == 0);
  std::istringstream lines(r.err);
  std::vector<std::string> sequence;
  std::set<std::string> phases;
  nlohmann::json last;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    INFO(line);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j["schema"] == "recipe-harness/event/v1");
    std::string kind = j["event"];
    if (kind != "message") sequence.push_back(kind);
    if (kind == "phase_ended") phases.insert(j["name"].get<std::string>());
    if (kind == "run_ended") last = j;
  }
  REQUIRE_FALSE(sequence.empty());
  CHECK(sequence.front() == "run_started");
  CHECK(sequence.back() == "run_ended");
  CHECK(phases == std::set<std::string>{"prepare", "deploy", "converge", "test", "teardown"});
  CHECK(std::count(sequence.begin(), sequence.end(), "step_started") ==
        std::count(sequence.begin(), sequence.end(), "step_ended"));
  CHECK(last["status"] == "passed");
  CHECK(last["exit_code"] == 0);
  // Every event validates against docs/schema/event.v1.json.
  std::ofstream(tmp.path() + "/events.json.txt") << r.err;
  std::string invalid = ValidateArtifacts(tmp.path() + "/events.json.txt");
  INFO(invalid);
  CHECK(invalid.empty());
  // stdout still carries the run's summary.
  CHECK(nlohmann::json::parse(r.out)["result"] == "passed");
  CheckRunsLeftNothing(tmp.path() + "/artifacts");
}

}  // namespace
}  // namespace harness::testing
