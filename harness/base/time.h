// Time: the clocks and duration type the harness uses, and how times read in text.
//
// Clock (monotonic) measures elapsed time and carries deadlines; the wall clock only
// appears in records and names (IsoTime, UtcStamp). Plain functions on values; any thread.
#pragma once

#include <chrono>
#include <string>

namespace harness {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::milliseconds;

// "1.2s", "350ms", "2m05s": for messages.
std::string FormatDuration(Duration d);
double Seconds(Duration d);

// UTC ISO-8601 with milliseconds: "2026-11-26T05:25:15.123Z".
std::string IsoTime(std::chrono::system_clock::time_point t);
// "20261126T052515": a compact UTC time stamp for run ids and folder names.
std::string UtcStamp(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());

}  // namespace harness
