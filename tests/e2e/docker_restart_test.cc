// A Docker daemon restart during a run: the run ends as infra (exit 3, verdict infra),
// and once the daemon is back nothing of the run is left (its own teardown or a reap).
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/e2e.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

struct DockerdGuard {
  ~DockerdGuard() { EnsureDockerd(Duration(120000)); }
};

TEST_CASE("dockerd restarted during a run: exit 3, verdict infra, nothing left", "[docker-restart]") {
  DockerdGuard guard;
  auto state = (fs::temp_directory_path() / "harness-e2e-state-restart").string();
  fs::remove_all(state);
  auto artifacts = fs::temp_directory_path() / "harness-e2e-artifacts";
  HarnessProcess p({"run", "slow", "--recipes", FixtureRecipes(), "--state", state, "--artifacts",
                    artifacts.string()});
  REQUIRE(p.WaitForLine("test started", Duration(120000)));
  std::string ns = p.namespace_name();
  REQUIRE(RestartDockerd(Duration(120000)));
  int code = p.Wait(Duration(300000));
  INFO(p.err());
  CHECK(code == 3);
  CHECK_THAT(p.err(), Catch::Contains("the Docker daemon restarted during the run"));

  // The summary says infra.
  std::string dir = p.err().substr(p.err().find("artifacts in ") + 13);
  dir = dir.substr(0, dir.find('\n'));
  std::ifstream f(dir + "/summary.json");
  nlohmann::json summary;
  REQUIRE(f);
  f >> summary;
  CHECK(summary["result"] == "infra");
  CHECK(summary["verdict"] == "infra");

  auto r = RunHarness({"reap", "--state", state}, Duration(300000));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(LeftoversOf(ns), NothingLeft());
}

}  // namespace
}  // namespace harness::testing
