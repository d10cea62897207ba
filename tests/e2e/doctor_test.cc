// harness doctor against the real local Swarm, and against a Docker CLI that fails.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/temp_dir.h"
#include "support/e2e.h"
#include "support/git_fixture.h"
#include "support/schema_check.h"

namespace harness::testing {
namespace {

std::map<std::string, std::string> Levels(const nlohmann::json& findings) {
  std::map<std::string, std::string> worst;
  for (const auto& f : findings) {
    std::string check = f["check"], level = f["level"];
    if (!worst.count(check) || level == "fail" || (level == "warn" && worst[check] == "ok")) worst[check] = level;
  }
  return worst;
}

TEST_CASE("doctor: a working machine passes every check that matters", "[errors]") {
  auto r = RunHarness({"doctor", "--json", "--recipes", SourceDir() + "/recipes"}, Duration(120000));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["schema"] == "recipe-harness/doctor/v1");
  CHECK(j["exit_code"] == 0);
  std::ofstream(std::filesystem::temp_directory_path() / "harness-doctor.json.txt") << r.out;
  std::string invalid = ValidateArtifacts((std::filesystem::temp_directory_path() / "harness-doctor.json.txt").string());
  INFO(invalid);
  CHECK(invalid.empty());
  auto levels = Levels(j["findings"]);
  CHECK(levels["docker"] == "ok");
  CHECK(levels["swarm"] == "ok");
  CHECK(levels["network"] == "ok");
  CHECK(levels["images"] == "ok");
  CHECK(levels["state"] == "ok");
}

TEST_CASE("doctor: git-sourced recipes: the repository answers, and its images are checked", "[errors]") {
  TempDir tmp("harness-doctor-git");
  GitFixture repo(tmp.path() + "/git");
  repo.Write("compose.yml", "services:\n  app:\n    image: recipe-harness/busybox:1\n");
  repo.Commit("release");
  repo.Tag("1.0.0+1");
  repo.Push();
  std::string recipes = tmp.path() + "/recipes";
  std::filesystem::create_directories(recipes + "/good");
  std::filesystem::create_directories(recipes + "/gone");
  std::ofstream(recipes + "/good/recipe.lua") << "return recipe { source = { git = \"" << repo.url() << "\" } }\n";
  std::ofstream(recipes + "/gone/recipe.lua") << "return recipe { source = { git = \"" << tmp.path() << "/nope.git\" } }\n";
  auto r = RunHarness({"--state", tmp.path() + "/state", "doctor", "--recipes", recipes}, Duration(120000));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains("ok    source: good: " + repo.url() + " at 1.0.0+1"));
  CHECK_THAT(r.out, Catch::Contains("FAIL  source: gone: cannot reach the recipe repository"));
  CHECK_THAT(r.out, Catch::Contains("ok    images: recipe-harness/busybox:1 present (good)"));
}

TEST_CASE("doctor: a Docker that does not answer fails with a fix hint", "[errors]") {
  auto r = RunHarness({"doctor", "--docker", "/bin/false"}, Duration(60000));
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains("FAIL  docker"));
  CHECK_THAT(r.out, Catch::Contains("fix: start dockerd"));
}

}  // namespace
}  // namespace harness::testing
