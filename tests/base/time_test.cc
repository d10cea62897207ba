#include "base/time.h"

#include <catch2/catch.hpp>

namespace harness {
namespace {

std::chrono::system_clock::time_point At(long long ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

TEST_CASE("IsoTime and UtcStamp read in UTC", "[time]") {
  CHECK(IsoTime(At(1795670715123)) == "2026-11-26T05:25:15.123Z");
  CHECK(IsoTime(At(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(UtcStamp(At(1795670715123)) == "20261126T052515");
}

TEST_CASE("FormatDuration picks a unit by size", "[time]") {
  CHECK(FormatDuration(Duration(350)) == "350ms");
  CHECK(FormatDuration(Duration(1250)) == "1.2s");
  CHECK(FormatDuration(Duration(125000)) == "2m05s");
  CHECK(Seconds(Duration(1500)) == Approx(1.5));
}

}  // namespace
}  // namespace harness
