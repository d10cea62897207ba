// The recipes folder and its catalogue: which recipes there are, their scripts, and where a
// catalogue entry's files come from. Nothing here reaches a repository.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/temp_dir.h"
#include "source/recipe_source.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

const char* kCatalogue = R"YML(# Recipes kept in their own repositories.
recipes:
  gitea:
    git: https://git.coopcloud.tech/coop-cloud/gitea.git
  keycloak:
    git: ../mirrors/keycloak.git
    path: recipe/
    script: scripts/keycloak.lua
)YML";

// A recipes folder with a catalogue.yml of `text`, in `tmp`.
std::string Recipes(const TempDir& tmp, const std::string& text) {
  std::string dir = tmp.path() + "/recipes";
  Write(dir + "/catalogue.yml", text);
  return dir;
}

// The message of a catalogue that must not be read.
std::string CatalogueError(const std::string& text) {
  TempDir tmp("catalogue-test");
  auto entries = ReadCatalogue(Recipes(tmp, text));
  INFO(text);
  REQUIRE_FALSE(entries.ok());
  CHECK(entries.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(entries.status().message(), Catch::Contains("catalogue.yml"));
  return entries.status().message();
}

// A catalogue of one entry `name` with the fields `fields` (YAML flow mapping body).
std::string One(const std::string& name, const std::string& fields) {
  return "recipes:\n  " + name + ": {" + fields + "}\n";
}

// ----------------------------------------------------------------------------------------
// ReadCatalogue

TEST_CASE("catalogue: none, empty, and a good one", "[catalogue]") {
  TempDir tmp("catalogue-test");
  auto none = ReadCatalogue(tmp.path());
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto missing_dir = ReadCatalogue(tmp.path() + "/no-such-folder");
  REQUIRE(missing_dir.ok());
  CHECK(missing_dir->empty());

  auto empty = ReadCatalogue(Recipes(tmp, "# nothing yet\n"));
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  auto good = ReadCatalogue(Recipes(tmp, kCatalogue));
  REQUIRE(good.ok());
  REQUIRE(good->size() == 2);
  const CatalogueEntry& gitea = (*good)[0];
  CHECK(gitea.name == "gitea");
  CHECK(gitea.git == "https://git.coopcloud.tech/coop-cloud/gitea.git");
  CHECK(gitea.path.empty());
  CHECK(gitea.script.empty());
  const CatalogueEntry& keycloak = (*good)[1];
  CHECK(keycloak.name == "keycloak");
  CHECK(keycloak.git == "../mirrors/keycloak.git");
  CHECK(keycloak.path == "recipe");  // the trailing '/' goes
  CHECK(keycloak.script == "scripts/keycloak.lua");

  auto scp = ReadCatalogue(Recipes(tmp, One("app", "git: 'git@git.coopcloud.tech:coop-cloud/app.git'")));
  REQUIRE(scp.ok());
  CHECK((*scp)[0].git == "git@git.coopcloud.tech:coop-cloud/app.git");
}

TEST_CASE("catalogue: a file that is not a mapping of recipes", "[catalogue]") {
  CHECK_THAT(CatalogueError("- gitea\n- keycloak\n"), Catch::Contains("expected `recipes:`"));
  CHECK_THAT(CatalogueError("recipes: [gitea, keycloak]\n"), Catch::Contains("expected `recipes:`"));
  CHECK_THAT(CatalogueError("recipe:\n  gitea: {git: /srv/gitea.git}\n"), Catch::Contains("expected `recipes:`"));
  CHECK_THAT(CatalogueError("recipes:\n  gitea: https://git.coopcloud.tech/coop-cloud/gitea.git\n"),
             Catch::Contains("recipe 'gitea': expected {git, path, script}"));
}

TEST_CASE("catalogue: each entry's fields are checked, naming the entry", "[catalogue]") {
  CHECK_THAT(CatalogueError(One("gitea", "git: /srv/gitea.git, branch: main")),
             Catch::Contains("recipe 'gitea': unknown field 'branch'"));
  CHECK_THAT(CatalogueError(One("gitea", "git: [/srv/a.git, /srv/b.git]")),
             Catch::Contains("'git' must be a string"));
  CHECK_THAT(CatalogueError(One("Gitea", "git: /srv/gitea.git")), Catch::Contains("bad recipe name 'Gitea'"));
  CHECK_THAT(CatalogueError(One("my_app", "git: /srv/gitea.git")), Catch::Contains("bad recipe name 'my_app'"));

  for (const char* git : {"''", "\"--upload-pack=touch /tmp/x\"", "-oProxyCommand=x", "'/srv/my repo.git'",
                          "\"/srv/a.git\\tb\"", "'ext::sh'", "'fd::17'"}) {
    INFO(git);
    CHECK_THAT(CatalogueError(One("gitea", std::string("git: ") + git)),
               Catch::Contains("recipe 'gitea': 'git' must be a repository address"));
  }
  CHECK_THAT(CatalogueError(One("gitea", "path: recipe")), Catch::Contains("'git' must be a repository address"));

  for (const char* path : {"../outside", "recipe/../../etc", "/etc", "-x"}) {
    INFO(path);
    CHECK_THAT(CatalogueError(One("gitea", std::string("git: /srv/gitea.git, path: '") + path + "'")),
               Catch::Contains("recipe 'gitea': 'path' must be a folder inside the repository"));
  }
  for (const char* script : {"../gitea.lua", "scripts/../../gitea.lua", "/etc/passwd"}) {
    INFO(script);
    CHECK_THAT(CatalogueError(One("gitea", std::string("git: /srv/gitea.git, script: '") + script + "'")),
               Catch::Contains("recipe 'gitea': 'script' must be a file inside"));
  }
}

TEST_CASE("catalogue: a YAML syntax error names the line", "[catalogue]") {
  // A field indented one blank short, and a list item among the entries.
  CHECK_THAT(CatalogueError("recipes:\n"
                            "  gitea:\n"
                            "    git: /srv/gitea.git\n"
                            "   path: recipe\n"),
             Catch::Contains("catalogue.yml:4: "));
  CHECK_THAT(CatalogueError("# two entries\n"
                            "recipes:\n"
                            "  gitea:\n"
                            "    git: /srv/gitea.git\n"
                            "  - keycloak\n"),
             Catch::Contains("catalogue.yml:5: "));
}

// ----------------------------------------------------------------------------------------
// RecipeSources

// Folder recipes of every kind beside the catalogue.
struct Fixture {
  TempDir tmp{"catalogue-test"};
  std::string recipes = tmp.path() + "/recipes";
  Fixture() {
    Write(recipes + "/web/recipe.lua", "return recipe { version = \"1.0.0+1\" }\n");
    Write(recipes + "/web/compose.yml", "services: {}\n");
    Write(recipes + "/plain/compose.yml", "services: {}\n");          // a recipe's own files, no script
    Write(recipes + "/old/releases/1.0.0+1/recipe.lua", "return recipe {}\n");  // release folders only
    Write(recipes + "/notes/README.md", "not a recipe\n");
    Write(recipes + "/scripts/keycloak.lua", "return recipe { weight = 2 }\n");
    Write(recipes + "/catalogue.yml", kCatalogue);
  }
  RecipeSources Sources() const { return RecipeSources(recipes, tmp.path() + "/cache"); }
};

TEST_CASE("catalogue: the recipes are the folders that hold one and the catalogue's entries", "[catalogue]") {
  Fixture f;
  RecipeSources sources = f.Sources();
  auto list = sources.List();
  REQUIRE(list.ok());
  CHECK(*list == std::vector<std::string>{"gitea", "keycloak", "old", "plain", "web"});

  CHECK(sources.Exists("web"));
  CHECK(sources.Exists("plain"));
  CHECK(sources.Exists("old"));
  CHECK(sources.Exists("gitea"));
  CHECK(sources.Exists("keycloak"));
  CHECK_FALSE(sources.Exists("notes"));
  CHECK_FALSE(sources.Exists("scripts"));
  CHECK_FALSE(sources.Exists("nosuch"));
  CHECK_FALSE(sources.Exists("Web"));
  CHECK_FALSE(sources.Exists("../recipes/web"));

  SECTION("without a catalogue, the folders") {
    fs::remove(f.recipes + "/catalogue.yml");
    auto folders = sources.List();
    REQUIRE(folders.ok());
    CHECK(*folders == std::vector<std::string>{"old", "plain", "web"});
    CHECK_FALSE(sources.Exists("gitea"));
  }
  SECTION("a name both a folder and an entry") {
    Write(f.recipes + "/catalogue.yml", std::string(kCatalogue) + "  web:\n    git: /srv/web.git\n");
    auto both = sources.List();
    REQUIRE_FALSE(both.ok());
    CHECK(both.status().code() == Status::Code::kInvalidArgument);
    CHECK_THAT(both.status().message(), Catch::Contains("recipe 'web'") && Catch::Contains("keep one of the two"));
    CHECK_FALSE(sources.Exists("web"));
  }
  SECTION("a bad catalogue") {
    Write(f.recipes + "/catalogue.yml", One("gitea", "git: ''"));
    auto bad = sources.List();
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Status::Code::kInvalidArgument);
    CHECK_THAT(bad.status().message(), Catch::Contains("catalogue.yml"));
  }
}

