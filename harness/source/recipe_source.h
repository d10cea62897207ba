// RecipeSources: where the files of a run come from.
//
// A recipe is a folder `recipes/<name>/` with its script. Its files are either in that
// folder (releases as `releases/<version>/` folders, the bundled canon's way), or, when
// the script says `source = { git = ..., path = ... }`, in a git repository whose release
// tags are the releases. A checkout is the run's own: for git, a fresh copy of the
// commit's files in a temporary folder owned by the checkout.
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

struct RecipeCheckout {
  std::string script;     // the recipe.lua to load
  std::string chunk;      // its name in messages: "recipes/<name>[/releases/<v>]/recipe.lua"
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
  std::string recipes_dir_;
  std::unique_ptr<Executor> local_;
  std::unique_ptr<GitCache> git_;
};

}  // namespace harness
