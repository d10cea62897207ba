#include "base/deadline.h"

#include <cstdio>

namespace harness {

Duration Deadline::remaining() const {
  if (never()) return Duration(24LL * 3600 * 1000 * 365);
  auto now = Clock::now();
  if (now >= at_) return Duration(0);
  return std::chrono::duration_cast<Duration>(at_ - now);
}

std::string FormatDuration(Duration d) {
  long long ms = d.count();
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", ms);
  } else if (ms < 60000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", ms / 60000, (ms / 1000) % 60);
  }
  return buf;
}

double Seconds(Duration d) { return static_cast<double>(d.count()) / 1000.0; }

}  // namespace harness
