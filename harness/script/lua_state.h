// LuaState: owns one lua_State (LuaJIT) and its MemoryLimit. StackGuard: restores the Lua
// stack's top.
//
// One LuaState per running job; never shared between threads. The JIT compiler is turned
// off so that the instruction-count hook that enforces deadlines fires in every loop
// (compiled LuaJIT loops do not check hooks); recipe code is I/O-bound, so this costs
// nothing that matters.
//
// The state allocates through its MemoryLimit, which caps it at `memory_limit` bytes while
// the limit is enforced. A LuaJIT built without GC64 refuses custom allocators on 64-bit
// targets; the state then uses LuaJIT's own allocator and `memory()` is null, and the
// engine can only watch the collector's count instead.
#pragma once

#include <cstddef>
#include <lua.hpp>

#include "script/memory_limit.h"

namespace harness {

class LuaState {
 public:
  explicit LuaState(size_t memory_limit);
  ~LuaState();
  LuaState(const LuaState&) = delete;
  LuaState& operator=(const LuaState&) = delete;

  lua_State* get() const { return L_; }
  // False when the state could not be created (out of memory).
  bool valid() const { return L_ != nullptr; }
  // The allocator that caps the state; null when LuaJIT refused it (see above).
  MemoryLimit* memory() { return capped_ ? &memory_ : nullptr; }

 private:
  MemoryLimit memory_;  // declared before L_: it must outlive the state
  bool capped_ = true;
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
