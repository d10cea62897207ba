// Releases of a recipe: `recipes/<name>/releases/<version>/`, each a complete recipe folder
// (recipe.lua and its compose files) as a release tag checks it out. The recipe folder
// itself is the recipe as it is now, not a release.
//
// Versions follow the recipe scheme `<recipe semver>+<upstream version>` ("1.2.0+3.6.0");
// they are ordered by the recipe semver, then by the upstream version.
//
// Pure functions over names and folders (read only); any thread.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace harness {

// Lower-case letters, digits, '.', '+', '-' and '_', starting with a digit, at most 64.
Status ValidateVersion(const std::string& version);

// <0, 0 or >0 as `a` is older than, the same as, or newer than `b`. Numeric dot-separated
// parts compare as numbers; a pre-release ("1.0.0-rc1") is older than its release.
int CompareVersions(const std::string& a, const std::string& b);

// The major version (the first number of the recipe semver), -1 when there is none;
// INT_MAX for a number beyond an int.
int MajorVersion(const std::string& version);

// The releases of `recipe` under `recipes_dir`, oldest first; empty when it has none.
Result<std::vector<std::string>> ListReleases(const std::string& recipes_dir, const std::string& recipe);

// The folder of a recipe (`version` empty) or of one of its releases; NotFound naming the
// releases there are when it has no such release.
Result<std::string> RecipeDir(const std::string& recipes_dir, const std::string& recipe, const std::string& version);

// "web@1.2.0+2.4" → {"web", "1.2.0+2.4"}; "web" → {"web", ""}.
std::pair<std::string, std::string> SplitRecipeVersion(const std::string& text);

}  // namespace harness
