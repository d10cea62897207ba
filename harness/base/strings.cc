#include "base/strings.h"

#include <cctype>

namespace harness {
namespace {

constexpr std::string_view kWhitespace = " \t\r\n\v\f";

}  // namespace

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(kWhitespace);
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(kWhitespace);
  return std::string(s.substr(b, e - b + 1));
}

std::string TrimRight(std::string_view s) {
  size_t e = s.find_last_not_of(kWhitespace);
  return e == std::string_view::npos ? "" : std::string(s.substr(0, e + 1));
}

std::string TailLines(const std::string& text, size_t max_lines) {
  size_t count = 0;
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  while (pos > 0) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (++count == max_lines) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

}  // namespace harness
