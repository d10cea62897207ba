// MemoryLimit: the allocator of a recipe script's lua_State. It counts the bytes the state
// holds and, while the limit is enforced, refuses any allocation that would take it past
// the limit; LuaJIT then raises "not enough memory" where the script asked for it, before
// the memory exists.
//
// LuaState owns one and hands it to lua_newstate as the allocator's userdata, so it lives
// as long as the state. The engine enforces the limit while Lua code runs (Enforcing); its
// own small allocations between calls (pushing a hook, reading the spec) always succeed,
// so an error can never be raised outside a protected call.
//
// Thread-safety: that of its lua_State (one thread at a time).
#pragma once

#include <cstddef>
#include <lua.hpp>

namespace harness {

class MemoryLimit {
 public:
  explicit MemoryLimit(size_t limit) : limit_(limit) {}
  MemoryLimit(const MemoryLimit&) = delete;
  MemoryLimit& operator=(const MemoryLimit&) = delete;

  // A lua_Alloc; `ud` is the MemoryLimit.
  static void* Allocate(void* ud, void* ptr, size_t osize, size_t nsize);
  // The MemoryLimit of `L`, or null when the state was made with another allocator.
  static MemoryLimit* Of(lua_State* L);

  size_t limit() const { return limit_; }
  size_t used() const { return used_; }
  // True once an allocation was refused for the limit (not for the system running out of
  // memory), until ClearRefused().
  bool refused() const { return refused_; }
  void ClearRefused() { refused_ = false; }

  bool enforced() const { return enforced_; }
  void set_enforced(bool on) { enforced_ = on; }

  // Enforces the limit for its lifetime, then restores what was before.
  class Enforcing {
   public:
    explicit Enforcing(MemoryLimit* m) : m_(m), was_(m && m->enforced_) {
      if (m_) m_->enforced_ = true;
    }
    ~Enforcing() {
      if (m_) m_->enforced_ = was_;
    }
    Enforcing(const Enforcing&) = delete;
    Enforcing& operator=(const Enforcing&) = delete;

   private:
    MemoryLimit* m_;
    bool was_;
  };

 private:
  size_t limit_;
  size_t used_ = 0;
  bool enforced_ = false;
  bool refused_ = false;
};

}  // namespace harness
