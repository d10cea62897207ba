// What the fuzz targets share: the input as text, split into parts, a recipe folder of
// their own, and a check that stops the fuzzer with a message.
//
// A fuzz target is one process running inputs one after another on one thread; the
// folders made here are created once per process (under the system temp folder, removed
// at exit) and never outside it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace harness::fuzz {

inline std::string Text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// `text` cut at each line that is exactly `marker` (the marker lines dropped), at most
// `max_parts` parts (the last one keeps any further markers).
inline std::vector<std::string> SplitAt(const std::string& text, const std::string& marker,
                                        size_t max_parts) {
  std::vector<std::string> parts;
  const std::string cut = "\n" + marker + "\n";
  size_t start = 0;
  while (parts.size() + 1 < max_parts) {
    size_t at = text.find(cut, start);
    if (at == std::string::npos) break;
    parts.push_back(text.substr(start, at + 1 - start));
    start = at + cut.size();
  }
  parts.push_back(text.substr(start));
  return parts;
}

// The first line of `text` (without '\n') and the rest.
inline std::pair<std::string, std::string> FirstLine(const std::string& text) {
  size_t nl = text.find('\n');
  if (nl == std::string::npos) return {text, ""};
  return {text.substr(0, nl), text.substr(nl + 1)};
}

inline void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// A property of the code under test does not hold: print it and abort, so that libFuzzer
// keeps the input as a crash.
#define FUZZ_CHECK(cond, what)                                                               \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s: %s\n", #cond, std::string(what).c_str()); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

}  // namespace harness::fuzz
