#include "recipe/recipe_env.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <string_view>

namespace harness {
namespace fs = std::filesystem;

namespace {

using Env = std::map<std::string, std::string>;

// ---------------------------------------------------------------------------------------
// Characters, lines and names.

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

// The lines of `content`, without their '\n' or "\r\n".
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

// Long lines are cut in messages.
std::string Shown(std::string_view s) {
  return s.size() <= 60 ? std::string(s) : std::string(s.substr(0, 57)) + "...";
}

// InvalidArgument when `content` holds a NUL byte.
Status CheckText(const std::string& content, const std::string& file_name) {
  size_t nul = content.find('\0');
  if (nul == std::string::npos) return Status::Ok();
  int line = 1 + static_cast<int>(std::count(content.begin(), content.begin() + nul, '\n'));
  return Status::InvalidArgument(file_name + ":" + std::to_string(line) +
                                 ": not a text file (a NUL byte)");
}

// ---------------------------------------------------------------------------------------
// Parameter expansion: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}.

// The index of the '}' that closes the '{' at text[open], or npos.
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

// The index of the ')' that closes the '(' at text[open], or npos.
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

// Expands against `first`, then `second`. `strict` (abra.sh) refuses what a shell would do
// more with: command substitution, special parameters ($1, $$, $@).
class Expander {
 public:
  Expander(const Env& first, const Env& second, bool strict)
      : first_(first), second_(second), strict_(strict) {}

