// Fuzz target: a recipe's `.env.sample` (recipe/recipe_env.h), and the compose files its
// COMPOSE_FILE chooses in a recipe folder of this process's own.
//
// Checks that what is read is consistent: every key is a shell name, the final values are
// the last entry of each key, line numbers are lines of the file, and a chosen compose
// file is a clean relative path that exists inside the recipe.
#include <filesystem>

#include "base/temp_dir.h"
#include "fuzz_support.h"
#include "recipe/recipe_env.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

// recipe/: compose.yml, two overlays (one in a subfolder), a folder named like a compose
// file, a symlink inside and one leading out; outside.yml beside the recipe.
struct Recipe {
  TempDir tmp{"harness-fuzz-env"};
  fs::path dir = fs::path(tmp.path()) / "recipe";

  Recipe() {
    fuzz::WriteText(dir / "compose.yml", "services: {app: {image: busybox}}\n");
    fuzz::WriteText(dir / "compose.postgres.yml", "services: {db: {image: busybox}}\n");
    fuzz::WriteText(dir / "overlays" / "compose.smtp.yml", "services: {app: {}}\n");
    fuzz::WriteText(fs::path(tmp.path()) / "outside.yml", "services: {}\n");
    fs::create_directories(dir / "folder.yml");
    std::error_code ec;
    fs::create_symlink("compose.yml", dir / "same.yml", ec);
    fs::create_symlink("../outside.yml", dir / "out.yml", ec);
    fs::create_symlink("loop.yml", dir / "loop.yml", ec);
  }
};

bool IsShellName(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || c == '_')) return false;
  }
  return true;
}

// "a/b.yml": relative, no empty, "." or ".." component.
bool IsCleanRelative(const std::string& path) {
  if (path.empty() || path[0] == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = std::min(path.find('/', start), path.size());
    std::string part = path.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = slash + 1;
  }
  return true;
}

void CheckChoice(const Recipe& recipe, const EnvFile& env) {
  auto it = env.values.find("COMPOSE_FILE");
  std::string compose_file = it == env.values.end() ? "" : it->second;
  std::string origin =
      it == env.values.end() ? "" : ".env.sample:" + std::to_string(env.line_of.at("COMPOSE_FILE"));
  auto choice = ChooseComposeFiles(recipe.dir.string(), compose_file, origin);
  if (!choice.ok()) return;
  FUZZ_CHECK(!choice->files.empty() && !choice->reason.empty(), compose_file);
  for (const auto& f : choice->files) {
    FUZZ_CHECK(IsCleanRelative(f), f);
    std::error_code ec;
    FUZZ_CHECK(fs::is_regular_file(recipe.dir / f, ec), f);
    fs::path real = fs::canonical(recipe.dir / f, ec);
    FUZZ_CHECK(!ec && real.string().rfind(fs::canonical(recipe.dir).string() + "/", 0) == 0, f);
  }
}

}  // namespace
}  // namespace harness

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace harness;
  static const Recipe recipe;
  static const std::map<std::string, std::string> base = {
      {"STACK_NAME", "pinboard_k3x9a2"}, {"DOMAIN", "pinboard-k3x9a2.test.local"}, {"EMPTY", ""}};
  std::string content = fuzz::Text(data, size);
  auto env = ParseEnvSample(content, ".env.sample", base);
  if (!env.ok()) return 0;
  int lines = 1;
  for (char c : content) lines += c == '\n';
  int previous = 0;
  for (const auto& e : env->entries) {
    FUZZ_CHECK(IsShellName(e.key), e.key);
    FUZZ_CHECK(e.line > previous && e.line <= lines, std::to_string(e.line));
    previous = e.line;
  }
  for (const auto& [key, value] : env->values) {
    FUZZ_CHECK(env->line_of.count(key), key);
    int line = env->line_of.at(key);
    const EnvEntry* last = nullptr;
    for (const auto& e : env->entries) {
      if (e.key == key) last = &e;
    }
    FUZZ_CHECK(last != nullptr && last->line == line && last->value == value, key);
  }
  for (const auto& [name, hint] : env->secret_hints) {
    FUZZ_CHECK(hint.length == 0 || (hint.length >= 8 && hint.length <= 1024), name);
    FUZZ_CHECK(hint.charset.empty() || hint.charset == "alnum" || hint.charset == "hex" ||
                   hint.charset == "special",
               hint.charset);
  }
  CheckChoice(recipe, *env);
  return 0;
}
