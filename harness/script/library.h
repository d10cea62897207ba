// The embedded Lua library (the files under lua/, compiled into the binary).
//
// Read-only data, built into the binary; any thread.
#pragma once

#include <vector>

namespace harness {

struct EmbeddedModule {
  const char* name;    // "harness.recipe"
  const char* path;    // "lua/harness/recipe.lua", the chunk name used in error messages
  const char* source;
};

// Defined in the generated lua_library.cc.
const std::vector<EmbeddedModule>& EmbeddedLuaModules();

}  // namespace harness