TEST_CASE("catalogue: a script's text: its file, the defaults, or none", "[catalogue]") {
  Fixture f;
  RecipeCheckout file;
  file.script = f.recipes + "/web/recipe.lua";
  file.files_dir = f.recipes + "/web";
  auto text = RecipeSources::ScriptText(file);
  REQUIRE(text.ok());
  CHECK(*text == "return recipe { version = \"1.0.0+1\" }\n");

  RecipeCheckout plain;
  plain.script = f.recipes + "/plain/recipe.lua";
  plain.files_dir = f.recipes + "/plain";
  auto defaults = RecipeSources::ScriptText(plain);
  REQUIRE(defaults.ok());
  CHECK(*defaults == kDefaultScript);

  RecipeCheckout scriptless;  // a catalogue entry without a script
  scriptless.scriptless = true;
  scriptless.files_dir = f.tmp.path() + "/export";
  auto entry = RecipeSources::ScriptText(scriptless);
  REQUIRE(entry.ok());
  CHECK(*entry == kDefaultScript);

  RecipeCheckout neither;
  neither.script = f.recipes + "/notes/recipe.lua";
  neither.files_dir = f.recipes + "/notes";
  auto none = RecipeSources::ScriptText(neither);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == Status::Code::kNotFound);
  CHECK_THAT(none.status().message(), Catch::Contains(f.recipes + "/notes/recipe.lua"));
}

