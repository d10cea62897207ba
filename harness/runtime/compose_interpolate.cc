// Compose's variable interpolation and .env files (runtime/compose.h), as `docker stack
// deploy` reads them.
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/compose.h"

namespace harness {
namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The index of the `}` closing the `${` whose body starts at `from`, counting nested `${`;
// npos when it is not closed.
size_t ClosingBrace(const std::string& text, size_t from) {
  int depth = 1;
  for (size_t i = from; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      ++i;
    } else if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      ++depth;
      ++i;
    } else if (text[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string::npos;
}

// Compose's interpolation (the compose specification's, which `docker stack deploy`
// follows): `$$`, `$VAR`, `${VAR}`, and after the name `:-`/`-` (a default), `:?`/`?` (an
// error), `:+`/`+` (a replacement); the colon forms also treat an empty value as unset, and
// defaults and replacements may hold further expressions. Appends to `out`. An expression
// that demands a missing value, or is malformed, adds nothing and its reason to `errors`.
void InterpolateInto(const std::string& text, const std::map<std::string, std::string>& env, int depth,
                     size_t limit, std::string* out, std::vector<std::string>* errors) {
  if (depth > 8) {
    errors->push_back("expressions nested deeper than 8 levels");
    return;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (out->size() > limit) return;
    char c = text[i];
    if (c != '$') {  // up to the next '$' at once
      size_t end = std::min(text.find('$', i), text.size());
      out->append(text, i, end - i);
      i = end - 1;
      continue;
    }
    if (i + 1 >= text.size()) {
      *out += c;
      continue;
    }
    char n = text[i + 1];
    if (n == '$') {
      *out += '$';
      ++i;
      continue;
    }
    if (IsNameStart(n)) {
      size_t j = i + 1;
      while (j < text.size() && IsNameChar(text[j])) ++j;
      auto it = env.find(text.substr(i + 1, j - i - 1));
      if (it != env.end()) *out += it->second;
      i = j - 1;
      continue;
    }
    if (n != '{') {
      *out += c;
      continue;
    }
    size_t close = ClosingBrace(text, i + 2);
    if (close == std::string::npos) {
      errors->push_back("'" + text.substr(i) + "' is not closed");
      *out += text.substr(i);
      return;
    }
    std::string inner = text.substr(i + 2, close - i - 2);
    std::string expression = text.substr(i, close - i + 1);
    i = close;
    size_t name_end = 0;
    while (name_end < inner.size() && IsNameChar(inner[name_end])) ++name_end;
    if (name_end == 0 || !IsNameStart(inner[0])) {
      errors->push_back("'" + expression + "' does not name a variable");
      continue;
    }
    std::string name = inner.substr(0, name_end);
    auto it = env.find(name);
    bool set = it != env.end();
    if (name_end == inner.size()) {
      if (set) *out += it->second;
      continue;
    }
    bool colon = inner[name_end] == ':';
    size_t op_at = name_end + (colon ? 1 : 0);
    char op = op_at < inner.size() ? inner[op_at] : '\0';
    std::string arg = inner.substr(std::min(op_at + 1, inner.size()));
    bool present = set && !(colon && it->second.empty());
    if (op == '-') {
      if (present) {
        *out += it->second;
      } else {
        InterpolateInto(arg, env, depth + 1, limit, out, errors);
      }
    } else if (op == '+') {
      if (present) InterpolateInto(arg, env, depth + 1, limit, out, errors);
    } else if (op == '?') {
      if (present) {
        *out += it->second;
      } else {
        std::string why;
        std::vector<std::string> ignored;
        InterpolateInto(arg, env, depth + 1, limit, &why, &ignored);
        errors->push_back("'" + expression + "': " + name + (set ? " is empty" : " is not set") +
                          (why.empty() ? "" : " (" + why + ")"));
      }
    } else {
      errors->push_back("'" + expression + "' is not an expression compose knows");
    }
  }
}

}  // namespace

std::string Interpolate(const std::string& text, const std::map<std::string, std::string>& env) {
  return *InterpolateAtMost(text, env, std::string::npos);
}

std::optional<std::string> InterpolateAtMost(const std::string& text,
                                             const std::map<std::string, std::string>& env, size_t limit) {
  std::string out;
  std::vector<std::string> errors;
  InterpolateInto(text, env, 0, limit, &out, &errors);
  if (out.size() > limit) return std::nullopt;
  return out;
}

Result<std::string> InterpolateStrictly(const std::string& text, const std::map<std::string, std::string>& env) {
  std::string out;
  std::vector<std::string> errors;
  InterpolateInto(text, env, 0, std::string::npos, &out, &errors);
  if (!errors.empty()) return Status::InvalidArgument(errors.front());
  return out;
}

std::map<std::string, std::string> ParseEnvFile(const std::string& content) {
  std::map<std::string, std::string> env;
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line = line.substr(start);
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    std::string value = line.substr(eq + 1);
    auto hash = value.find(" #");
    if (value.empty() || (value[0] != '"' && value[0] != '\'')) {
      if (hash != std::string::npos) value = value.substr(0, hash);
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
    } else {
      char q = value[0];
      auto end = value.find(q, 1);
      value = value.substr(1, end == std::string::npos ? std::string::npos : end - 1);
    }
    env[key] = value;
  }
  return env;
}

}  // namespace harness
