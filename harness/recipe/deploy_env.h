// The environment a recipe's compose files are interpolated with, and the files chosen,
// read the way abra reads a recipe (docs/recipe-format.md), in this order, later layers
// winning:
//   1. `.env.sample` (an env file: comments, quotes, `export`, `$VAR` of earlier keys);
//   2. `abra.sh`'s `export NAME=VALUE` lines of literal values (never executed);
//   3. the script's `env`;
//   4. the harness's own: STACK_NAME, DOMAIN, and SECRET_<NAME>_VERSION ("v1" unless set)
//      for every secret the compose files or the script declare.
// Without a `compose` field in the script, COMPOSE_FILE (after layers 1–3) chooses the
// compose files; unset, it is compose.yml.
//
// Reads the recipe folder (never writes); returns values. Any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "recipe/abra_sh.h"
#include "recipe/recipe_env.h"
#include "recipe/spec.h"

namespace harness {

struct DeployEnv {
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> origin;      // key → ".env.sample:3", "abra.sh:5", "recipe.lua", "harness"
  std::vector<std::string> compose;               // the compose files, relative to the recipe folder
  std::string compose_reason;                     // why these
  std::map<std::string, SecretHint> secret_hints; // by secret name ("db_password")
  std::vector<AbraShLine> not_applied;            // abra.sh lines left alone
};

// InvalidArgument for a malformed .env.sample line or a COMPOSE_FILE naming a file the
// recipe does not have (or one outside it).
Result<DeployEnv> ReadDeployEnvironment(const std::string& recipe_dir, const RecipeSpec& spec, const std::string& ns,
                                        const std::string& domain);

// "SECRET_DB_PASSWORD_VERSION" for "db_password".
std::string SecretVersionVariable(const std::string& secret);

}  // namespace harness
