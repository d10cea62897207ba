#include "warm/plan.h"

#include <fstream>
#include <sstream>

#include "recipe/deploy_env.h"
#include "recipe/naming.h"
#include "recipe/releases.h"
#include "script/engine.h"

namespace harness {

Result<WarmPlan> PlanWarmDeploy(const std::string& recipes_dir, const std::string& recipe,
                                const std::string& version, const ReservedPolicy& policy,
                                const std::string& stage_dir) {
  if (Status s = ValidateRecipeName(recipe); !s.ok()) return s;
  std::string target = version;
  if (target.empty()) {
    auto releases = ListReleases(recipes_dir, recipe);
    if (!releases.ok()) return releases.status();
    if (!releases->empty()) target = releases->back();
  }
  auto dir = RecipeDir(recipes_dir, recipe, target);
  if (!dir.ok()) return dir.status();
  std::ifstream f(*dir + "/recipe.lua");
  if (!f) return Status::NotFound("no recipe script at " + *dir + "/recipe.lua");
  std::stringstream src;
  src << f.rdbuf();
  std::string chunk = "recipes/" + recipe + (target.empty() ? "" : "/releases/" + target) + "/recipe.lua";
  ScriptEngine engine(chunk, recipe);
  auto spec = engine.Load(src.str());
  if (!spec.ok()) return spec.status();

  WarmPlan plan;
  plan.recipe = recipe;
  plan.version = spec->version;
  plan.namespace_name = WarmNamespace(recipe, policy.namespace_prefix);
  plan.domain = WarmDomain(plan.namespace_name, policy);
  auto env = DeployEnvironment(*dir, *spec, plan.namespace_name, plan.domain);
  std::map<std::string, std::string> labels = {{"harness.namespace", plan.namespace_name},
                                               {"harness.warm", recipe}};
  auto staged = StageCompose(*dir, spec->compose, labels, env, plan.namespace_name, stage_dir,
                             StageOptions{true});
  if (!staged.ok()) return staged.status();
  if (Status s = CheckDerivedNames(plan.namespace_name, staged->objects); !s.ok()) return s;
  plan.objects = staged->objects;
  return plan;
}

}  // namespace harness
