#include "recipe/deploy_env.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <set>

#include "base/files.h"

namespace harness {

namespace {

// The keys of the top-level `secrets` of the compose files; a file that does not parse
// is the staging's to report.
std::set<std::string> ComposeSecretKeys(const std::string& recipe_dir, const std::vector<std::string>& files) {
  std::set<std::string> keys;
  for (const auto& file : files) {
    try {
      YAML::Node doc = YAML::LoadFile(recipe_dir + "/" + file);
      YAML::Node secrets = doc.IsMap() ? doc["secrets"] : YAML::Node();
      if (!secrets || !secrets.IsMap()) continue;
      for (auto it : secrets) keys.insert(it.first.as<std::string>());
    } catch (const YAML::Exception&) {
    }
  }
  return keys;
}

}  // namespace

std::string SecretVersionVariable(const std::string& secret) {
  std::string upper;
  for (char c : secret) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "SECRET_" + upper + "_VERSION";
}

Result<DeployEnv> ReadDeployEnvironment(const std::string& recipe_dir, const RecipeSpec& spec, const std::string& ns,
                                        const std::string& domain) {
  DeployEnv out;
  if (auto text = ReadFile(recipe_dir + "/.env.sample"); text.ok()) {
    auto env = ParseEnvSample(*text, ".env.sample");
    if (!env.ok()) return env.status();
    out.env = env->values;
    for (const auto& [k, line] : env->line_of) out.origin[k] = ".env.sample:" + std::to_string(line);
    out.secret_hints = env->secret_hints;
  }
  if (auto text = ReadFile(recipe_dir + "/abra.sh"); text.ok()) {
    // abra sources it with the app's own values in its environment.
    std::map<std::string, std::string> seen = out.env;
    seen["STACK_NAME"] = ns;
    seen["DOMAIN"] = domain;
    auto abra = ReadAbraSh(*text, "abra.sh", seen);
    if (!abra.ok()) return abra.status();
    for (const auto& [k, v] : abra->exports) {
      out.env[k] = v;
      out.origin[k] = "abra.sh:" + std::to_string(abra->line_of[k]);
    }
    out.not_applied = abra->not_applied;
  }
  for (const auto& [k, v] : spec.env) {
    out.env[k] = v;
    out.origin[k] = "recipe.lua";
  }

  if (spec.compose_given) {
    out.compose = spec.compose;
    out.compose_reason = "the script's compose field";
  } else {
    auto it = out.env.find("COMPOSE_FILE");
    std::string value = it == out.env.end() ? "" : it->second;
    auto choice = ChooseComposeFiles(recipe_dir, value, value.empty() ? "" : out.origin["COMPOSE_FILE"]);
    if (!choice.ok()) return choice.status();
    out.compose = choice->files;
    out.compose_reason = choice->reason;
  }

  auto harness_value = [&](const std::string& k, const std::string& v) {
    out.env[k] = v;
    out.origin[k] = "harness";
  };
  harness_value("STACK_NAME", ns);
  harness_value("DOMAIN", domain);
  std::set<std::string> secrets = ComposeSecretKeys(recipe_dir, out.compose);
  for (const auto& sec : spec.secrets) secrets.insert(sec.name);
  for (const auto& name : secrets) {
    std::string var = SecretVersionVariable(name);
    if (auto it = out.env.find(var); it == out.env.end() || it->second.empty()) harness_value(var, "v1");
  }
  return out;
}

}  // namespace harness
