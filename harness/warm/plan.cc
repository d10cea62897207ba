#include "warm/plan.h"

#include <fstream>
#include <sstream>

#include "recipe/deploy_env.h"
#include "source/recipe_source.h"
#include "recipe/naming.h"
#include "script/engine.h"

namespace harness {

Result<WarmPlan> PlanWarmDeploy(const RecipeCheckout& files, const std::string& recipe,
                                const ReservedPolicy& policy, const std::string& stage_dir) {
  if (Status s = ValidateRecipeName(recipe); !s.ok()) return s;
  auto text = RecipeSources::ScriptText(files);
  if (!text.ok()) return text.status();
  ScriptEngine engine(files.chunk, recipe);
  auto spec = engine.Load(*text);
  if (!spec.ok()) return spec.status();
  if (!files.commit.empty()) spec->version = files.version;
  const std::string& dir = files.files_dir;

  WarmPlan plan;
  plan.recipe = recipe;
  plan.version = spec->version;
  plan.namespace_name = WarmNamespace(recipe, policy.namespace_prefix);
  plan.domain = WarmDomain(plan.namespace_name, policy);
  auto env = ReadDeployEnvironment(dir, *spec, plan.namespace_name, plan.domain);
  if (!env.ok()) return env.status();
  std::map<std::string, std::string> labels = {{"harness.namespace", plan.namespace_name},
                                               {"harness.warm", recipe}};
  auto staged = StageCompose(dir, env->compose, labels, env->env, plan.namespace_name, stage_dir,
                             StageOptions{true});
  if (!staged.ok()) return staged.status();
  if (Status s = CheckDerivedNames(plan.namespace_name, staged->objects); !s.ok()) return s;
  plan.objects = staged->objects;
  return plan;
}

}  // namespace harness
