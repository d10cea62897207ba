// The plan of a warm-canon deploy: the recipe's release staged for its warm namespace
// (services on shared networks under unique names), ready to be checked for collisions
// before anything is created.
//
// PlanWarmDeploy() writes only into the staging folder it is given, which the caller owns.
// Thread-safety: any thread, one plan per staging folder.
#pragma once

#include <string>

#include "base/status.h"
#include "source/recipe_source.h"
#include "warm/collision.h"

namespace harness {

// Plans `recipe` from the files of one of its releases (RecipeSources::Checkout). Stages
// into `stage_dir`, which the caller owns.
Result<WarmPlan> PlanWarmDeploy(const RecipeCheckout& files, const std::string& recipe,
                                const ReservedPolicy& policy, const std::string& stage_dir);

}  // namespace harness
