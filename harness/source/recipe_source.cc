#include "source/recipe_source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "exec/local_executor.h"
#include "recipe/naming.h"
#include "recipe/releases.h"
#include "script/engine.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr Duration kFetch{300000};

std::string Chunk(const std::string& recipe) { return "recipes/" + recipe + "/recipe.lua"; }

}  // namespace

RecipeSources::RecipeSources(std::string recipes_dir, std::string cache_dir)
    : recipes_dir_(std::move(recipes_dir)),
      local_(std::make_unique<LocalExecutor>()),
      git_(std::make_unique<GitCache>(std::move(cache_dir), local_.get())) {}

RecipeSources::~RecipeSources() = default;

Result<std::optional<GitOrigin>> RecipeSources::OriginOf(const std::string& recipe) const {
  if (Status s = ValidateRecipeName(recipe); !s.ok()) return s;
  std::string path = recipes_dir_ + "/" + recipe + "/recipe.lua";
  std::ifstream f(path);
  // A folder of release folders only (releases/<version>/recipe.lua) is carried in its folder.
  if (!f && fs::is_directory(recipes_dir_ + "/" + recipe + "/releases")) return std::optional<GitOrigin>();
  if (!f) return Status::NotFound("no recipe script at " + path);
  std::stringstream src;
  src << f.rdbuf();
  ScriptEngine probe(Chunk(recipe), recipe);
  auto spec = probe.Load(src.str());
  if (!spec.ok()) return spec.status();
  if (spec->source_git.empty()) return std::optional<GitOrigin>();
  GitOrigin origin{spec->source_git, spec->source_path};
  // A relative path is the recipe folder's.
  if (origin.url[0] == '.') origin.url = fs::absolute(recipes_dir_ + "/" + recipe + "/" + origin.url).lexically_normal().string();
  return std::optional<GitOrigin>(origin);
}

Result<std::vector<std::string>> RecipeSources::Releases(const std::string& recipe, bool fetch,
                                                         const CancelToken& cancel) {
  auto origin = OriginOf(recipe);
  if (!origin.ok()) return origin.status();
  if (!origin->has_value()) return ListReleases(recipes_dir_, recipe);
  const GitOrigin& o = **origin;
  if (fetch || !fs::exists(git_->MirrorDir(o) + "/HEAD")) {
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
