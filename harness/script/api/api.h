// The Lua-facing functions of the recipe API, one file per module.
//
// Each Register* function adds its C functions to the table at `idx` (the `api` table
// that lua/harness/sandbox.lua turns into the sandbox's globals). The functions check
// their arguments with luaL_check*, reach the world only through ScriptEngine::host(),
// and raise Lua errors (never exit or print).
//
// Thread-safety: called on the thread of the lua_State they are registered in.
#pragma once

#include <lua.hpp>

namespace harness {

void RegisterHttpApi(lua_State* L, int idx);     // http_request
void RegisterServiceApi(lua_State* L, int idx);  // exec, logs
void RegisterRunApi(lua_State* L, int idx);      // secret, artifact, print, sleep, now, check_abort

// Raises a Lua error "<what> is only available inside hooks" when no hook is running.
class ScriptHost;
ScriptHost* RequireHost(lua_State* L, const char* what);

}  // namespace harness
