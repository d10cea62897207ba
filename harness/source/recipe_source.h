// RecipeSources: where the files of a run come from.
//
// A recipe is a folder `recipes/<name>/` with its script, or without one when the folder
// holds a recipe's own files (compose.yml): then the library's defaults run it. Its files
// are either in that folder (releases as `releases/<version>/` folders, the bundled
// canon's way), or, when the script says `source = { git = ..., path = ... }`, in a git
// repository whose release tags are the releases. A recipe may also be an entry of the
// catalogue, `recipes/catalogue.yml` (docs/recipe-format.md): a name, a git repository,
// an optional path in it and an optional script. A checkout is the run's own: for git, a
// fresh copy of the commit's files in a temporary folder owned by the checkout.
//
// Thread-safety: a RecipeSources may be used from several threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/cancel.h"
#include "base/status.h"
#include "base/temp_dir.h"
#include "source/git.h"

namespace harness {

class Executor;

// The script of a recipe that has none: the library's defaults.
inline constexpr const char* kDefaultScript = "return recipe {}\n";

struct CatalogueEntry {
  std::string name;
  std::string git;      // the repository (a relative path is the catalogue folder's)
  std::string path;     // the recipe's folder in it; "" the top
  std::string script;   // a script file (relative to the catalogue's folder); "" none
};

// Reads `<recipes_dir>/catalogue.yml` (an empty list when there is none). InvalidArgument
// for a malformed file or entry, naming the file and the entry.
Result<std::vector<CatalogueEntry>> ReadCatalogue(const std::string& recipes_dir);

struct RecipeCheckout {
  std::string script;     // the recipe.lua to load; "" or absent: kDefaultScript
  std::string chunk;      // its name in messages: "recipes/<name>[/releases/<v>]/recipe.lua"
  bool scriptless = false;  // a catalogue entry without a script: the defaults run it
  std::string files_dir;  // compose files, .env.sample, config files, release notes
  std::string version;    // the release, "head-<commit>" for a commit, "" the folder as it is
  std::string commit;     // git only
  std::string origin;     // git only: the repository's address
  std::shared_ptr<TempDir> copy;  // git only: owns files_dir
};

class RecipeSources {
 public:
  // The git cache lives in `cache_dir` (normally <state>/git).
  RecipeSources(std::string recipes_dir, std::string cache_dir);
  ~RecipeSources();

  // Every recipe of the folder and the catalogue, sorted. InvalidArgument for a bad
  // catalogue or a name that is both a folder and a catalogue entry.
  Result<std::vector<std::string>> List() const;
  bool Exists(const std::string& recipe) const;
  // The text of a recipe's script: its file, or kDefaultScript for a recipe without one
  // (a folder of a recipe's own files, a catalogue entry without a script). NotFound when
  // there is no such recipe.
  static Result<std::string> ScriptText(const RecipeCheckout& checkout);
  // The script of the recipe as it is (not of a release): its text and its chunk name.
  Result<std::pair<std::string, std::string>> Script(const std::string& recipe) const;

  // The repository the recipe's script names; nullopt for a recipe carried in its folder.
  // InvalidArgument for a bad script, NotFound for no such recipe.
  Result<std::optional<GitOrigin>> OriginOf(const std::string& recipe) const;

  // The recipe's releases, oldest first. A git recipe's repository is fetched first when
  // `fetch` (Infra when unreachable).
  Result<std::vector<std::string>> Releases(const std::string& recipe, bool fetch, const CancelToken& cancel);

  // The run's files: of release `version`, or of `commit` (a full id; git recipes), or with
  // both empty the recipe as it is (a folder recipe's folder; a git recipe's newest release,
  // or its default branch when it has none). A script that does not load counts as a folder
  // recipe's: its error is the run's to report, in prepare.
  Result<RecipeCheckout> Checkout(const std::string& recipe, const std::string& version, const std::string& commit,
                                  const CancelToken& cancel);

  const std::string& recipes_dir() const { return recipes_dir_; }

 private:
  Result<std::optional<CatalogueEntry>> CatalogueEntryOf(const std::string& recipe) const;
  std::string recipes_dir_;
  std::unique_ptr<Executor> local_;
  std::unique_ptr<GitCache> git_;
};

}  // namespace harness
