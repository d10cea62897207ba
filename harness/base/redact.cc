#include "base/redact.h"

#include <algorithm>

namespace harness {

void Redactor::Add(const std::string& name, const std::string& value) {
  if (value.size() < 4) return;
  values_.emplace_back(value, "[redacted:" + name + "]");
  // Longest first, so a value that contains another is replaced whole.
  std::sort(values_.begin(), values_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::string Redactor::Apply(std::string text) const {
  for (const auto& [value, placeholder] : values_) {
    size_t at = 0;
    while ((at = text.find(value, at)) != std::string::npos) {
      text.replace(at, value.size(), placeholder);
      at += placeholder.size();
    }
  }
  return text;
}

}  // namespace harness
