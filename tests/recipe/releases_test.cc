// Releases of a recipe: version order, validation, and the release folders.
#include "recipe/releases.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <limits>

#include "base/temp_dir.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

TEST_CASE("versions order by recipe semver, then upstream version", "[releases]") {
  CHECK(CompareVersions("1.0.0+2.4", "1.0.0+2.4") == 0);
  CHECK(CompareVersions("1.0.0+2.4", "1.1.0+2.4") < 0);
  CHECK(CompareVersions("1.10.0+1", "1.9.0+9") > 0);       // numbers, not text
  CHECK(CompareVersions("2.0.0+1", "10.0.0+1") < 0);
  CHECK(CompareVersions("1.0.0+3.6.0", "1.0.0+3.5.3") > 0); // same recipe semver: upstream decides
  CHECK(CompareVersions("1.0.0-rc1+2", "1.0.0+2") < 0);     // a pre-release comes before its release
  CHECK(CompareVersions("1.0+2", "1.0.0+2") == 0);          // missing parts are zero
  CHECK(CompareVersions("1.0.0", "1.0.0+1") < 0);
  CHECK(MajorVersion("3.5.3+1.21") == 3);
  CHECK(MajorVersion("10+x") == 10);
  CHECK(MajorVersion("x") == -1);
  CHECK(MajorVersion("007.1.0+1") == 7);
}

TEST_CASE("a major version beyond an int is the largest, not an exception", "[releases]") {
  // A valid tag: ValidateVersion lets it through to sorting and to promotion's major check.
  REQUIRE(ValidateVersion("99999999999.0.0+1").ok());
  CHECK(MajorVersion("99999999999.0.0+1") == std::numeric_limits<int>::max());
  CHECK(MajorVersion("2147483648.0.0") == std::numeric_limits<int>::max());
  CHECK(MajorVersion("2147483647.0.0") == std::numeric_limits<int>::max());
  CHECK(MajorVersion("2147483646.0.0") == std::numeric_limits<int>::max() - 1);
  CHECK(MajorVersion(std::string(64, '9')) == std::numeric_limits<int>::max());
  CHECK(MajorVersion("99999999999.0.0+1") > MajorVersion("1.0.0+1"));
}

TEST_CASE("versions that reach commands are validated", "[releases]") {
  CHECK(ValidateVersion("1.2.0+3.6.0").ok());
  CHECK(ValidateVersion("0.1.0-rc1+v2_beta").ok());
  for (const char* bad : {"", "v1.0.0", "1.0.0;rm -rf /", "1.0.0 +2", "1.0.0+$(id)", "1.0.0+A",
                          "../../etc"}) {
    INFO(bad);
    CHECK(ValidateVersion(bad).code() == Status::Code::kInvalidArgument);
  }
  CHECK(SplitRecipeVersion("web@1.2.0+2.4") == std::make_pair(std::string("web"), std::string("1.2.0+2.4")));
  CHECK(SplitRecipeVersion("web") == std::make_pair(std::string("web"), std::string()));
}

TEST_CASE("release folders", "[releases]") {
  TempDir dir("releases");
  auto release = [&](const std::string& v) {
    fs::create_directories(dir.path() + "/web/releases/" + v);
    std::ofstream(dir.path() + "/web/releases/" + v + "/recipe.lua") << "return recipe {}";
  };
  fs::create_directories(dir.path() + "/web");
  CHECK(ListReleases(dir.path(), "web")->empty());
  release("1.10.0+2");
  release("1.2.0+2");
  release("1.9.0+3");
  fs::create_directories(dir.path() + "/web/releases/2.0.0+1");  // no recipe.lua: not a release
  CHECK(*ListReleases(dir.path(), "web") == std::vector<std::string>{"1.2.0+2", "1.9.0+3", "1.10.0+2"});
  CHECK(*RecipeDir(dir.path(), "web", "1.9.0+3") == dir.path() + "/web/releases/1.9.0+3");
  CHECK(*RecipeDir(dir.path(), "web", "") == dir.path() + "/web");
  auto missing = RecipeDir(dir.path(), "web", "3.0.0+1");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("releases: 1.2.0+2, 1.9.0+3, 1.10.0+2"));
  CHECK(RecipeDir(dir.path(), "web", "../x").status().code() == Status::Code::kInvalidArgument);
  release("Bad");
  CHECK_FALSE(ListReleases(dir.path(), "web").ok());
}

}  // namespace
}  // namespace harness
