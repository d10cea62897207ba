// Shell syntax shared by the .env.sample and abra.sh readers (recipe/shell_syntax.h).
#include "recipe/shell_syntax.h"

#include <algorithm>
#include <cctype>

namespace harness::shell_syntax {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool IsName(std::string_view s) {
  return !s.empty() && IsNameStart(s[0]) && std::all_of(s.begin(), s.end(), IsNameChar);
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view Trim(std::string_view s) {
  s = TrimLeft(s);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string> SplitLines(const std::string& content) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string line = content.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::string Shown(std::string_view s) {
  return s.size() <= 60 ? std::string(s) : std::string(s.substr(0, 57)) + "...";
}

Status CheckText(const std::string& content, const std::string& file_name) {
  size_t nul = content.find('\0');
  if (nul == std::string::npos) return Status::Ok();
  int line = 1 + static_cast<int>(std::count(content.begin(), content.begin() + nul, '\n'));
  return Status::InvalidArgument(file_name + ":" + std::to_string(line) +
                                 ": not a text file (a NUL byte)");
}

size_t MatchBrace(std::string_view text, size_t open) {
  int depth = 1;
  for (size_t k = open + 1; k < text.size(); ++k) {
    if (text[k] == '\\') {
      ++k;
    } else if (text[k] == '$' && k + 1 < text.size() && text[k + 1] == '{') {
      ++depth;
      ++k;
    } else if (text[k] == '}' && --depth == 0) {
      return k;
    }
  }
  return std::string_view::npos;
}

size_t MatchParen(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t k = open; k < text.size(); ++k) {
    if (text[k] == '\\') {
      ++k;
    } else if (text[k] == '(') {
      ++depth;
    } else if (text[k] == ')' && --depth == 0) {
      return k;
    }
  }
  return std::string_view::npos;
}

std::string Expander::Dollar(std::string_view text, size_t* i, std::string* out, int depth) const {
  size_t j = *i + 1;
  char n = j < text.size() ? text[j] : '\0';
  if (IsNameStart(n)) {
    size_t k = j;
    while (k < text.size() && IsNameChar(text[k])) ++k;
    *i = k;
    return Append(std::string(text.substr(j, k - j)), out);
  }
  if (n == '{') return Braced(text, i, out, depth);
  if (strict_ && n == '(' && j + 1 < text.size() && text[j + 1] == '(') {
    return "arithmetic expansion is not applied";
  }
  if (strict_ && n == '(') return "command substitution is never run";
  if (strict_ && n != '\0' && !IsBlank(n) && n != '"') {
    return std::string("the special parameter $") + n + " is not applied";
  }
  *out += '$';  // a lone '$' is literal
  *i = j;
  return "";
}

std::string Expander::Lookup(const std::string& name) const {
  if (auto it = first_.find(name); it != first_.end()) return it->second;
  if (auto it = second_.find(name); it != second_.end()) return it->second;
  return "";
}

bool Expander::IsSet(const std::string& name) const {
  return first_.count(name) || second_.count(name);
}

std::string Expander::Append(const std::string& name, std::string* out) const {
  *out += Lookup(name);
  if (out->size() <= kMaxExpandedValue) return "";
  return "a value longer than " + std::to_string(kMaxExpandedValue >> 20) + " MiB once expanded";
}

std::string Expander::Braced(std::string_view text, size_t* i, std::string* out, int depth) const {
  if (depth >= kMaxExpansionNesting) {
    return "expansions nested deeper than " + std::to_string(kMaxExpansionNesting) + " levels";
  }
  size_t close = MatchBrace(text, *i + 1);
  if (close == std::string_view::npos) return "'${' without its closing '}'";
  std::string_view inner = text.substr(*i + 2, close - *i - 2);
  *i = close + 1;
  size_t k = 0;
  while (k < inner.size() && IsNameChar(inner[k])) ++k;
  std::string name(inner.substr(0, k));
  std::string_view op = inner.substr(k);
  if (!IsName(name)) return "bad substitution '${" + std::string(inner) + "}'";
  if (op.empty()) return Append(name, out);
  bool colon = op.substr(0, 2) == ":-";
  if (!colon && op[0] != '-') {
    return "unsupported expansion '${" + std::string(inner) +
           "}' (only ${VAR}, ${VAR:-default} and ${VAR-default})";
  }
  bool use_value = IsSet(name) && !(colon && Lookup(name).empty());
  if (use_value) return Append(name, out);
  return Word(op.substr(colon ? 2 : 1), out, depth + 1);
}

std::string Expander::Word(std::string_view word, std::string* out, int depth) const {
  for (size_t k = 0; k < word.size();) {
    char c = word[k];
    if (c == '\\' && k + 1 < word.size() &&
        std::string_view("$\\\"}`").find(word[k + 1]) != std::string_view::npos) {
      *out += word[k + 1];
      k += 2;
    } else if (c == '$') {
      if (std::string err = Dollar(word, &k, out, depth); !err.empty()) return err;
    } else if (c == '`' && strict_) {
      return "command substitution is never run";
    } else {
      *out += c;
      ++k;
    }
  }
  return "";
}

}  // namespace harness::shell_syntax
