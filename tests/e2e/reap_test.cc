// Crash-proof teardown: SIGKILLed runs are reaped from the ledger and from labels; live
// runs are never touched; a lost ledger still leaves nothing behind.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "support/e2e.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

std::string FreshStateDir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("harness-e2e-state-" + name);
  fs::remove_all(dir);
  return dir.string();
}

std::vector<std::string> RunArgs(const std::string& recipe, const std::string& state) {
  return {"run", recipe, "--recipes", FixtureRecipes(), "--state", state, "--artifacts",
          (fs::temp_directory_path() / "harness-e2e-artifacts").string()};
}

void RequireGone(const std::string& ns) {
  CHECK_THAT(LeftoversOf(ns), NothingLeft());
}

// The phase the run was in, from its progress lines.
std::string LastPhase(const std::string& err) {
  std::string phase = "prepare";
  for (const char* p : {"deploy started", "converge started", "test started", "teardown of"}) {
    if (err.find(p) != std::string::npos) phase = std::string(p).substr(0, std::string(p).find(' '));
  }
  return phase;
}

int Trials() {
  const char* n = std::getenv("HARNESS_KILL_TRIALS");
  return n ? std::max(1, std::atoi(n)) : 10;
}

TEST_CASE("SIGKILL at a random moment, then reap: nothing of the run is left", "[kill]") {
  unsigned seed = std::getenv("HARNESS_KILL_SEED") ? static_cast<unsigned>(std::atoi(std::getenv("HARNESS_KILL_SEED")))
                                                  : std::random_device{}();
  std::mt19937 rng(seed);
  // A run of kill-target lasts about 13 s: prepare and deploy well under 1 s, converge
  // about 3 s, the test 2 s, teardown about 7 s.
  // One kill in four is aimed at the first 600 ms, where prepare and deploy happen.
  std::uniform_int_distribution<int> whole_run(0, 13000), early(0, 600), quarter(0, 3);
  auto delay_ms = [&](std::mt19937& g) { return quarter(g) == 0 ? early(g) : whole_run(g); };
  std::string state = FreshStateDir("kill");
  std::map<std::string, int> landed;
  int trials = Trials();
  WARN("kill trials: " << trials << ", seed " << seed << " (HARNESS_KILL_SEED to repeat)");
  for (int i = 0; i < trials; ++i) {
    int delay = delay_ms(rng);
    std::string ns, phase;
    {
      HarnessProcess p(RunArgs("kill-target", state));
      REQUIRE(p.WaitForLine("prepare: namespace", Duration(30000)));
      ns = p.namespace_name();
      p.ReadFor(Duration(delay));
      p.Signal(SIGKILL);
      p.Wait(Duration(30000));
      phase = LastPhase(p.err());
      if (p.err().find("harness: [kill-target] passed") != std::string::npos) phase = "finished";
      p.ForgetNamespace();  // the reap below, not the helper, must clean up
    }
    ++landed[phase];
    auto r = RunHarness({"reap", "--state", state}, Duration(300000));
    INFO("trial " << i << ": killed after " << delay << " ms in " << phase << "\n" << r.out << r.err);
    CHECK(r.exit_code == 0);
    RequireGone(ns);
    CleanUp(ns);
  }
  std::string summary;
  for (const auto& [phase, n] : landed) summary += phase + "=" + std::to_string(n) + " ";
  WARN("kills landed in: " << summary);
}

TEST_CASE("reap from a third process leaves two live runs alone", "[reap]") {
  std::string state = FreshStateDir("live");
  HarnessProcess a(RunArgs("slow", state));
  HarnessProcess b(RunArgs("slow", state));
  bool a_started = a.WaitForLine("test started", Duration(120000));
  bool b_started = b.WaitForLine("test started", Duration(120000));
  INFO("a: " << a.err() << "\nb: " << b.err());
  REQUIRE(a_started);
  REQUIRE(b_started);
  auto r = RunHarness({"reap", "--state", state}, Duration(120000));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(a.namespace_name() + "  skipped: live"));
  CHECK_THAT(r.out, Catch::Contains(b.namespace_name() + "  skipped: live"));
  CHECK(StackExists(a.namespace_name()));
  CHECK(StackExists(b.namespace_name()));
  CHECK(LeftoversOf(a.namespace_name()).Names("service").size() == 1);
  // A run started meanwhile reaps before it deploys, and also leaves them alone.
  auto c = RunHarness(RunArgs("pass", state), Duration(180000));
  CHECK(c.exit_code == 0);
  CHECK_THAT(LeftoversOf(c.namespace_name), NothingLeft());
  CleanUp(c.namespace_name);
  CHECK(StackExists(a.namespace_name()));
  CHECK(StackExists(b.namespace_name()));
  a.Signal(SIGTERM);
  b.Signal(SIGTERM);
  CHECK(a.Wait(Duration(120000)) == 143);
  CHECK(b.Wait(Duration(120000)) == 143);
  RequireGone(a.namespace_name());
  RequireGone(b.namespace_name());
}

TEST_CASE("with the ledger and the lock files lost, reap still finds leftovers by label", "[reap]") {
  std::string state = FreshStateDir("lost");
  std::string ns;
  {
    HarnessProcess p(RunArgs("kill-target", state));
    REQUIRE(p.WaitForLine("test started", Duration(120000)));
    ns = p.namespace_name();
    p.Signal(SIGKILL);
    p.Wait(Duration(30000));
    p.ForgetNamespace();
  }
  REQUIRE(StackExists(ns));
  fs::remove_all(state);  // ledger.sqlite, its WAL files and the run locks
  auto dry = RunHarness({"reap", "--dry-run", "--state", state}, Duration(120000));
  INFO(dry.out << dry.err);
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.out, Catch::Contains(ns + "  would remove"));
  CHECK(StackExists(ns));
  auto r = RunHarness({"reap", "--state", state}, Duration(300000));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(ns + "  removed"));
  RequireGone(ns);
  CleanUp(ns);
}

}  // namespace
}  // namespace harness::testing
