#include "verdict/fingerprint.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <regex>

namespace harness {
namespace {

struct Rule {
  std::regex pattern;
  const char* placeholder;
};

// In order: the longer shapes first, so that a run id is not taken for a timestamp and a
// number, nor an address for four numbers.
const std::vector<Rule>& Rules() {
  static const auto* rules = new std::vector<Rule>{
      // Run ids: <UTC time>-<namespace>.
      {std::regex(R"(\b[0-9]{8}T[0-9]{4,9}Z?-[a-z0-9]+(-[a-z0-9]+)*)"), "<run>"},
      // Timestamps: ISO dates with a time, and bare times of day.
      {std::regex(
           R"([0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)"),
       "<time>"},
      {std::regex(R"(\b[0-9]{1,2}:[0-9]{2}:[0-9]{2}([.,][0-9]+)?\b)"), "<time>"},
      // UUIDs and other hex ids (at least 7 hex digits, a digit and a letter among them).
      {std::regex(
           R"(\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"),
       "<hex>"},
      // IP addresses, with a port when there is one.
      {std::regex(R"(\b[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?\b)"), "<addr>"},
      {std::regex(R"(\[[0-9a-fA-F:]*:[0-9a-fA-F:]*\](:[0-9]{1,5})?)"), "<addr>"},
      {std::regex(R"(\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b)"), "<hex>"},
      // Namespaces: a name ending in -<six letters and digits, a digit among them>.
      {std::regex(R"([a-z][a-z0-9]*(-[a-z0-9]+)*-(?=[a-z]*[0-9])[a-z0-9]{6}(?![a-z0-9]))"), "<ns>"},
      // Durations: 9.0s, 250ms, 1m30s, 3 seconds.
      {std::regex(
           R"(\b[0-9]+(\.[0-9]+)?(ns|us|µs|ms|h|m|s)([0-9]+(\.[0-9]+)?(ns|us|µs|ms|h|m|s))*(?![A-Za-z0-9]))"),
       "<dur>"},
      {std::regex(R"(\b[0-9]+(\.[0-9]+)? ?(milliseconds?|seconds?|secs?|minutes?|mins?|hours?)\b)"),
       "<dur>"},
      // Every other number.
      {std::regex(R"([0-9]+(\.[0-9]+)*)"), "<n>"},
  };
  return *rules;
}

std::string ReplaceAll(std::string text, const std::string& what, const std::string& with) {
  if (what.empty()) return text;
  size_t at = 0;
  while ((at = text.find(what, at)) != std::string::npos) {
    text.replace(at, what.size(), with);
    at += with.size();
  }
  return text;
}

bool LooksLikeRunId(const std::string& name) {
  static const std::regex run_id(R"([0-9]{8}T[0-9]{4,9}Z?-.+)");
  return std::regex_match(name, run_id);
}

}  // namespace

std::string NormalizeError(std::string_view text, const std::vector<std::string>& run_names) {
  std::string s(text);
  // The run's own names, longest first (a run id contains its namespace).
  std::vector<std::string> names = run_names;
  std::sort(names.begin(), names.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& name : names) s = ReplaceAll(s, name, LooksLikeRunId(name) ? "<run>" : "<ns>");
  for (const auto& rule : Rules()) s = std::regex_replace(s, rule.pattern, rule.placeholder);
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() > 300) out.resize(300);
  return out;
}

std::string FingerprintId(std::string_view key) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "fp-%08x", h);
  return buf;
}

Fingerprint MakeFingerprint(std::string_view phase, std::string_view step, std::string_view error,
                            const std::vector<std::string>& run_names) {
  Fingerprint f;
  f.key = std::string(phase) + " | " + std::string(step) + " | " + NormalizeError(error, run_names);
  f.id = FingerprintId(f.key);
  return f;
}

}  // namespace harness
