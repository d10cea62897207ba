// ScriptLimits: what one recipe script may use, set per run (harness --script-memory).
//
// The time a script may take is not here: hooks run under the spec's timeouts, and
// loading under the engine's fixed load budget. A plain value; any thread.
#pragma once

#include <cstddef>

namespace harness {

struct ScriptLimits {
  static constexpr size_t kDefaultMemory = size_t{256} << 20;
  // Bytes the script's lua_State may hold: its tables, strings and functions, garbage not
  // yet collected included. Past it, the hook or load fails (see ScriptEngine).
  size_t memory = kDefaultMemory;
};

}  // namespace harness
