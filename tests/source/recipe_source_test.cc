#include "source/recipe_source.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/temp_dir.h"
#include "support/git_fixture.h"

using namespace harness;
using harness::testing::GitFixture;
namespace fs = std::filesystem;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// recipes/<name>/recipe.lua naming the fixture's repository, its recipe in `sub/`.
void GitRecipe(const std::string& recipes, const std::string& name, const std::string& url, const std::string& extra = "") {
  WriteFile(recipes + "/" + name + "/recipe.lua",
            "return recipe { source = { git = \"" + url + "\", path = \"sub\" }" + extra + " }\n");
}

void Release(GitFixture& repo, const std::string& tag, const std::string& body) {
  repo.Write("sub/compose.yml", "services: {app: {image: busybox}}  # " + body + "\n");
  repo.Write("README.md", "top level, not the recipe\n");
  repo.Commit("release " + tag);
  repo.Tag(tag);
}

}  // namespace

TEST_CASE("recipe sources: a git recipe's releases are its version tags in recipe order", "[source]") {
  TempDir tmp("source-test");
  GitFixture repo(tmp.path() + "/git");
  Release(repo, "1.0.0+1", "one");
  Release(repo, "1.10.0+1", "ten");
  Release(repo, "1.2.0+1", "two");
  repo.Tag("latest");        // not a version: skipped
  repo.Tag("1.2.0-rc1+1");   // a pre-release sorts before its release
  repo.Push();
  GitRecipe(tmp.path() + "/recipes", "app", repo.url());
  RecipeSources sources(tmp.path() + "/recipes", tmp.path() + "/cache");

  auto releases = sources.Releases("app", true, CancelToken::None());
  REQUIRE(releases.ok());
  CHECK(*releases == std::vector<std::string>{"1.0.0+1", "1.2.0-rc1+1", "1.2.0+1", "1.10.0+1"});

  SECTION("no version: the newest release, its subfolder only, in the run's own folder") {
    auto a = sources.Checkout("app", "", "", CancelToken::None());
    REQUIRE(a.ok());
    CHECK(a->version == "1.10.0+1");
    CHECK(a->commit.size() == 40);
    CHECK(a->origin == repo.url());
    CHECK(a->script == tmp.path() + "/recipes/app/recipe.lua");
    CHECK(Slurp(a->files_dir + "/compose.yml").find("# ten") != std::string::npos);
    CHECK_FALSE(fs::exists(a->files_dir + "/README.md"));
    auto b = sources.Checkout("app", "1.0.0+1", "", CancelToken::None());
    REQUIRE(b.ok());
    CHECK(b->files_dir != a->files_dir);
    CHECK(Slurp(b->files_dir + "/compose.yml").find("# one") != std::string::npos);
    std::string gone = b->files_dir;
    b = Result<RecipeCheckout>(Status::NotFound("dropped"));
    CHECK_FALSE(fs::exists(gone));
    CHECK(fs::exists(a->files_dir + "/compose.yml"));
  }
  SECTION("a new tag is seen after a fetch") {
    Release(repo, "2.0.0+1", "new");
    repo.Push();
    auto again = sources.Releases("app", true, CancelToken::None());
    REQUIRE(again.ok());
    CHECK(again->back() == "2.0.0+1");
  }
  SECTION("an unknown release names the ones there are") {
    auto c = sources.Checkout("app", "9.9.9+1", "", CancelToken::None());
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == Status::Code::kNotFound);
    CHECK_THAT(c.status().message(), Catch::Contains("no release 9.9.9+1") && Catch::Contains("1.10.0+1"));
  }
  SECTION("a pull request's head commit, on no branch, is fetched by its ref") {
    repo.Write("sub/compose.yml", "services: {app: {image: busybox}}  # pr\n");
    repo.Commit("a pull request");
    std::string head = repo.Head();
    repo.Git({"push", "--quiet", "origin", "HEAD:refs/pull/7/head"});
    repo.Git({"reset", "--quiet", "--hard", "HEAD~1"});
    auto c = sources.Checkout("app", "", head, CancelToken::None());
    REQUIRE(c.ok());
    CHECK(c->commit == head);
    CHECK(c->version == "head-" + head.substr(0, 12));
    CHECK(Slurp(c->files_dir + "/compose.yml").find("# pr") != std::string::npos);
    auto missing = sources.Checkout("app", "", std::string(40, 'a'), CancelToken::None());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.status().code() == Status::Code::kNotFound);
  }
}

