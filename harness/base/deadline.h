// Deadline: a point on the monotonic clock after which work must stop.
//
// Values; any thread. Every wait and every command in the harness carries one.
#pragma once

#include "base/time.h"

namespace harness {

class Deadline {
 public:
  // A deadline that never passes.
  static Deadline Never() { return Deadline(Clock::time_point::max()); }
  static Deadline In(Duration d) { return Deadline(Clock::now() + d); }
  static Deadline At(Clock::time_point t) { return Deadline(t); }

  bool passed() const { return Clock::now() >= at_; }
  bool never() const { return at_ == Clock::time_point::max(); }
  // Time left, never negative; a large value for Never().
  Duration remaining() const;
  // The earlier of the two.
  Deadline Min(const Deadline& other) const { return at_ < other.at_ ? *this : other; }
  Clock::time_point at() const { return at_; }

 private:
  explicit Deadline(Clock::time_point at) : at_(at) {}
  Clock::time_point at_;
};

}  // namespace harness
