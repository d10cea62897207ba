// harness check <recipe>[@<version>]: everything a run would decide and need, creating nothing.
#include <algorithm>
#include <iostream>

#include "base/exit_code.h"
#include "base/json_text.h"
#include "cli/command.h"
#include "recipe/naming.h"
#include "recipe/releases.h"
#include "report/check.h"
#include "source/recipe_source.h"

namespace harness {
namespace {

class CheckSubcommand final : public Subcommand {
 public:
  void AddFlags(CLI::App* sub) override {
    sub->add_option("recipe", recipe_, "Recipe name, or <name>@<version> for one of its releases")->required();
  }

  Status Check(Context& ctx) override {
    opts_ = ctx.base;
    std::tie(opts_.recipe, opts_.version) = SplitRecipeVersion(recipe_);
    if (Status s = ValidateRecipeName(opts_.recipe); !s.ok()) return Status::InvalidArgument(s.message());
    auto names = RecipeSources(ctx.g.recipes, ctx.g.state + "/git").List();
    if (!names.ok()) return Status::InvalidArgument(names.status().message());
    if (std::find(names->begin(), names->end(), opts_.recipe) == names->end()) {
      return Status::InvalidArgument("no recipe named '" + opts_.recipe + "' in " + ctx.g.recipes);
    }
    return Status::Ok();
  }

  Status Run(Context& ctx) override {
    nlohmann::json checked = CheckRecipe(opts_, ctx.docker.get());
    std::cout << (ctx.g.json ? JsonText(checked, 2) + "\n" : CheckText(checked));
    return StatusForExitCode(checked.value("exit_code", 3));
  }

 private:
  std::string recipe_;
  RunOptions opts_;
};

}  // namespace

std::unique_ptr<Subcommand> NewCheckCommand() { return std::make_unique<CheckSubcommand>(); }

}  // namespace harness
