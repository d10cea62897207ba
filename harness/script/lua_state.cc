#include "script/lua_state.h"

#include <cstdio>

namespace harness {
namespace {

// As luaL_newstate's: an error outside any protected call is a bug of the engine.
int Panic(lua_State* L) {
  const char* msg = lua_tostring(L, -1);
  std::fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n", msg ? msg : "?");
  return 0;
}

}  // namespace

LuaState::LuaState(size_t memory_limit)
    : memory_(memory_limit), L_(lua_newstate(&MemoryLimit::Allocate, &memory_)) {
  if (L_ == nullptr) {
    capped_ = false;
    L_ = luaL_newstate();
  }
  if (L_ == nullptr) return;
  lua_atpanic(L_, Panic);
  luaL_openlibs(L_);
  luaJIT_setmode(L_, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
}

LuaState::~LuaState() {
  if (L_ != nullptr) lua_close(L_);
}

}  // namespace harness
