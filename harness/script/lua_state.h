// LuaState: owns one lua_State (LuaJIT). StackGuard: restores the Lua stack's top.
//
// One LuaState per running job; never shared between threads. The JIT compiler is turned
// off so that the instruction-count hook that enforces deadlines fires in every loop
// (compiled LuaJIT loops do not check hooks); recipe code is I/O-bound, so this costs
// nothing that matters.
#pragma once

#include <lua.hpp>

namespace harness {

class LuaState {
 public:
  LuaState();
  ~LuaState();
  LuaState(const LuaState&) = delete;
  LuaState& operator=(const LuaState&) = delete;

  lua_State* get() const { return L_; }
  // False when the state could not be created (out of memory).
  bool valid() const { return L_ != nullptr; }

 private:
  lua_State* L_;
};

// Records the stack top on construction and restores it on destruction, so that an early
// return cannot leave values behind. `Leaked()` tells whether the top moved.
class StackGuard {
 public:
  explicit StackGuard(lua_State* L) : L_(L), top_(lua_gettop(L)) {}
  ~StackGuard() { lua_settop(L_, top_); }
  StackGuard(const StackGuard&) = delete;
  StackGuard& operator=(const StackGuard&) = delete;
  int top() const { return top_; }
  bool Leaked() const { return lua_gettop(L_) != top_; }

 private:
  lua_State* L_;
  int top_;
};

}  // namespace harness
