// Fuzz target: an untrusted head's compose files, as the compose policy reads and judges
// them (recipe/compose_tree.h, recipe/compose_policy.h, recipe/host_path.h).
//
// Input: up to three compose files, separated by lines "#==": compose.yml,
// compose.overlay.yml and overlays/compose.extra.yml of a recipe folder of this process's
// own (beside config files, a symbolic link leading out of it and one looping).
// Checks that the resolved tree stays within its limits, that every finding names a file
// and a known rule, is described on one line without control characters and is written
// as JSON, and that an operator's allowances only take findings away: what a policy
// refuses is what the default refuses minus what it allows, plus the images of registries
// it does not list.
#include <filesystem>

#include "base/json_text.h"
#include "base/temp_dir.h"
#include "fuzz_support.h"
#include "recipe/compose_policy.h"
#include "recipe/compose_tree.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kFiles = {"compose.yml", "compose.overlay.yml",
                                         "overlays/compose.extra.yml"};

struct Recipe {
  TempDir tmp{"harness-fuzz-policy"};
  fs::path dir = fs::path(tmp.path()) / "pinboard";

  Recipe() {
    fuzz::WriteText(dir / "entrypoint.sh", "#!/bin/sh\nexec httpd -f -p 8080\n");
    fuzz::WriteText(dir / "app.conf.tmpl", "title = {{ env \"PINBOARD_TITLE\" }}\n");
    fuzz::WriteText(dir / "common.yml", "services:\n  base:\n    image: busybox\n");
    fuzz::WriteText(dir / ".env", "A=1\n");
    fuzz::WriteText(fs::path(tmp.path()) / "outside.txt", "outside the recipe\n");
    std::error_code ec;
    fs::create_symlink("../outside.txt", dir / "link-out", ec);
    fs::create_symlink("loop", dir / "loop", ec);
    fs::create_symlink("entrypoint.sh", dir / "link-in", ec);
  }
};

const std::map<std::string, std::string>& Env() {
  static const std::map<std::string, std::string> env = {{"STACK_NAME", "pinboard_k3x9a2"},
                                                         {"DOMAIN", "pinboard-k3x9a2.test.local"},
                                                         {"SECRET_DB_PASSWORD_VERSION", "v1"},
                                                         {"ENTRYPOINT_VERSION", "v2"},
                                                         {"SOCKET", "/var/run/docker.sock"},
                                                         {"UP", "../.."},
                                                         {"EMPTY", ""}};
  return env;
}

// Values (sequence items and mapping values) in the tree, and its depth.
void Measure(const YAML::Node& n, int depth, size_t* values, int* max_depth) {
  *max_depth = std::max(*max_depth, depth);
  if (n.IsSequence()) {
    for (const auto& item : n) {
      ++*values;
      Measure(item, depth + 1, values, max_depth);
    }
  } else if (n.IsMap()) {
    for (const auto& kv : n) {
      ++*values;
      Measure(kv.second, depth + 1, values, max_depth);
    }
  }
}

void CheckTree(const std::string& text) {
  auto tree = ParseComposeTree(text, "compose.yml", Env());
  if (!tree.ok()) {
    FUZZ_CHECK(tree.status().message().rfind("compose.yml", 0) == 0, tree.status().message());
    return;
  }
  FUZZ_CHECK(tree->IsMap(), "a compose tree is a mapping");
  size_t values = 0;
  int depth = 0;
  Measure(*tree, 0, &values, &depth);
  FUZZ_CHECK(values <= kComposeTreeMaxNodes, std::to_string(values));
  FUZZ_CHECK(depth <= kComposeTreeMaxDepth + 1, std::to_string(depth));
}

void CheckFinding(const PolicyFinding& f) {
  const auto& rules = PolicyRuleIds();
  FUZZ_CHECK(std::find(rules.begin(), rules.end(), f.rule) != rules.end(), f.rule);
  FUZZ_CHECK(!f.file.empty(), f.Describe());
  std::string line = f.Describe();
  for (unsigned char c : line) FUZZ_CHECK(c >= 0x20 && c != 0x7f, line);
  // As the prepare packet records it: JSON text that reads back (names may hold any byte).
  nlohmann::json j = {{"file", f.file},     {"service", f.service}, {"key", f.key},
                      {"detail", f.detail}, {"rule", f.rule},       {"described", line}};
  FUZZ_CHECK(nlohmann::json::accept(JsonText(j)), line);
}

}  // namespace
}  // namespace harness

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace harness;
  static const Recipe recipe;
  std::vector<std::string> parts = fuzz::SplitAt(fuzz::Text(data, size), "#==", kFiles.size());
  std::vector<std::string> files;
  for (size_t i = 0; i < kFiles.size(); ++i) {
    std::error_code ec;
    if (i >= parts.size()) {
      fs::remove(recipe.dir / kFiles[i], ec);
      continue;
    }
    fuzz::WriteText(recipe.dir / kFiles[i], parts[i]);
    files.push_back(kFiles[i]);
  }
  CheckTree(parts[0]);

  auto refused = CheckComposePolicy(recipe.dir.string(), files, Env(), "pinboard", ComposePolicy{});
  ComposePolicy partial;
  partial.allowed_registries = {"docker.io", "127.0.0.1:5000"};
  partial.allow["pinboard"] = {"host-bind", "app:cap-add", "db:low-host-port"};
  auto some = CheckComposePolicy(recipe.dir.string(), files, Env(), "pinboard", partial);
  FUZZ_CHECK(refused.ok() == some.ok(),
             refused.status().ToString() + " / " + some.status().ToString());
  if (!refused.ok()) return 0;
  for (const auto& f : *refused) CheckFinding(f);
  std::vector<PolicyFinding> expected, got;
  for (const auto& f : *refused) {
    if (!partial.Allows("pinboard", f)) expected.push_back(f);
  }
  for (const auto& f : *some) {
    CheckFinding(f);
    if (f.rule != "registry") got.push_back(f);
  }
  FUZZ_CHECK(expected == got, std::to_string(expected.size()) + " findings expected, " +
                                  std::to_string(got.size()) + " found");
  return 0;
}
