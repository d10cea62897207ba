// ChooseComposeFiles (recipe/recipe_env.h): the compose files COMPOSE_FILE names, each a
// relative .yml/.yaml path that stays inside the recipe once symlinks are resolved.
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "recipe/recipe_env.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

// "COMPOSE_FILE (.env.sample:7)".
std::string Subject(const std::string& origin) {
  return origin.empty() ? "COMPOSE_FILE" : "COMPOSE_FILE (" + origin + ")";
}

// What is wrong with a compose file, and how to fix it.
struct Problem {
  std::string what, fix;
  bool empty() const { return what.empty(); }
};

// A COMPOSE_FILE part as a clean relative path ("./a/./b.yml" → "a/b.yml").
Problem NormalizeComposeName(std::string part, std::string* clean) {
  while (part.compare(0, 2, "./") == 0) part.erase(0, 2);
  if (part.empty()) return {"which is not a file name", "remove it from COMPOSE_FILE"};
  if (part[0] == '/')
    return {"which is an absolute path", "name files relative to the recipe folder"};
  for (char c : part) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '/') {
      return {std::string("which has the character '") + c + "'",
              "use only letters, digits, '.', '_', '-' and '/'"};
    }
  }
  std::string joined;
  size_t start = 0;
  while (start <= part.size()) {
    size_t slash = std::min(part.find('/', start), part.size());
    std::string comp = part.substr(start, slash - start);
    start = slash + 1;
    if (comp.empty())
      return {"which has an empty path component ('//' or a trailing '/')",
              "write the path without it"};
    if (comp == "..")
      return {"which leaves the recipe folder ('..')", "name a file inside the recipe"};
    if (comp != ".") joined += (joined.empty() ? "" : "/") + comp;
  }
  auto ends_with = [&](const std::string& ext) {
    return joined.size() > ext.size() &&
           joined.compare(joined.size() - ext.size(), ext.size(), ext) == 0;
  };
  if (!ends_with(".yml") && !ends_with(".yaml")) {
    return {"which is not a .yml or .yaml file", "name the compose files only"};
  }
  *clean = joined;
  return {};
}

// Whether `file` is below `dir` (both real paths).
bool IsInside(const fs::path& dir, const fs::path& file) {
  auto d = dir.begin(), f = file.begin();
  for (; d != dir.end(); ++d, ++f) {
    if (f == file.end() || *d != *f) return false;
  }
  return f != file.end();
}

// Whether `rel` is a regular file inside the real recipe folder.
Problem CheckComposeFile(const fs::path& real_dir, const std::string& rel) {
  const std::string fix_missing = "add it to the recipe or remove it from COMPOSE_FILE";
  std::error_code ec;
  fs::path path = real_dir / rel;
  fs::file_status link = fs::symlink_status(path, ec);
  if (ec || !fs::exists(link)) return {"which the recipe does not have", fix_missing};
  fs::path real = fs::canonical(path, ec);
  if (ec && fs::is_symlink(link)) return {"a symlink to a file that does not exist", fix_missing};
  if (ec) return {"which cannot be resolved (" + ec.message() + ")", fix_missing};
  if (!IsInside(real_dir, real)) {
    return {"a symlink that leads outside the recipe folder (to " + real.string() + ")",
            "put the file itself in the recipe"};
  }
  if (!fs::is_regular_file(real, ec))
    return {"which is not a regular file", "name a compose file, not a folder"};
  return {};
}

Result<ComposeChoice> ChooseIn(const std::string& recipe_dir, const std::string& compose_file,
                               const std::string& origin) {
  std::error_code ec;
  fs::path real_dir = fs::canonical(recipe_dir, ec);
  if (ec) return Status::NotFound("recipe folder " + recipe_dir + ": " + ec.message());
  ComposeChoice choice;
  std::set<std::string> seen;
  size_t start = 0;
  while (start <= compose_file.size()) {
    size_t colon = std::min(compose_file.find(':', start), compose_file.size());
    std::string part = compose_file.substr(start, colon - start), clean;
    start = colon + 1;
    if (part.empty()) continue;
    Problem bad = NormalizeComposeName(part, &clean);
    if (bad.empty()) bad = CheckComposeFile(real_dir, clean);
    if (!bad.empty()) {
      return Status::InvalidArgument(Subject(origin) + " names " + part + ", " + bad.what + "; " +
                                     bad.fix);
    }
    if (seen.insert(clean).second) choice.files.push_back(clean);
  }
  if (!choice.files.empty()) {
    choice.reason = origin.empty() ? "COMPOSE_FILE" : "COMPOSE_FILE from " + origin;
    return choice;
  }
  if (Problem bad = CheckComposeFile(real_dir, "compose.yml"); !bad.empty()) {
    return Status::InvalidArgument(
        "COMPOSE_FILE is not set, so the recipe needs the default compose.yml, " + bad.what +
        "; add compose.yml or set COMPOSE_FILE in .env.sample");
  }
  return ComposeChoice{{"compose.yml"}, "the default compose.yml"};
}

}  // namespace

Result<ComposeChoice> ChooseComposeFiles(const std::string& recipe_dir,
                                         const std::string& compose_file,
                                         const std::string& origin) {
  try {
    return ChooseIn(recipe_dir, compose_file, origin);
  } catch (const std::exception& e) {  // fs::filesystem_error, std::bad_alloc
    return Status::InvalidArgument(Subject(origin) + ": " + e.what());
  }
}

}  // namespace harness
