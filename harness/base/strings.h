// Strings: the small text helpers every folder needs, in one place.
//
// Plain functions on values; any thread. "Whitespace" is " \t\r\n\v\f" throughout.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace harness {

// ASCII lower case; other bytes unchanged.
std::string Lower(std::string_view s);
// The parts with `sep` between them: Join({"a", "b"}, ", ") is "a, b".
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
// Without leading and trailing whitespace.
std::string Trim(std::string_view s);
// Without trailing whitespace (the end of a command's output).
std::string TrimRight(std::string_view s);
// The last `max_lines` lines of `text` (a final newline does not start a line).
std::string TailLines(const std::string& text, size_t max_lines);

}  // namespace harness
