#include "base/deadline.h"

namespace harness {

Duration Deadline::remaining() const {
  if (never()) return Duration(24LL * 3600 * 1000 * 365);
  auto now = Clock::now();
  if (now >= at_) return Duration(0);
  return std::chrono::duration_cast<Duration>(at_ - now);
}

}  // namespace harness
