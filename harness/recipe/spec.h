// RecipeSpec: what a recipe script declared, after validation and defaults.
//
// Filled by ScriptEngine::Load from the table the script returns; read-only afterwards.
// Hooks (readiness probe, tests) stay in the script's lua_State and are referred to by
// HookRef handles that only that engine can call.
// Values, except the HookRefs, which only the engine that made them may call, on its own
// thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/deadline.h"

namespace harness {

// A Lua function kept alive in the registry of one ScriptEngine.
struct HookRef {
  int ref = -2;  // LUA_NOREF
  bool valid() const { return ref >= 0; }
};

struct SecretSpec {
  std::string name;
  int length = 32;
  std::string charset = "alnum";   // alnum | hex | special
};

struct TestSpec {
  std::string name;
  HookRef fn;
};

// A known transient failure class: a failure in `phase` whose message matches `match`
// (an ECMAScript regular expression) is retried once.
struct TransientClass {
  std::string name;
  std::string phase;   // deploy | converge | test | any
  std::string match;
};

struct RecipeSpec {
  std::string name;                       // the folder name unless the script says otherwise
  std::string version;                    // the release tested, e.g. "1.0.0+2.4"
  // A git-sourced recipe: its files are the repository (or `source_path` in it) at a
  // release tag or commit (see source/); empty for a recipe carried in its folder.
  std::string source_git;
  std::string source_path;
  std::vector<std::string> compose;       // compose files relative to the recipe folder
  // Whether the script named them; otherwise the recipe's COMPOSE_FILE chooses.
  bool compose_given = false;
  bool version_given = false;             // otherwise the version label may say
  bool deploy_timeout_given = false;      // otherwise the timeout label may say
  std::string pull = "missing";           // image pull policy: missing | always | never
  Duration pull_timeout{300000};          // pulling the images, on every node
  std::map<std::string, std::string> env; // extra environment for compose interpolation
  std::vector<SecretSpec> secrets;
  Duration deploy_timeout{120000};        // deploy + converge + readiness
  Duration test_timeout{60000};           // per test
  Duration teardown_timeout{180000};
  Duration settle{3000};                  // how long tasks without healthchecks must stay up
  // The serving check (run/serving_check.cc): whether the test phase opens with it, and
  // the path it asks for.
  bool serving = true;
  std::string serving_path = "/";
  int weight = 1;                         // scheduler slots
  std::vector<TransientClass> transient;  // the recipe's classes, then the defaults
  HookRef ready;                          // may be invalid: convergence alone is readiness
  std::vector<TestSpec> tests;
};

}  // namespace harness