  // text[*i] == '$'. Appends the expansion to *out and moves *i past it. Returns what is
  // wrong, "" when nothing is.
  std::string Dollar(std::string_view text, size_t* i, std::string* out) const {
    size_t j = *i + 1;
    char n = j < text.size() ? text[j] : '\0';
    if (IsNameStart(n)) {
      size_t k = j;
      while (k < text.size() && IsNameChar(text[k])) ++k;
      *out += Lookup(std::string(text.substr(j, k - j)));
      *i = k;
      return "";
    }
    if (n == '{') return Braced(text, i, out);
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

 private:
  std::string Lookup(const std::string& name) const {
    if (auto it = first_.find(name); it != first_.end()) return it->second;
    if (auto it = second_.find(name); it != second_.end()) return it->second;
    return "";
  }
  bool IsSet(const std::string& name) const { return first_.count(name) || second_.count(name); }

  // ${...} at text[*i].
  std::string Braced(std::string_view text, size_t* i, std::string* out) const {
    size_t close = MatchBrace(text, *i + 1);
    if (close == std::string_view::npos) return "'${' without its closing '}'";
    std::string_view inner = text.substr(*i + 2, close - *i - 2);
    *i = close + 1;
    size_t k = 0;
    while (k < inner.size() && IsNameChar(inner[k])) ++k;
    std::string name(inner.substr(0, k));
    std::string_view op = inner.substr(k);
    if (!IsName(name)) return "bad substitution '${" + std::string(inner) + "}'";
    if (op.empty()) {
      *out += Lookup(name);
      return "";
    }
    bool colon = op.substr(0, 2) == ":-";
    if (!colon && op[0] != '-') {
      return "unsupported expansion '${" + std::string(inner) +
             "}' (only ${VAR}, ${VAR:-default} and ${VAR-default})";
    }
    bool use_value = IsSet(name) && !(colon && Lookup(name).empty());
    if (use_value) {
      *out += Lookup(name);
      return "";
    }
    return Word(op.substr(colon ? 2 : 1), out);
  }

  // The default word of ${VAR:-word}: escapes and expansions, the rest literal.
  std::string Word(std::string_view word, std::string* out) const {
    for (size_t k = 0; k < word.size();) {
      char c = word[k];
      if (c == '\\' && k + 1 < word.size() &&
          std::string_view("$\\\"}`").find(word[k + 1]) != std::string_view::npos) {
        *out += word[k + 1];
        k += 2;
      } else if (c == '$') {
        if (std::string err = Dollar(word, &k, out); !err.empty()) return err;
      } else if (c == '`' && strict_) {
        return "command substitution is never run";
      } else {
        *out += c;
        ++k;
      }
    }
    return "";
  }

  const Env& first_;
  const Env& second_;
  bool strict_;
};

// ---------------------------------------------------------------------------------------
// .env.sample

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

// ---------------------------------------------------------------------------------------
// abra.sh: blocks (functions, if/for/while/case) are skipped, never run.

// How a line changes the nesting of blocks: +1 for each `{ if case for while until select`
// in command position, -1 for each `} fi esac done`; `opened` when the line opens one.
struct BlockDelta {
  int delta = 0;
  bool opened = false;
};

BlockDelta Blocks(std::string_view line) {
  static const std::set<std::string> kOpen = {"{", "if", "case", "for", "while", "until", "select"};
  static const std::set<std::string> kClose = {"}", "fi", "esac", "done"};
  static const std::set<std::string> kBeforeCommand = {"then", "do", "else",  "elif", "{",
                                                       "!",    "if", "while", "until"};
  BlockDelta d;
  bool command = true, quoted = false, function_name = false;
  std::string word;
  auto finish = [&] {
    if (word.empty() && !quoted) return;
    bool keyword = command && !quoted;
    if (keyword && kOpen.count(word)) {
      ++d.delta;
      d.opened = true;
    }
    if (keyword && kClose.count(word)) --d.delta;
    // `function name {`: the body's brace follows the name.
    command = function_name || (keyword && kBeforeCommand.count(word));
    function_name = keyword && word == "function";
    word.clear();
    quoted = false;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\') {
      word += c;
      if (++i < line.size()) word += line[i];
    } else if (c == '\'' || c == '"' || c == '`') {
      size_t close = line.find(c, i + 1);
      quoted = true;
      i = close == std::string_view::npos ? line.size() : close;
    } else if (c == '$' && i + 1 < line.size() && (line[i + 1] == '{' || line[i + 1] == '(')) {
      word += c;  // ${...} and $(...) are part of a word
      size_t close = line[i + 1] == '{' ? MatchBrace(line, i + 1) : MatchParen(line, i + 1);
      i = close == std::string_view::npos ? line.size() : close;
    } else if (c == '#' && word.empty() && !quoted) {
      break;
    } else if (IsBlank(c)) {
      finish();
    } else if (std::string_view(";&|()").find(c) != std::string_view::npos) {
      finish();
      command = true;
    } else {
      word += c;
    }
  }
  finish();
  return d;
}

// `name() {`, `name()`, `function name {`, `function name() {` (a one-line body allowed).
bool IsFunctionHeader(std::string_view s) {
  bool keyword = s.substr(0, 8) == "function" && s.size() > 8 && IsBlank(s[8]);
  if (keyword) s = TrimLeft(s.substr(8));
  size_t k = 0;
  if (!s.empty() && IsNameStart(s[0])) {
    while (k < s.size() && (IsNameChar(s[k]) || s[k] == '-' || s[k] == '.' || s[k] == ':')) ++k;
  }
  if (k == 0) return false;
  s = TrimLeft(s.substr(k));
  bool parens = !s.empty() && s[0] == '(';
  if (parens) {
    s = TrimLeft(s.substr(1));
    if (s.empty() || s[0] != ')') return false;
    s = TrimLeft(s.substr(1));
  }
  return (keyword || parens) && (s.empty() || s[0] == '{');
}

std::string FirstWord(std::string_view s) {
  size_t end = 0;
  while (end < s.size() && !IsBlank(s[end]) && s[end] != ';') ++end;
  return std::string(s.substr(0, end));
}

// "shell function" or "'if' block".
std::string BlockKind(std::string_view s) {
  if (IsFunctionHeader(s)) return "shell function";
  return "'" + FirstWord(s) + "' block";
}

// An unquoted character of an export's value that a literal never has.
std::string RefusedChar(char c) {
  if (c == '`') return "command substitution is never run";
  if (c == ';' || c == '|' || c == '&') return "more than one command on the line (never run)";
  if (c == '\\') return "backslash escapes are not applied";
  return std::string("'") + c + "' (a redirection or subshell) is not a literal value";
}

// The value word of `export NAME=<word>` from s[*i]. Returns what is wrong.
std::string ParseExportWord(std::string_view s, size_t* i, const Expander& ex, std::string* out) {
  if (*i < s.size() && s[*i] == '~') return "tilde expansion is not applied";
  while (*i < s.size() && !IsBlank(s[*i])) {
    char c = s[*i];
    if (c == '\'') {
      size_t close = s.find('\'', *i + 1);
      if (close == std::string_view::npos)
        return "an unterminated quote (multi-line values are not applied)";
      *out += s.substr(*i + 1, close - *i - 1);
      *i = close + 1;
    } else if (c == '"') {
      size_t k = *i + 1;
      for (; k < s.size() && s[k] != '"';) {
        if (s[k] == '`') return "command substitution is never run";
        if (s[k] == '\\' && k + 1 < s.size() &&
            std::string_view("\"\\$`").find(s[k + 1]) != std::string_view::npos) {
          *out += s[k + 1];
          k += 2;
        } else if (s[k] == '$') {
          if (std::string err = ex.Dollar(s, &k, out); !err.empty()) return err;
        } else {
          *out += s[k++];
        }
      }
      if (k >= s.size()) return "an unterminated quote (multi-line values are not applied)";
      *i = k + 1;
    } else if (c == '$') {
      if (std::string err = ex.Dollar(s, i, out); !err.empty()) return err;
    } else if (std::string_view("`;|&()<>\\").find(c) != std::string_view::npos) {
      return RefusedChar(c);
    } else {
      *out += c;
      ++*i;
    }
  }
  return "";
}

// `export NAME=VALUE [# comment]` with a literal value. Returns why it is not applied.
std::string ParseExport(std::string_view s, const Expander& ex, std::string* name,
                        std::string* value) {
  std::string_view rest = TrimLeft(s.substr(6));
  if (rest.empty()) return "'export' without a name";
  if (rest[0] == '-') return "export with options is not applied";
  size_t k = 0;
  while (k < rest.size() && IsNameChar(rest[k])) ++k;
  *name = std::string(rest.substr(0, k));
  if (!IsName(*name)) return "not an export of a literal value";
  if (k == rest.size() || rest[k] != '=') {
    std::string_view after = TrimLeft(rest.substr(k));
    if (after.empty() || after[0] == '#') return "an export without a value is not applied";
    return "an export of more than one name is not applied";
  }
  size_t i = k + 1;
  if (std::string err = ParseExportWord(rest, &i, ex, value); !err.empty()) return err;
  std::string_view after = TrimLeft(rest.substr(i));
  if (!after.empty() && after[0] != '#') {
    if (after[0] == ';' || after[0] == '&' || after[0] == '|') return RefusedChar(after[0]);
    return "an export of more than one name is not applied";
  }
  return "";
}

// Why a line that is neither an export nor a block is not applied.
std::string WhyNotApplied(std::string_view s) {
  std::string first = FirstWord(s);
  if (first == "source" || first == ".") return "sourcing another file is never run";
  if (s.find("$(") != std::string_view::npos || s.find('`') != std::string_view::npos) {
    return "command substitution is never run";
  }
  size_t eq = first.find('=');
  if (eq != std::string::npos && IsName(first.substr(0, eq))) {
    return "a plain assignment (without export) is not applied";
  }
  return "a command; abra.sh is never run";
}

// The block being skipped, if any.
struct OpenBlock {
  bool active = false;
  bool opened = false;  // its first '{' / keyword was seen
  int depth = 0;
  size_t entry = 0;  // its not_applied entry
};

std::string BlockWhy(const std::string& kind, int first, int last) {
  std::string range = first == last ? "line " + std::to_string(first)
                                    : "lines " + std::to_string(first) + "-" + std::to_string(last);
  return kind + ", never run (" + range + ")";
}

// A line inside a block: moves the block on, closes it at its end.
void ContinueBlock(std::string_view line, int n, OpenBlock* block, AbraSh* sh) {
  BlockDelta d = Blocks(line);
  block->depth += d.delta;
  block->opened = block->opened || d.opened;
  std::string_view s = Trim(line);
  bool ends = block->opened ? block->depth <= 0 : (!s.empty() && s[0] != '#' && !d.opened);
  if (!ends) return;
  AbraShLine& entry = sh->not_applied[block->entry];
  entry.why = BlockWhy(BlockKind(entry.text), entry.line, n);
  block->active = false;
}

// A line outside any block.
void ReadTopLine(std::string_view s, int n, const Expander& ex, OpenBlock* block, AbraSh* sh) {
  BlockDelta d = Blocks(s);
  if (IsFunctionHeader(s) || d.delta > 0 || d.opened) {
    sh->not_applied.push_back({n, std::string(s), BlockWhy(BlockKind(s), n, n)});
    if (d.opened && d.delta <= 0) return;  // a one-line block
    *block = {true, d.opened, d.delta, sh->not_applied.size() - 1};
    return;
  }
  if (d.delta < 0) {
    sh->not_applied.push_back(
        {n, std::string(s), "a closing '" + FirstWord(s) + "' without its opening"});
    return;
  }
  if (FirstWord(s) != "export") {
    sh->not_applied.push_back({n, std::string(s), WhyNotApplied(s)});
    return;
  }
  std::string name, value;
  if (std::string why = ParseExport(s, ex, &name, &value); !why.empty()) {
    sh->not_applied.push_back({n, std::string(s), why});
    return;
  }
  sh->exports[name] = value;
  sh->line_of[name] = n;
}

}  // namespace

Result<EnvFile> ParseEnvSample(const std::string& content, const std::string& file_name,
                               const std::map<std::string, std::string>& base) {
  if (Status s = CheckText(content, file_name); !s.ok()) return s;
  EnvFile file;
  std::vector<std::string> lines = SplitLines(content);
  for (size_t i = 0; i < lines.size(); ++i) {
    int n = static_cast<int>(i) + 1;
    if (std::string err = ParseEnvLine(lines[i], n, base, &file); !err.empty()) {
      return Status::InvalidArgument(file_name + ":" + std::to_string(n) + ": " + err);
    }
  }
  return file;
}

Result<AbraSh> ReadAbraSh(const std::string& content, const std::string& file_name,
                          const std::map<std::string, std::string>& env) {
  if (Status s = CheckText(content, file_name); !s.ok()) return s;
  AbraSh sh;
  OpenBlock block;
  std::vector<std::string> lines = SplitLines(content);
  for (size_t i = 0; i < lines.size(); ++i) {
    int n = static_cast<int>(i) + 1;
    if (block.active) {
      ContinueBlock(lines[i], n, &block, &sh);
      continue;
    }
    std::string_view s = Trim(lines[i]);
    if (s.empty() || s[0] == '#') continue;
    ReadTopLine(s, n, Expander(sh.exports, env, true), &block, &sh);
  }
  if (block.active) {
    sh.not_applied[block.entry].why =
        BlockKind(sh.not_applied[block.entry].text) +
        ", never run; its end was not found, so the rest of the file was skipped";
  }
  return sh;
}

}  // namespace harness
