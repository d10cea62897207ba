// The plan of a warm-canon deploy: the recipe's release staged for its warm namespace
// (services on shared networks under unique names), ready to be checked for collisions
// before anything is created.
#pragma once

#include <string>

#include "base/status.h"
#include "warm/collision.h"

namespace harness {

// Plans `recipe` at `version` (its newest release when empty; the recipe folder as it is
// when it has no releases). Stages into `stage_dir`, which the caller owns.
Result<WarmPlan> PlanWarmDeploy(const std::string& recipes_dir, const std::string& recipe,
                                const std::string& version, const ReservedPolicy& policy,
                                const std::string& stage_dir);

}  // namespace harness
