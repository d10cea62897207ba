// harness run <recipe>[@<version>]: one cold run (or an upgrade run) of one recipe.
#include <filesystem>

#include "cli/command.h"
#include "cli/reports.h"
#include "recipe/naming.h"
#include "recipe/releases.h"
#include "source/git.h"
#include "source/recipe_source.h"

namespace harness {
namespace {

class RunSubcommand final : public Subcommand {
 public:
  void AddFlags(CLI::App* sub) override {
    sub->add_option("recipe", recipe_,
                    "Recipe name (a folder under --recipes), or <name>@<version> for one of its releases")
        ->required();
    sub->add_option("--commit", commit_,
                    "A git-sourced recipe at this commit (a full id, e.g. a pull request's head) instead of a release");
    sub->add_option("--upgrade-from", upgrade_from_,
                    "An upgrade run: deploy this release first, then upgrade it in place to the recipe's version, "
                    "and test");
    sub->add_flag("--isolated", isolated_, "Run with nothing else of ours on the Swarm (waits for other runs)");
    sub->add_flag("--no-wait", no_wait_, "With --isolated: refuse (exit 3) instead of waiting");
  }

  Status Check(Context& ctx) override {
    const GlobalOptions& g = ctx.g;
    if (std::error_code ec; !std::filesystem::is_directory(g.recipes, ec)) {
      return Status::InvalidArgument("recipes folder not found: " + g.recipes);
    }
    opts_ = ctx.base;
    std::tie(opts_.recipe, opts_.version) = SplitRecipeVersion(recipe_);
    opts_.isolated = isolated_;
    opts_.wait_for_isolation = !no_wait_;
    opts_.upgrade_from = upgrade_from_;
    opts_.commit = commit_;
    if (!commit_.empty() && (!IsCommitId(commit_) || !opts_.version.empty())) {
      return Status::InvalidArgument("--commit takes a full commit id (40 hex digits), and no @version beside it");
    }
    if (Status s = ValidateRecipeName(opts_.recipe); !s.ok()) return Status::InvalidArgument(s.message());
    RecipeSources sources(g.recipes, g.state + "/git");
    if (!opts_.version.empty()) {
      // Before anything runs (no command on the target for a bad version): the version is
      // well-formed, and a recipe carried in its folder has that release folder.
      if (Status s = ValidateVersion(opts_.version); !s.ok()) return Status::InvalidArgument(s.message());
      if (auto origin = sources.OriginOf(opts_.recipe); origin.ok() && !origin->has_value()) {
        if (auto dir = RecipeDir(g.recipes, opts_.recipe, opts_.version); !dir.ok()) {
          return Status::InvalidArgument(dir.status().message());
        }
      }
    }
    if (!sources.Exists(opts_.recipe)) {
      std::string known;
      for (const auto& n : ListRecipes(g)) known += (known.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("no recipe named '" + opts_.recipe + "' in " + g.recipes +
                                     " (recipes: " + (known.empty() ? "none" : known) + ")");
    }
    return Status::Ok();
  }

  Status Run(Context& ctx) override {
    return PrintRunOutcomes(ctx.g, {RunRecipe(opts_, ctx.docker.get(), ctx.progress)}, false);
  }

 private:
  std::string recipe_, commit_, upgrade_from_;
  bool isolated_ = false, no_wait_ = false;
  RunOptions opts_;
};

}  // namespace

std::unique_ptr<Subcommand> NewRunCommand() { return std::make_unique<RunSubcommand>(); }

}  // namespace harness
