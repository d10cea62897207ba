#include "sched/sweep_plan.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "base/temp_dir.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST_CASE("sweep plan: weights from the scripts; a script that does not load is named, not dropped", "[sched]") {
  TempDir root("sweep-plan");
  fs::path recipes = fs::path(root.path()) / "recipes";
  const std::string compose = "version: '3.8'\nservices:\n  app:\n    image: busybox\n";
  Write(recipes / "heavy" / "recipe.lua", "return recipe { name = 'heavy', version = '1.0.0', weight = 3 }\n");
  Write(recipes / "heavy" / "compose.yml", compose);
  Write(recipes / "light" / "recipe.lua", "return recipe { name = 'light', version = '1.0.0' }\n");
  Write(recipes / "light" / "compose.yml", compose);
  Write(recipes / "bad" / "recipe.lua", "return recipe {\n  name = 'bad',\n  weight = ,\n}\n");
  Write(recipes / "bad" / "compose.yml", compose);
  Write(recipes / "plain" / "compose.yml", compose);   // no script: the defaults

  auto plan = PlanSweep({recipes.string(), root.path() + "/state", {"light", "bad", "heavy", "plain"}});
  REQUIRE(plan.size() == 4);
  std::map<std::string, PlannedJob> by_name;
  for (const auto& p : plan) by_name[p.job.name] = p;
  CHECK(by_name["heavy"].job.weight == 3);
  CHECK(by_name["heavy"].job.index == 2);
  CHECK(by_name["light"].job.weight == 1);
  CHECK(by_name["plain"].job.weight == 1);
  CHECK(by_name["plain"].load_error.empty());
  CHECK(by_name["light"].load_error.empty());
  CHECK(by_name["bad"].job.weight == 1);
  CHECK_THAT(by_name["bad"].load_error, Catch::Contains("recipes/bad/recipe.lua:3"));
  CHECK(plan.front().job.name == "heavy");   // nothing known of durations: the heaviest first
}

}  // namespace
}  // namespace harness
