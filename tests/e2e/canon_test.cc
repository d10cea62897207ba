// The bundled example canon through a sweep: web, notes, pinboard (a recipe as published:
// overlays, abra.sh, compose-only secrets, the proxy network, a registry image) and status
// (no script at all) pass, broken fails with its reason, every run leaves its proof
// packets, and nothing is left on the Swarm.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/e2e.h"
#include "support/proxy_standin.h"
#include "support/registry.h"
#include "support/schema_check.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

TEST_CASE("a sweep of the bundled canon", "[canon]") {
  ForgetPulledUnder pulled(kSetupRegistry);  // pinboard pulls its image from there
  auto artifacts = fs::temp_directory_path() / "harness-e2e-canon";
  fs::remove_all(artifacts);
  // The external network the canon joins, by its exact name: if the sweep creates it, the
  // sweep removes it again (whatever its labels say).
  Ownership proxy;
  proxy.names = {"proxy"};
  const bool proxy_before = !ScanFor(proxy).Names("network").empty();
  auto r = RunHarness({"sweep", "--jobs", "2", "--json", "--recipes", SourceDir() + "/recipes", "--artifacts",
                       artifacts.string()},
                      Duration(600000));
  INFO(r.err);
  CHECK(r.exit_code == 1);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  std::map<std::string, nlohmann::json> by_recipe;
  for (const auto& run : j["runs"]) by_recipe[run["recipe"]] = run;
  REQUIRE(by_recipe.count("web"));
  REQUIRE(by_recipe.count("notes"));
  REQUIRE(by_recipe.count("broken"));
  REQUIRE(by_recipe.count("pinboard"));
  REQUIRE(by_recipe.count("status"));
  CHECK(by_recipe.size() == 5);
  for (const char* green : {"web", "notes", "pinboard", "status"}) {
    INFO(green << ": " << by_recipe[green].dump());
    CHECK(by_recipe[green]["result"] == "passed");
  }
  CHECK(by_recipe["broken"]["result"] == "failed");
  CHECK(by_recipe["broken"]["failed_phase"] == "test");
  CHECK_THAT(by_recipe["broken"]["reason"].get<std::string>(), Catch::Contains("/api/health"));
  CHECK(by_recipe["broken"]["next"] == "triage");  // the table marks what needs triage
  CHECK_FALSE(by_recipe["web"].contains("next"));

  for (const auto& [name, run] : by_recipe) {
    std::string dir = artifacts.string() + "/" + run["run_id"].get<std::string>();
    INFO(name);
    for (const char* packet : {"00-prepare.json", "01-deploy.json", "02-converge.json",
                               "03-test.json", "99-teardown.json", "summary.json", "run.log"}) {
      INFO(packet);
      CHECK(fs::exists(dir + "/" + packet));
    }
    CHECK(run["teardown"]["verified"] == true);
    CHECK_THAT(LeftoversOf(run["namespace"]), NothingLeft());
    CleanUp(run["namespace"]);
  }
  // pinboard and status join the external proxy network, which the runs created for
  // themselves and removed once neither used it.
  auto shared = SharedNetworksLeft();
  INFO("shared networks left: " << shared.size());
  CHECK(shared.empty());
  if (!proxy_before) CHECK_THAT(ScanFor(proxy), NothingLeft());
  CleanUpSharedNetworks();
  // The sweep wrote its own reports.
  std::string sweep_dir = SweepDir(artifacts);
  REQUIRE_FALSE(sweep_dir.empty());
  std::ifstream junit(sweep_dir + "/junit.xml");
  std::string xml((std::istreambuf_iterator<char>(junit)), std::istreambuf_iterator<char>());
  CHECK_THAT(xml, Catch::Contains("<testsuite name=\"broken\""));
  CHECK_THAT(xml, Catch::Contains("<failure type=\"assertion\""));
  CHECK(fs::exists(sweep_dir + "/summary.md"));

  // The failing run kept the service logs as evidence.
  std::string broken_dir = artifacts.string() + "/" + by_recipe["broken"]["run_id"].get<std::string>();
  CHECK(fs::exists(broken_dir + "/logs/app.log"));

  // Every proof packet, summary.json and junit.xml the sweep wrote fits its schema.
  std::string violations = ValidateArtifacts(artifacts.string());
  INFO("artifacts that do not fit their schema (docs/schema.md):\n" << violations);
  CHECK(violations == "");
}

TEST_CASE("the canon's routed recipes serve their domains through the proxy", "[canon]") {
  ForgetPulledUnder pulled(kSetupRegistry);
  ProxyStandin proxy;
  auto artifacts = fs::temp_directory_path() / "harness-e2e-canon-proxy";
  fs::remove_all(artifacts);
  // pinboard and status carry Traefik's labels; web and notes do not join the proxy.
  auto r = RunHarness({"sweep", "--jobs", "2", "--json", "--recipes", SourceDir() + "/recipes", "--artifacts",
                       artifacts.string(), "--proxy-ca", proxy.ca_file(), "--only", "pinboard", "status", "web"},
                      Duration(600000));
  INFO(r.err << "\nstand-in:\n" << proxy.Log());
  CHECK(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  REQUIRE(j["runs"].size() == 3);
  for (const auto& run : j["runs"]) {
    const std::string recipe = run["recipe"];
    INFO(recipe << ": " << run.dump());
    CHECK(run["result"] == "passed");
    const std::string dir = artifacts.string() + "/" + run["run_id"].get<std::string>();
    std::ifstream packet(dir + "/03-test.json");
    auto test = nlohmann::json::parse(packet, nullptr, false);
    bool serving = false;
    for (const auto& t : test["observations"]["tests"]) {
      if (t["name"] == "serves its domain through the proxy") serving = t["status"] == "passed";
    }
    const std::string domain = run["namespace"].get<std::string>() + ".harness.localhost";
    if (recipe == "web") {
      CHECK_FALSE(serving);  // nothing routes it: no serving check
    } else {
      CHECK(serving);
      CHECK(proxy.WaitForLog("route " + domain + " -> tasks." + run["namespace"].get<std::string>() + "_app:8080", 0));
    }
    CHECK_THAT(LeftoversOf(run["namespace"]), NothingLeft());
    CleanUp(run["namespace"]);
  }
  std::string violations = ValidateArtifacts(artifacts.string());
  INFO("artifacts that do not fit their schema (docs/schema.md):\n" << violations);
  CHECK(violations == "");
}

}  // namespace
}  // namespace harness::testing
