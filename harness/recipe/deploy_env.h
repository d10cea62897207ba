// The environment `docker stack deploy` interpolates a recipe's compose files with: its
// .env.sample, then the script's `env`, then the namespace's own values (STACK_NAME,
// DOMAIN and SECRET_<NAME>_VERSION for each declared secret).
#pragma once

#include <map>
#include <string>

#include "recipe/spec.h"

namespace harness {

std::map<std::string, std::string> DeployEnvironment(const std::string& recipe_dir, const RecipeSpec& spec,
                                                     const std::string& ns, const std::string& domain);

}  // namespace harness
