#include "recipe/deploy_env.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "runtime/compose.h"

namespace harness {

std::map<std::string, std::string> DeployEnvironment(const std::string& recipe_dir, const RecipeSpec& spec,
                                                     const std::string& ns, const std::string& domain) {
  std::map<std::string, std::string> env;
  if (std::ifstream f(recipe_dir + "/.env.sample"); f) {
    std::stringstream ss;
    ss << f.rdbuf();
    env = ParseEnvFile(ss.str());
  }
  for (const auto& [k, v] : spec.env) env[k] = v;
  env["STACK_NAME"] = ns;
  env["DOMAIN"] = domain;
  for (const auto& sec : spec.secrets) {
    std::string upper;
    for (char c : sec.name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env["SECRET_" + upper + "_VERSION"] = "v1";
  }
  return env;
}

}  // namespace harness
