// TeardownGuard: owns the teardown of one namespace from the moment the first object of
// it may exist. Run() tears down and verifies; if a run leaves its scope without calling
// Run() (an early return, an exception), the destructor does it.
//
// The teardown callable reports its own outcome (proof packet, console), since the
// destructor cannot return it. The guard owns only the teardown callable; whatever the
// callable reaches (the run's runtime, ledger, locks) must outlive it, which is why
// ColdRun declares it last. One thread: the run's.
#pragma once

#include <functional>

#include "base/status.h"

namespace harness {

class TeardownGuard {
 public:
  explicit TeardownGuard(std::function<Status()> teardown) : teardown_(std::move(teardown)) {}
  ~TeardownGuard() {
    // No one is left to return the status to: the callable records and says its own
    // outcome (ColdRun::TeardownNow writes the teardown packet and the console line).
    if (armed_ && !done_) Run().IgnoreError();
  }
  TeardownGuard(const TeardownGuard&) = delete;
  TeardownGuard& operator=(const TeardownGuard&) = delete;

  // Called before the first object of the namespace is created.
  void Arm() { armed_ = true; }
  bool armed() const { return armed_; }
  // Tears down once; later calls return the first result.
  Status Run() {
    if (!done_) {
      done_ = true;
      result_ = armed_ ? teardown_() : Status::Ok();
    }
    return result_;
  }

 private:
  std::function<Status()> teardown_;
  bool armed_ = false;
  bool done_ = false;
  Status result_;
};

}  // namespace harness