TEST_CASE("recipe sources: folder recipes, bad declarations and unreachable repositories", "[source]") {
  TempDir tmp("source-test");
  std::string recipes = tmp.path() + "/recipes";
  RecipeSources sources(recipes, tmp.path() + "/cache");

  SECTION("a folder recipe is its folder; its releases are release folders") {
    WriteFile(recipes + "/web/recipe.lua", "return recipe { version = \"1.0.0+1\" }\n");
    WriteFile(recipes + "/web/releases/0.9.0+1/recipe.lua", "return recipe { version = \"0.9.0+1\" }\n");
    auto c = sources.Checkout("web", "", "", CancelToken::None());
    REQUIRE(c.ok());
    CHECK(c->files_dir == recipes + "/web");
    CHECK(c->commit.empty());
    auto r = sources.Releases("web", true, CancelToken::None());
    REQUIRE(r.ok());
    CHECK(*r == std::vector<std::string>{"0.9.0+1"});
    auto commit = sources.Checkout("web", "", std::string(40, 'a'), CancelToken::None());
    CHECK(commit.status().code() == Status::Code::kInvalidArgument);
  }
  SECTION("a script that does not load is checked out as a folder recipe, for prepare to report") {
    WriteFile(recipes + "/broken/recipe.lua", "return recipe {\n");
    auto c = sources.Checkout("broken", "", "", CancelToken::None());
    REQUIRE(c.ok());
    CHECK(c->files_dir == recipes + "/broken");
    CHECK(sources.OriginOf("broken").status().code() == Status::Code::kInvalidArgument);
  }
  SECTION("an unreachable repository is an infrastructure error naming it") {
    GitRecipe(recipes, "gone", tmp.path() + "/no-such-repo.git");
    auto r = sources.Releases("gone", true, CancelToken::None());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInfra);
    CHECK_THAT(r.status().message(), Catch::Contains("no-such-repo.git") && Catch::Contains("cannot reach"));
    for (const auto& e : fs::directory_iterator(tmp.path() + "/cache")) CHECK_FALSE(e.is_directory());  // no half clone
  }
  SECTION("a script cannot pin a version beside a git source, or leave the repository") {
    GitRecipe(recipes, "pinned", "/srv/x.git", ", version = \"1.0.0+1\"");
    auto pinned = sources.OriginOf("pinned");
    REQUIRE_FALSE(pinned.ok());
    CHECK_THAT(pinned.status().message(), Catch::Contains("release tags"));
    WriteFile(recipes + "/escape/recipe.lua", "return recipe { source = { git = \"/srv/x.git\", path = \"../etc\" } }\n");
    CHECK_THAT(sources.OriginOf("escape").status().message(), Catch::Contains("source.path"));
    WriteFile(recipes + "/deep/recipe.lua", "return recipe { source = { git = \"/srv/x.git\", path = \"a/../../b\" } }\n");
    CHECK_THAT(sources.OriginOf("deep").status().message(), Catch::Contains("must not leave"));
    WriteFile(recipes + "/dash/recipe.lua", "return recipe { source = { git = \"--upload-pack=touch /tmp/x\" } }\n");
    CHECK_THAT(sources.OriginOf("dash").status().message(), Catch::Contains("not a repository address"));
    WriteFile(recipes + "/ext/recipe.lua", "return recipe { source = { git = \"ext::sh\" } }\n");
    CHECK_THAT(sources.OriginOf("ext").status().message(), Catch::Contains("not a repository address"));
    WriteFile(recipes + "/typo/recipe.lua", "return recipe { source = { gti = \"/srv/x.git\" } }\n");
    CHECK_THAT(sources.OriginOf("typo").status().message(), Catch::Contains("unknown recipe field 'source.gti'"));
  }
}
