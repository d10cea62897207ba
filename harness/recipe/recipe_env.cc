// ParseEnvSample (recipe/recipe_env.h): a `.env.sample` read as a POSIX shell (and abra's
// godotenv) reads its simple lines, with abra's secret hints.
#include "recipe/recipe_env.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "recipe/shell_syntax.h"

namespace harness {

using namespace shell_syntax;

namespace {

struct Value {
  std::string text;
  std::string comment;  // after '#', trimmed
};

// After a closing quote: blanks and an optional comment. Returns what is wrong.
std::string ParseTail(std::string_view rest, Value* v) {
  rest = TrimLeft(rest);
  if (rest.empty()) return "";
  if (rest[0] == '#') {
    v->comment = std::string(Trim(rest.substr(1)));
    return "";
  }
  return "unexpected text after the closing quote: '" + Shown(rest) + "'";
}

std::string ParseSingleQuoted(std::string_view raw, Value* v) {
  size_t close = raw.find('\'', 1);
  if (close == std::string_view::npos) {
    return "a single quote without its closing quote (multi-line values are not supported)";
  }
  v->text = std::string(raw.substr(1, close - 1));
  return ParseTail(raw.substr(close + 1), v);
}

std::string ParseDoubleQuoted(std::string_view raw, const Expander& ex, Value* v) {
  for (size_t i = 1; i < raw.size();) {
    char c = raw[i];
    if (c == '"') return ParseTail(raw.substr(i + 1), v);
    if (c == '\\' && i + 1 < raw.size() &&
        std::string_view("\"\\$`").find(raw[i + 1]) != std::string_view::npos) {
      v->text += raw[i + 1];
      i += 2;
    } else if (c == '$') {
      if (std::string err = ex.Dollar(raw, &i, &v->text); !err.empty()) return err;
    } else {
      v->text += c;
      ++i;
    }
  }
  return "a double quote without its closing quote (multi-line values are not supported)";
}

// Where the comment of an unquoted value starts (an unescaped '#' after a blank), or npos.
size_t CommentStart(std::string_view raw) {
  for (size_t k = 0; k < raw.size(); ++k) {
    if (raw[k] == '\\') {
      ++k;
    } else if (raw[k] == '$' && k + 1 < raw.size() && raw[k + 1] == '{') {
      size_t close = MatchBrace(raw, k + 1);
      if (close == std::string_view::npos) return std::string_view::npos;
      k = close;
    } else if (raw[k] == '#' && k > 0 && IsBlank(raw[k - 1])) {
      return k;
    }
  }
  return std::string_view::npos;
}

std::string ParseUnquoted(std::string_view raw, const Expander& ex, Value* v) {
  size_t hash = CommentStart(raw);
  if (hash != std::string_view::npos) v->comment = std::string(Trim(raw.substr(hash + 1)));
  std::string_view body = raw.substr(0, hash);
  // Trailing blanks go, unless the last one is escaped.
  while (!body.empty() && IsBlank(body.back()) &&
         !(body.size() >= 2 && body[body.size() - 2] == '\\')) {
    body.remove_suffix(1);
  }
  for (size_t i = 0; i < body.size();) {
    char c = body[i];
    if (c == '\\') {
      if (i + 1 == body.size()) return "a trailing backslash: multi-line values are not supported";
      v->text += body[i + 1];
      i += 2;
    } else if (c == '$') {
      if (std::string err = ex.Dollar(body, &i, &v->text); !err.empty()) return err;
    } else {
      v->text += c;
      ++i;
    }
  }
  return "";
}

std::string ParseValue(std::string_view raw, const Expander& ex, Value* v) {
  if (!raw.empty() && IsBlank(raw[0])) {
    std::string_view rest = TrimLeft(raw);
    if (rest.empty() || rest[0] == '#') return ParseTail(rest, v);
    return "a blank after '=' (a shell would run '" + Shown(rest) +
           "' as a command); write KEY=value or KEY=\"value\"";
  }
  if (!raw.empty() && raw[0] == '\'') return ParseSingleQuoted(raw, v);
  if (!raw.empty() && raw[0] == '"') return ParseDoubleQuoted(raw, ex, v);
  return ParseUnquoted(raw, ex, v);
}

// Splits "[export ]KEY=rest". Returns what is wrong.
std::string SplitAssignment(std::string_view s, std::string* key, std::string_view* raw) {
  if (s.substr(0, 6) == "export" && s.size() > 6 && IsBlank(s[6])) {
    s = TrimLeft(s.substr(6));
    if (s.empty()) return "'export' without an assignment";
  }
  size_t eq = s.find('=');
  if (eq == std::string_view::npos) return "expected KEY=VALUE, got '" + Shown(s) + "'";
  *key = std::string(s.substr(0, eq));
  *raw = s.substr(eq + 1);
  if (key->empty()) return "a value without a name before '='";
  if (IsBlank(key->back())) {
    return "a blank before '=' (a shell would not read '" + Shown(s) +
           "' as an assignment); write KEY=value";
  }
  if (!IsName(*key)) {
    return "'" + Shown(*key) +
           "' is not a valid name (letters, digits and '_', not starting with a digit)";
  }
  return "";
}

// length=N and charset=X among the words of a SECRET_..._VERSION comment.
std::string ParseHint(std::string_view comment, SecretHint* hint) {
  static const std::map<std::string, std::string> kCharsets = {{"alnum", "alnum"},
                                                               {"default", "alnum"},
                                                               {"hex", "hex"},
                                                               {"special", "special"},
                                                               {"special-chars", "special"}};
  size_t k = 0;
  while (k < comment.size()) {
    while (k < comment.size() && IsBlank(comment[k])) ++k;
    size_t end = k;
    while (end < comment.size() && !IsBlank(comment[end])) ++end;
    std::string_view word = comment.substr(k, end - k);
    k = end;
    if (word.substr(0, 7) == "length=") {
      std::string_view n = word.substr(7);
      bool digits = !n.empty() && n.size() <= 5 &&
                    std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
      int length = digits ? std::stoi(std::string(n)) : 0;
      if (length < 8 || length > 1024) {
        return "'" + Shown(word) + "': a secret's length must be a whole number from 8 to 1024";
      }
      hint->length = length;
    } else if (word.substr(0, 8) == "charset=") {
      auto it = kCharsets.find(std::string(word.substr(8)));
      if (it == kCharsets.end()) {
        return "'" + Shown(word) + "': the charset must be alnum, hex or special";
      }
      hint->charset = it->second;
    }
  }
  return "";
}

// "db_password" for SECRET_DB_PASSWORD_VERSION; "" for other keys.
std::string SecretName(const std::string& key) {
  const std::string prefix = "SECRET_", suffix = "_VERSION";
  if (key.size() <= prefix.size() + suffix.size() || key.compare(0, prefix.size(), prefix) != 0 ||
      key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return "";
  }
  std::string name = key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

// One line of a .env.sample into *file. Returns what is wrong.
std::string ParseEnvLine(std::string_view line, int n, const Env& base, EnvFile* file) {
  std::string_view s = TrimLeft(line);
  if (s.empty() || s[0] == '#') return "";
  std::string key;
  std::string_view raw;
  if (std::string err = SplitAssignment(s, &key, &raw); !err.empty()) return err;
  Value v;
  if (std::string err = ParseValue(raw, Expander(file->values, base, false), &v); !err.empty()) {
    return err;
  }
  if (std::string secret = SecretName(key); !secret.empty()) {
    SecretHint hint;
    if (std::string err = ParseHint(v.comment, &hint); !err.empty()) return err;
    file->secret_hints[secret] = hint;
  }
  file->entries.push_back({key, v.text, n});
  file->values[key] = v.text;
  file->line_of[key] = n;
  return "";
}

}  // namespace

Result<EnvFile> ParseEnvSample(const std::string& content, const std::string& file_name,
                               const std::map<std::string, std::string>& base) {
  if (Status s = CheckText(content, file_name); !s.ok()) return s;
  EnvFile file;
  std::vector<std::string> lines = SplitLines(content);
  size_t expanded = 0;  // the bytes of all values so far
  for (size_t i = 0; i < lines.size(); ++i) {
    int n = static_cast<int>(i) + 1;
    std::string err = ParseEnvLine(lines[i], n, base, &file);
    if (err.empty() && !file.entries.empty() && file.entries.back().line == n) {
      expanded += file.entries.back().value.size();
      if (expanded > kMaxExpandedFile) {
        err = "the values add up to more than " + std::to_string(kMaxExpandedFile >> 20) + " MiB once expanded";
      }
    }
    if (!err.empty()) return Status::InvalidArgument(file_name + ":" + std::to_string(n) + ": " + err);
  }
  return file;
}

}  // namespace harness
