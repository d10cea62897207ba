// Redactor: replaces known secret values with a placeholder in any text that leaves the
// process (logs, proof packets, console, reports).
//
// Values are added once per run (generated secrets); Apply() is then called on every
// string written out. Thread-safe for concurrent Apply() once no more Add() calls happen.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace harness {

class Redactor {
 public:
  // Values shorter than 4 characters are not redacted (they would mangle ordinary text).
  void Add(const std::string& name, const std::string& value);
  std::string Apply(std::string text) const;
  bool empty() const { return values_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> values_;  // value, placeholder
};

}  // namespace harness
