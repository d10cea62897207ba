// Bad scripts and bad deploys: each ends with a clear message, the right exit code, and
// nothing left on the Swarm.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/e2e.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

HarnessResult RunFixture(const std::string& name) {
  auto artifacts = fs::temp_directory_path() / "harness-e2e-artifacts";
  return RunHarness({"run", name, "--recipes", FixtureRecipes(), "--artifacts", artifacts.string()},
                    Duration(180000));
}

nlohmann::json Summary(const HarnessResult& r) {
  std::ifstream f(r.artifacts + "/summary.json");
  nlohmann::json j;
  if (f) f >> j;
  return j;
}

void RequireNothingLeft(const HarnessResult& r) {
  REQUIRE_FALSE(r.namespace_name.empty());
  CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());
  CleanUp(r.namespace_name);
}

TEST_CASE("a syntax error is a compile error naming file:line; nothing is deployed", "[errors]") {
  auto r = RunFixture("syntax-error");
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Catch::Contains("compile error:"));
  CHECK_THAT(r.out, Catch::Contains("compile error: recipes/syntax-error/recipe.lua:5:"));
  CHECK_THAT(r.err, !Catch::Contains("deploy started"));
  auto s = Summary(r);
  CHECK(s["result"] == "error");
  CHECK(s["failed_phase"] == "prepare");
  CHECK(s["teardown"]["needed"] == false);
  RequireNothingLeft(r);
}

TEST_CASE("a wrongly typed field is refused before anything is deployed", "[errors]") {
  auto r = RunFixture("bad-field");
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Catch::Contains("recipes/bad-field/recipe.lua:4:"));
  CHECK_THAT(r.out, Catch::Contains("'timeouts.deploy' must be a number"));
  CHECK_THAT(r.err, !Catch::Contains("deploy started"));
  RequireNothingLeft(r);
}

TEST_CASE("a runtime error in a test names file:line, fails the run and tears down", "[errors]") {
  auto r = RunFixture("runtime-error");
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("recipes/runtime-error/recipe.lua:9: undefined global 'undefined_helper'"));
  auto s = Summary(r);
  CHECK(s["failed_phase"] == "test");
  CHECK(s["teardown"]["verified"] == true);
  CHECK(fs::exists(r.artifacts + "/03-test.json"));
  CHECK(fs::exists(r.artifacts + "/99-teardown.json"));
  RequireNothingLeft(r);
}

TEST_CASE("an endless loop in a test is stopped at the test budget and torn down", "[errors]") {
  auto started = Clock::now();
  auto r = RunFixture("infinite-loop");
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("ran past its time budget of 3.0s"));
  CHECK(Clock::now() - started < std::chrono::seconds(90));
  RequireNothingLeft(r);
}

TEST_CASE("a deploy that never converges fails in converge with the last state", "[errors]") {
  auto r = RunFixture("never-converges");
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("did not converge within the deploy budget of 8.0s"));
  CHECK_THAT(r.out, Catch::Contains("unhealthy") || Catch::Contains("0/1") || Catch::Contains("starting"));
  auto s = Summary(r);
  CHECK(s["failed_phase"] == "converge");
  std::ifstream f(r.artifacts + "/02-converge.json");
  nlohmann::json packet;
  f >> packet;
  CHECK(packet["status"] == "timeout");
  CHECK_FALSE(packet["evidence"].empty());
  RequireNothingLeft(r);
}

TEST_CASE("a crash-looping service fails fast with the task error", "[errors]") {
  auto r = RunFixture("crash-loop");
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("crash-looping"));
  CHECK_THAT(r.out, Catch::Contains("non-zero exit (1)"));
  RequireNothingLeft(r);
}

TEST_CASE("an unknown recipe is a usage error listing the recipes", "[errors]") {
  auto r = RunHarness({"run", "no-such-recipe", "--recipes", FixtureRecipes()}, Duration(30000));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no recipe named 'no-such-recipe'"));
  CHECK_THAT(r.err, Catch::Contains("pass"));
  auto bad = RunHarness({"run", "../etc", "--recipes", FixtureRecipes()}, Duration(30000));
  CHECK(bad.exit_code == 2);
}

TEST_CASE("a sweep over an empty folder fails instead of passing", "[errors]") {
  auto empty = fs::temp_directory_path() / "harness-empty-recipes";
  fs::create_directories(empty);
  auto r = RunHarness({"sweep", "--recipes", empty.string()}, Duration(30000));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no recipes found"));
}

}  // namespace
}  // namespace harness::testing

namespace harness::testing {
namespace {

TEST_CASE("run --commit: only a full commit id of a git-sourced recipe; nothing is deployed otherwise", "[errors]") {
  auto short_id = RunHarness({"run", "pass", "--commit", "abc123", "--recipes", FixtureRecipes()}, Duration(60000));
  CHECK(short_id.exit_code == 2);
  CHECK_THAT(short_id.err, Catch::Contains("full commit id"));
  auto folder = RunHarness({"run", "pass", "--commit", std::string(40, 'a'), "--recipes", FixtureRecipes()},
                           Duration(60000));
  CHECK(folder.exit_code == 2);
  CHECK_THAT(folder.out + folder.err, Catch::Contains("carried in its folder"));
  CHECK(folder.namespace_name.empty());
}

}  // namespace
}  // namespace harness::testing
