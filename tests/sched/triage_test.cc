// Triage's parts that need no Swarm: what a run comes to for the verdict (fingerprints
// included), the JSON and table of a verdict (approval baselines in tests/sched/baselines/,
// validated against docs/schema/triage.v2.json by the schema test), and the exit codes.
#include "sched/triage.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace harness {
namespace {

RunOutcome Run(const std::string& ns, const std::string& result) {
  RunOutcome o;
  o.recipe = "broken";
  o.namespace_name = ns;
  o.run_id = "20261126T0525" + std::to_string(ns.size()) + "-" + ns;
  o.artifacts = "artifacts/" + o.run_id;
  o.result = result;
  o.elapsed = Duration(12500);
  return o;
}

RunOutcome FailedTest(const std::string& ns) {
  RunOutcome o = Run(ns, "failed");
  o.failed_phase = "test";
  o.reason =
      "1 of 2 tests failed; first: recipes/broken/recipe.lua:23: status of /api/health: expected "
      "200, got 404";
  o.tests = {{"serves the index", Status::Ok(), Duration(20), ""},
             {"health endpoint answers",
              Status::Failed(
                  "recipes/broken/recipe.lua:23: status of /api/health: expected 200, got 404 (" +
                  ns + "_app)"),
              Duration(30), ""}};
  return o;
}

RunOutcome ConvergeTimeout(const std::string& ns) {
  RunOutcome o = Run(ns, "failed");
  o.failed_phase = "converge";
  o.reason = "did not converge within the deploy budget of 9.0s; last state: " + ns + "_app 0/1";
  return o;
}

TEST_CASE("a run's failure: its phase, failing test and fingerprint", "[sched][triage]") {
  Attempt a = AttemptOf(FailedTest("broken-abcdef"), false);
  CHECK(a.outcome == Attempt::Outcome::kFail);
  CHECK(a.phase == "test");
  CHECK(a.step == "health endpoint answers");
  CHECK(a.run_id == "20261126T052513-broken-abcdef");
  CHECK(a.artifacts == "artifacts/20261126T052513-broken-abcdef");
  CHECK_THAT(a.evidence, Catch::StartsWith("1 of 2 tests failed"));
  // The namespace is taken out although it does not look like one (no digit).
  CHECK(a.fingerprint ==
        "test | health endpoint answers | recipes/broken/recipe.lua:<n>: status of /api/health: "
        "expected <n>, got "
        "<n> (<ns>_app)");
  // Another run, another namespace and duration: the same failure.
  CHECK(AttemptOf(FailedTest("broken-q1w2e3"), true).fingerprint == a.fingerprint);
  CHECK(AttemptOf(ConvergeTimeout("slow-boot-rg2tkv"), true).fingerprint ==
        AttemptOf(ConvergeTimeout("slow-boot-xxxxxx"), true).fingerprint);
  CHECK(AttemptOf(ConvergeTimeout("slow-boot-rg2tkv"), true).fingerprint != a.fingerprint);
}

TEST_CASE("a run's pass, infrastructure failure and transient retry", "[sched][triage]") {
  CHECK(AttemptOf(Run("web-k3x9a2", "passed"), true).outcome == Attempt::Outcome::kPass);
  CHECK(AttemptOf(Run("web-k3x9a2", "passed"), true).loaded);
  CHECK(AttemptOf(Run("web-k3x9a2", "infra"), false).outcome == Attempt::Outcome::kInfra);
  RunOutcome retried = Run("web-k3x9a2", "passed");
  retried.retry_of = "20261126T052400-web-p0p0p0";
  retried.transient_class = "registry-timeout";
  Attempt a = AttemptOf(retried, false);
  CHECK(a.transient_retry);
  CHECK(a.transient_class == "registry-timeout");
}

void Approve(const std::string& name, const std::string& actual) {
  std::string path = std::string(HARNESS_SOURCE_DIR) + "/tests/sched/baselines/" + name;
  if (const char* u = std::getenv("HARNESS_UPDATE_BASELINES"); u && std::string(u) == "1") {
    std::ofstream(path) << actual;
  }
  std::ifstream f(path);
  REQUIRE(f);
  std::stringstream expected;
  expected << f.rdbuf();
  INFO("baseline " << path << " (HARNESS_UPDATE_BASELINES=1 rewrites it)");
  CHECK(actual == expected.str());
}

// Recorded triages, decided by the real rules: broken (genuine after 9 failures alone) and
// slow-boot (load-flake at the look after 12 runs).
std::vector<TriageResult> Recorded() {
  TriagePolicy policy;
  TriageResult broken;
  broken.recipe = "broken";
  broken.load = "4 CPU spinners, 1 disk writer";
  const char* ids = "abcdefghij";
  for (int i = 0; i < 10; ++i) {
    broken.attempts.push_back(
        AttemptOf(FailedTest(std::string("broken-") + ids[i] + "1b2c3"), i == 1));
  }
  broken.verdict = Decide(broken.attempts, policy).verdict;
  TriageResult slow;
  slow.recipe = "slow-boot";
  slow.load = "8 CPU spinners, 1 disk writer";
  const std::string arms = "ALLAALLAALLA";
  for (size_t i = 0; i < arms.size(); ++i) {
    std::string ns = std::string("slow-boot-") + ids[i % 10] + "2b3c" + std::to_string(i % 10);
    bool loaded = arms[i] == 'L';
    slow.attempts.push_back(AttemptOf(loaded ? ConvergeTimeout(ns) : Run(ns, "passed"), loaded));
  }
  slow.verdict = Decide(slow.attempts, policy).verdict;
  return {broken, slow};
}

TEST_CASE("the verdicts as JSON (schema triage/v2) and as a table", "[sched][triage]") {
  auto results = Recorded();
  REQUIRE(results[0].verdict.kind == "genuine");
  REQUIRE(results[1].verdict.kind == "load-flake");
  Approve("triage.json.txt",
          TriageJson(results[0]).dump(2) + "\n" + TriageJson(results[1]).dump(2) + "\n");
  Approve("triage-table.txt", TriageTable(results));
}

TEST_CASE("triage exit codes", "[sched][triage]") {
  TriageResult r;
  r.verdict.kind = "genuine";
  CHECK(TriageExitCode(r) == 1);
  r.verdict.kind = "undecided";
  CHECK(TriageExitCode(r) == 0);
  r.verdict.alone.fail = 1;
  CHECK(TriageExitCode(r) == 1);
  r.verdict.kind = "known-transient";
  CHECK(TriageExitCode(r) == 0);
  r.load_teardown = Status::Infra("the load stack load-abc123 is still there");
  CHECK(TriageExitCode(r) == 3);
  r.load_teardown = Status::Ok();
  r.verdict.kind = "infra";
  CHECK(TriageExitCode(r) == 3);
}

}  // namespace
}  // namespace harness
