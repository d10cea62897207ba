#include "script/lua_state.h"

namespace harness {

LuaState::LuaState() : L_(luaL_newstate()) {
  if (L_ == nullptr) return;
  luaL_openlibs(L_);
  luaJIT_setmode(L_, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
}

LuaState::~LuaState() {
  if (L_ != nullptr) lua_close(L_);
}

}  // namespace harness
