// ScopeGuard: runs a callable when the scope ends, unless dismissed.
//
// For small local clean-ups. Things that must be undone at the level of a run (deploys)
// have their own owner objects (see recipe/teardown_guard.h).
//
// Thread-safety: a guard belongs to the scope (and thread) that made it.
#pragma once

#include <utility>

namespace harness {

template <typename F>
class ScopeGuard {
 public:
  explicit ScopeGuard(F f) : f_(std::move(f)) {}
  ~ScopeGuard() {
    if (active_) f_();
  }
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  void Dismiss() { active_ = false; }

 private:
  F f_;
  bool active_ = true;
};

}  // namespace harness
