#include "source/recipe_source.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "base/files.h"
#include "exec/local_executor.h"
#include "recipe/naming.h"
#include "recipe/releases.h"
#include "script/engine.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr Duration kFetch{300000};

std::string Chunk(const std::string& recipe) { return "recipes/" + recipe + "/recipe.lua"; }

// A folder holding a recipe's own files, with or without a script of ours.
bool HoldsRecipeFiles(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "compose.yml", ec);
}

// `path` made absolute against the working folder, normalised; as given when there is
// no working folder (it was removed).
std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec);
  return (ec ? fs::path(path) : abs).lexically_normal().string();
}

}  // namespace

Result<std::vector<CatalogueEntry>> ReadCatalogue(const std::string& recipes_dir) {
  const std::string path = recipes_dir + "/catalogue.yml";
  std::vector<CatalogueEntry> out;
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (doc.IsNull()) return out;
  YAML::Node recipes = doc.IsMap() ? doc["recipes"] : YAML::Node();
  if (!recipes || !recipes.IsMap()) {
    return Status::InvalidArgument(path + ": expected `recipes:` mapping each recipe's name to {git, path, script}");
  }
  const std::set<std::string> fields = {"git", "path", "script"};
  try {
    for (auto it : recipes) {
      CatalogueEntry e;
      e.name = it.first.as<std::string>();
      std::string where = path + ": recipe '" + e.name + "'";
      if (Status s = ValidateRecipeName(e.name); !s.ok()) return Status::InvalidArgument(where + ": " + s.message());
      if (!it.second.IsMap()) return Status::InvalidArgument(where + ": expected {git, path, script}");
      for (auto f : it.second) {
        std::string key = f.first.as<std::string>();
        if (!fields.count(key)) return Status::InvalidArgument(where + ": unknown field '" + key + "' (git, path, script)");
        if (!f.second.IsScalar()) return Status::InvalidArgument(where + ": '" + key + "' must be a string");
      }
      e.git = it.second["git"] ? it.second["git"].as<std::string>() : "";
      e.path = it.second["path"] ? it.second["path"].as<std::string>() : "";
      e.script = it.second["script"] ? it.second["script"].as<std::string>() : "";
      bool control = std::any_of(e.git.begin(), e.git.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' '; });
      if (e.git.empty() || e.git[0] == '-' || control || e.git.find("::") != std::string::npos) {
        return Status::InvalidArgument(where + ": 'git' must be a repository address");
      }
      auto bad_relative = [](const std::string& p) {
        return !p.empty() && (p[0] == '/' || p[0] == '-' || p.find("..") != std::string::npos ||
                              p.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") !=
                                  std::string::npos);
      };
      if (bad_relative(e.path)) return Status::InvalidArgument(where + ": 'path' must be a folder inside the repository");
      if (bad_relative(e.script)) {
        return Status::InvalidArgument(where + ": 'script' must be a file inside " + recipes_dir);
      }
      while (!e.path.empty() && e.path.back() == '/') e.path.pop_back();
      out.push_back(e);
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  return out;
}

Result<std::optional<CatalogueEntry>> RecipeSources::CatalogueEntryOf(const std::string& recipe) const {
  auto entries = ReadCatalogue(recipes_dir_);
  if (!entries.ok()) return entries.status();
  for (auto& e : *entries) {
    if (e.name == recipe) return std::optional<CatalogueEntry>(e);
  }
  return std::optional<CatalogueEntry>();
}

Result<std::vector<std::string>> RecipeSources::List() const {
  std::set<std::string> names;
  auto listed = ListFolder(recipes_dir_);
  // No folder: the catalogue alone (if any) names the recipes.
  if (!listed.ok() && listed.status().code() != Status::Code::kNotFound) return listed.status();
  for (const std::string& name : listed.value_or({})) {
    const fs::path d = fs::path(recipes_dir_) / name;
    std::error_code ec;  // what cannot be looked at is not a recipe folder
    if (!fs::is_directory(d, ec)) continue;
    if (fs::exists(d / "recipe.lua", ec) || HoldsRecipeFiles(d) || fs::is_directory(d / "releases", ec)) {
      names.insert(name);
    }
  }
  auto entries = ReadCatalogue(recipes_dir_);
  if (!entries.ok()) return entries.status();
  for (const auto& e : *entries) {
    if (names.count(e.name)) {
      return Status::InvalidArgument(recipes_dir_ + "/catalogue.yml: recipe '" + e.name +
                                     "' is also a folder of " + recipes_dir_ + ": keep one of the two");
    }
    names.insert(e.name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

bool RecipeSources::Exists(const std::string& recipe) const {
  if (!ValidateRecipeName(recipe).ok()) return false;
  auto names = List();
  return names.ok() && std::find(names->begin(), names->end(), recipe) != names->end();
}

Result<std::string> RecipeSources::ScriptText(const RecipeCheckout& checkout) {
  if (!checkout.script.empty()) {
    if (auto text = ReadFile(checkout.script); text.ok()) return text;
  }
  std::error_code ec;
  if (checkout.scriptless || (!checkout.files_dir.empty() && HoldsRecipeFiles(checkout.files_dir))) {
    if (checkout.script.empty() || !fs::exists(checkout.script, ec)) return std::string(kDefaultScript);
  }
  return Status::NotFound("no recipe script at " + checkout.script);
}

Result<std::pair<std::string, std::string>> RecipeSources::Script(const std::string& recipe) const {
  if (Status s = ValidateRecipeName(recipe); !s.ok()) return s;
  auto entry = CatalogueEntryOf(recipe);
  if (!entry.ok()) return entry.status();
  RecipeCheckout c;
  c.chunk = Chunk(recipe);
  if (entry->has_value()) {
    c.scriptless = (*entry)->script.empty();
    if (!c.scriptless) {
      c.script = recipes_dir_ + "/" + (*entry)->script;
      c.chunk = "recipes/" + (*entry)->script;
    }
  } else {
    c.script = recipes_dir_ + "/" + recipe + "/recipe.lua";
    c.files_dir = recipes_dir_ + "/" + recipe;
  }
  auto text = ScriptText(c);
  if (!text.ok()) return text.status();
  return std::make_pair(*text, c.chunk);
}

RecipeSources::RecipeSources(std::string recipes_dir, std::string cache_dir)
    : recipes_dir_(std::move(recipes_dir)),
      local_(std::make_unique<LocalExecutor>()),
      git_(std::make_unique<GitCache>(std::move(cache_dir), local_.get())) {}

RecipeSources::~RecipeSources() = default;

Result<std::optional<GitOrigin>> RecipeSources::OriginOf(const std::string& recipe) const {
  if (Status s = ValidateRecipeName(recipe); !s.ok()) return s;
  auto entry = CatalogueEntryOf(recipe);
  if (!entry.ok()) return entry.status();
  if (entry->has_value()) {
    GitOrigin origin{(*entry)->git, (*entry)->path};
    if (origin.url[0] == '.') origin.url = AbsolutePath(recipes_dir_ + "/" + origin.url);
    return std::optional<GitOrigin>(origin);
  }
  std::string path = recipes_dir_ + "/" + recipe + "/recipe.lua";
  auto src = ReadFile(path);
  // A folder of release folders only (releases/<version>/recipe.lua), or of a recipe's own
  // files without a script, is carried in its folder.
  std::error_code ec;
  if (!src.ok() && (fs::is_directory(recipes_dir_ + "/" + recipe + "/releases", ec) || HoldsRecipeFiles(recipes_dir_ + "/" + recipe))) {
    return std::optional<GitOrigin>();
  }
  if (!src.ok()) return Status::NotFound("no recipe named '" + recipe + "' in " + recipes_dir_ + " (no " + path + ")");
  ScriptEngine probe(Chunk(recipe), recipe);
  auto spec = probe.Load(*src);
  if (!spec.ok()) return spec.status();
  if (spec->source_git.empty()) return std::optional<GitOrigin>();
  GitOrigin origin{spec->source_git, spec->source_path};
  // A relative path is the recipe folder's.
  if (origin.url[0] == '.') origin.url = AbsolutePath(recipes_dir_ + "/" + recipe + "/" + origin.url);
  return std::optional<GitOrigin>(origin);
}

Result<std::vector<std::string>> RecipeSources::Releases(const std::string& recipe, bool fetch,
                                                         const CancelToken& cancel) {
  auto origin = OriginOf(recipe);
  if (!origin.ok()) return origin.status();
  if (!origin->has_value()) return ListReleases(recipes_dir_, recipe);
  const GitOrigin& o = **origin;
  std::error_code ec;  // a mirror that cannot be looked at is fetched (and that says why)
  if (fetch || !fs::exists(git_->MirrorDir(o) + "/HEAD", ec)) {
    if (Status s = git_->Fetch(o, Deadline::In(kFetch), cancel); !s.ok()) return s.Prefixed(recipe);
  }
  return git_->Releases(o);
}

Result<RecipeCheckout> RecipeSources::Checkout(const std::string& recipe, const std::string& version,
                                               const std::string& commit, const CancelToken& cancel) {
  auto origin = OriginOf(recipe);
  // A script that does not load is taken for a folder recipe: the run reports its error
  // where every script error is reported, in prepare, with file and line.
  if (!origin.ok() && origin.status().code() == Status::Code::kInvalidArgument) origin = std::optional<GitOrigin>();
  if (!origin.ok()) return origin.status();
  RecipeCheckout out;
  if (!origin->has_value()) {
    if (!commit.empty()) {
      return Status::InvalidArgument("recipe '" + recipe + "' is carried in its folder, not in git: it has no commit " + commit);
    }
    auto dir = RecipeDir(recipes_dir_, recipe, version);
    if (!dir.ok()) return dir.status();
    out.files_dir = *dir;
    out.script = *dir + "/recipe.lua";
    out.chunk = "recipes/" + recipe + (version.empty() ? "" : "/releases/" + version) + "/recipe.lua";
    out.version = version;
    return out;
  }
  const GitOrigin& o = **origin;
  out.origin = o.url;
  out.script = recipes_dir_ + "/" + recipe + "/recipe.lua";
  out.chunk = Chunk(recipe);
  auto entry = CatalogueEntryOf(recipe);
  if (!entry.ok()) return entry.status();
  if (entry->has_value()) {
    out.scriptless = (*entry)->script.empty();
    out.script = out.scriptless ? "" : recipes_dir_ + "/" + (*entry)->script;
    if (!out.scriptless) out.chunk = "recipes/" + (*entry)->script;
  }
  if (!version.empty()) {
    if (Status s = ValidateVersion(version); !s.ok()) return s;
  }
  if (Status s = git_->Fetch(o, Deadline::In(kFetch), cancel); !s.ok()) return s.Prefixed(recipe);
  if (!commit.empty()) {
    if (Status s = git_->EnsureCommit(o, commit, Deadline::In(kFetch), cancel); !s.ok()) return s;
    out.commit = commit;
    out.version = "head-" + commit.substr(0, 12);
  } else {
    std::string ref = version;
    if (ref.empty()) {
      auto releases = git_->Releases(o);
      if (!releases.ok()) return releases.status();
      if (!releases->empty()) ref = releases->back();
    }
    if (ref.empty()) {
      auto head = git_->Resolve(o, "HEAD");
      if (!head.ok()) return Status::NotFound(o.url + " has neither release tags nor a default branch");
      out.commit = *head;
      out.version = "head-" + head->substr(0, 12);
    } else {
      auto sha = git_->Resolve(o, "refs/tags/" + ref);
      if (!sha.ok()) {
        auto known = git_->Releases(o);
        std::string list;
        if (known.ok()) {
          for (const auto& v : *known) list += (list.empty() ? "" : ", ") + v;
        }
        return Status::NotFound("recipe '" + recipe + "' has no release " + ref + " in " + o.url + " (releases: " +
                                (list.empty() ? "none" : list) + ")");
      }
      out.commit = *sha;
      out.version = ref;
    }
  }
  out.copy = std::make_shared<TempDir>("recipe-" + recipe);
  if (out.copy->path().empty()) return Status::Infra("cannot create a folder for the recipe's files");
  if (Status s = git_->Export(o, out.commit, out.copy->path()); !s.ok()) return s;
  out.files_dir = out.copy->path();
  return out;
}

}  // namespace harness
