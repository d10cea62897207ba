#include "sched/sweep_plan.h"

#include <map>

#include "ledger/ledger.h"
#include "script/engine.h"
#include "source/recipe_source.h"

namespace harness {

std::vector<PlannedJob> PlanSweep(const SweepPlanInput& input) {
  auto ledger = Ledger::Open(input.state_dir);
  RecipeSources sources(input.recipes_dir, input.state_dir + "/git");
  std::vector<Job> jobs;
  std::map<size_t, std::string> errors;
  for (size_t i = 0; i < input.recipes.size(); ++i) {
    const std::string& name = input.recipes[i];
    Job j;
    j.name = name;
    j.index = i;
    if (auto script = sources.Script(name); script.ok()) {
      ScriptEngine probe(script->second, name);
      auto spec = probe.Load(script->first);
      if (spec.ok()) {
        j.weight = spec->weight;
      } else {
        errors[i] = spec.status().message();
      }
    }
    if (ledger.ok()) {
      if (auto d = (*ledger)->ExpectedDuration(name); d.ok()) j.expected = *d;
    }
    jobs.push_back(j);
  }
  std::vector<PlannedJob> plan;
  for (Job& j : PlanOrder(std::move(jobs))) {
    std::string error = errors.count(j.index) ? errors[j.index] : "";
    plan.push_back({std::move(j), std::move(error)});
  }
  return plan;
}

}  // namespace harness
