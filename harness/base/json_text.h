// JSON text as the harness writes it: nlohmann::json's dump(), except that a string
// holding bytes that are not UTF-8 is written with U+FFFD in their place instead of
// throwing. Such strings come from outside (commands' output, the names and lines of a
// recipe's files, which may hold any byte), and dump() would otherwise throw on them past
// every caller. Every JSON file, line and request body the harness writes goes through
// JsonText.
//
// A pure function; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace harness {

// `indent` as dump()'s: -1 for one line, 2 for files people read.
inline std::string JsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace harness