TEST_CASE("catalogue: Script gives the text and chunk name of every kind of recipe", "[catalogue]") {
  Fixture f;
  RecipeSources sources = f.Sources();

  auto web = sources.Script("web");
  REQUIRE(web.ok());
  CHECK(web->first == "return recipe { version = \"1.0.0+1\" }\n");
  CHECK(web->second == "recipes/web/recipe.lua");

  auto plain = sources.Script("plain");
  REQUIRE(plain.ok());
  CHECK(plain->first == kDefaultScript);
  CHECK(plain->second == "recipes/plain/recipe.lua");

  auto gitea = sources.Script("gitea");
  REQUIRE(gitea.ok());
  CHECK(gitea->first == kDefaultScript);
  CHECK(gitea->second == "recipes/gitea/recipe.lua");

  auto keycloak = sources.Script("keycloak");
  REQUIRE(keycloak.ok());
  CHECK(keycloak->first == "return recipe { weight = 2 }\n");
  CHECK(keycloak->second == "recipes/scripts/keycloak.lua");

  auto nosuch = sources.Script("nosuch");
  REQUIRE_FALSE(nosuch.ok());
  CHECK(nosuch.status().code() == Status::Code::kNotFound);
  CHECK(sources.Script("notes").status().code() == Status::Code::kNotFound);
  CHECK(sources.Script("../etc").status().code() == Status::Code::kInvalidArgument);

  SECTION("a catalogue script that is missing") {
    fs::remove(f.recipes + "/scripts/keycloak.lua");
    auto gone = sources.Script("keycloak");
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.status().code() == Status::Code::kNotFound);
    CHECK_THAT(gone.status().message(), Catch::Contains("scripts/keycloak.lua"));
  }
}

TEST_CASE("catalogue: an entry's origin, without reaching it", "[catalogue]") {
  Fixture f;
  Write(f.recipes + "/catalogue.yml", std::string(kCatalogue) +
                                          "  local:\n    git: ./repos/local.git\n"
                                          "  deep:\n    git: ../mirrors/../repos/deep.git\n    path: sub/dir\n");
  RecipeSources sources = f.Sources();

  auto gitea = sources.OriginOf("gitea");
  REQUIRE(gitea.ok());
  REQUIRE(gitea->has_value());
  CHECK((*gitea)->url == "https://git.coopcloud.tech/coop-cloud/gitea.git");
  CHECK((*gitea)->subdir.empty());

  // A relative path is the recipes folder's, made absolute.
  std::string root = fs::absolute(f.tmp.path()).lexically_normal().string();
  auto keycloak = sources.OriginOf("keycloak");
  REQUIRE(keycloak.ok());
  REQUIRE(keycloak->has_value());
  CHECK((*keycloak)->url == root + "/mirrors/keycloak.git");
  CHECK((*keycloak)->subdir == "recipe");

  auto local = sources.OriginOf("local");
  REQUIRE(local.ok());
  REQUIRE(local->has_value());
  CHECK((*local)->url == root + "/recipes/repos/local.git");

  auto deep = sources.OriginOf("deep");
  REQUIRE(deep.ok());
  REQUIRE(deep->has_value());
  CHECK((*deep)->url == root + "/repos/deep.git");
  CHECK((*deep)->subdir == "sub/dir");

  // Folder recipes are carried in their folders.
  for (const char* folder : {"web", "plain", "old"}) {
    INFO(folder);
    auto o = sources.OriginOf(folder);
    REQUIRE(o.ok());
    CHECK_FALSE(o->has_value());
  }
  CHECK(sources.OriginOf("nosuch").status().code() == Status::Code::kNotFound);
  CHECK(sources.OriginOf("No_Such").status().code() == Status::Code::kInvalidArgument);

  // Nothing was fetched.
  std::error_code ec;
  CHECK((!fs::exists(f.tmp.path() + "/cache", ec) || fs::is_empty(f.tmp.path() + "/cache", ec)));
}

}  // namespace
}  // namespace harness
