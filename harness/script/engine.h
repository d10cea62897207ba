// ScriptEngine: one recipe script in its own lua_State and sandbox.
//
// Load() compiles the script (chunk name "@recipes/<name>/recipe.lua", so every error
// names file and line), runs it in a fresh allow-list sandbox, and validates the table
// it returns into a RecipeSpec. Call() runs one hook under a deadline: the C++ side owns
// the time limit; an instruction-count hook stops runaway Lua loops, and every API call
// (http, exec, sleep, ...) stops at the deadline too. Memory is capped the same way:
// the state's allocator refuses to grow past ScriptLimits::memory while Lua runs, and a
// script that reached the limit is stopped even if it caught the "not enough memory".
//
// Ownership: the engine owns its lua_State and the hook references in the spec it returned.
// Thread-safety: one thread at a time (one engine per running job).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "base/cancel.h"
#include "base/deadline.h"
#include "base/status.h"
#include "recipe/spec.h"
#include "script/host.h"
#include "script/limits.h"
#include "script/lua_state.h"

namespace harness {

struct RunInfo {
  std::string id;
  std::string recipe;
  std::string version;
  std::string namespace_name;
  std::string domain;
};

// The outcome of one hook call.
struct HookOutcome {
  Status status;            // ok, Failed (error in the hook), Timeout, Cancelled, Infra
  bool truthy = false;      // the hook's first result, for probes
  std::string observation;  // the hook's second result (probes), if a string
  std::string traceback;    // for errors: the Lua traceback
};

class ScriptEngine {
 public:
  // `chunk_path` is how the script is named in messages, e.g. "recipes/web/recipe.lua";
  // `default_name` fills RecipeSpec::name when the script does not set one.
  ScriptEngine(std::string chunk_path, std::string default_name, ScriptLimits limits = {});
  ~ScriptEngine();
  ScriptEngine(const ScriptEngine&) = delete;
  ScriptEngine& operator=(const ScriptEngine&) = delete;

  // Compile errors give "compile error: <file>:<line>: ..."; errors while running the
  // script or validating its table give "<file>:<line>: ...". Both are InvalidArgument.
  Result<RecipeSpec> Load(const std::string& source);

  // Values of the global `run` table visible to hooks.
  void SetRunInfo(const RunInfo& info);

  // Calls `hook` with no arguments. `host` is used only during the call.
  HookOutcome Call(HookRef hook, ScriptHost* host, Deadline deadline);

  // Lines print()ed while the script was loading (before a host existed).
  const std::vector<std::string>& load_output() const { return load_output_; }

  // Used by the Lua-facing functions (script/api/*.cc).
  ScriptHost* host() const { return host_; }
  Deadline deadline() const { return deadline_; }
  // Keeps a line print()ed while loading, up to 1 MiB of them in all.
  void AddLoadOutput(std::string line);
  // Raises the abort error if the deadline passed, the run was cancelled or the script
  // reached its memory limit. Never returns in that case (longjmp-style Lua error).
  void CheckAbort(lua_State* L);
  // Raises the abort error for `why` (Timeout or Cancelled).
  [[noreturn]] void Abort(lua_State* L, Status why);
  static ScriptEngine* From(lua_State* L);

 private:
  Status ReadSpec(lua_State* L, int idx, RecipeSpec* spec);
  // True when the script reached its memory limit since the last call began.
  bool OverMemory(lua_State* L);
  // "<chunk>: the script tried to use more than 256 MiB of memory (...)".
  std::string MemoryMessage() const;
  // Clears what a call that ran out of memory left: the refusal, and its garbage.
  void AfterMemoryFailure(lua_State* L);

  std::string chunk_path_;
  std::string default_name_;
  ScriptLimits limits_;
  LuaState state_;
  int env_ref_ = -2;
  ScriptHost* host_ = nullptr;
  Deadline deadline_ = Deadline::Never();
  Status abort_;
  std::vector<std::string> load_output_;
  size_t load_output_bytes_ = 0;
};

}  // namespace harness
