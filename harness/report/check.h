// The text form of a `harness check` report (schema recipe-harness/check/v1): what a run
// of the recipe would use and create, section by section, then its problems with fixes.
//
// A pure function of the report (no clock, no I/O); any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace harness {

std::string CheckText(const nlohmann::json& report);

}  // namespace harness
