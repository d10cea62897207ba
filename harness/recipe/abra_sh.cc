// ReadAbraSh (recipe/abra_sh.h): the literal exports of an abra.sh, read and never run;
// blocks (functions, if/for/while/case) are skipped to their end, every other line listed
// with the reason it was not applied.
#include "recipe/abra_sh.h"

#include <set>
#include <string_view>

#include "recipe/shell_syntax.h"

namespace harness {

using namespace shell_syntax;

namespace {

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

// A line outside any block. `expanded`: the bytes of the exports applied so far.
void ReadTopLine(std::string_view s, int n, const Expander& ex, OpenBlock* block, AbraSh* sh,
                 size_t* expanded) {
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
  if (*expanded + value.size() > kMaxExpandedFile) {
    sh->not_applied.push_back({n, std::string(s), "the exports add up to more than " +
                                                      std::to_string(kMaxExpandedFile >> 20) +
                                                      " MiB once expanded"});
    return;
  }
  *expanded += value.size();
  sh->exports[name] = value;
  sh->line_of[name] = n;
}

}  // namespace

Result<AbraSh> ReadAbraSh(const std::string& content, const std::string& file_name,
                          const std::map<std::string, std::string>& env) {
  if (Status s = CheckText(content, file_name); !s.ok()) return s;
  AbraSh sh;
  OpenBlock block;
  size_t expanded = 0;
  std::vector<std::string> lines = SplitLines(content);
  for (size_t i = 0; i < lines.size(); ++i) {
    int n = static_cast<int>(i) + 1;
    if (block.active) {
      ContinueBlock(lines[i], n, &block, &sh);
      continue;
    }
    std::string_view s = Trim(lines[i]);
    if (s.empty() || s[0] == '#') continue;
    ReadTopLine(s, n, Expander(sh.exports, env, true), &block, &sh, &expanded);
  }
  if (block.active) {
    sh.not_applied[block.entry].why =
        BlockKind(sh.not_applied[block.entry].text) +
        ", never run; its end was not found, so the rest of the file was skipped";
  }
  return sh;
}

}  // namespace harness
