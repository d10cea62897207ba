// The pieces of POSIX shell syntax that the `.env.sample` reader (recipe_env.cc) and the
// `abra.sh` reader (abra_sh.cc) share: blanks and names, lines of a file, matching braces
// and parentheses, and parameter expansion ($VAR, ${VAR}, ${VAR:-default},
// ${VAR-default}) by Expander.
//
// Not a public interface: only those two readers include it. Pure functions over the
// caller's strings; an Expander refers to the caller's maps and must not outlive them.
// Any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace harness::shell_syntax {

using Env = std::map<std::string, std::string>;

// ---------------------------------------------------------------------------------------
// Characters, lines and names.

bool IsBlank(char c);
bool IsNameStart(char c);
bool IsNameChar(char c);
// A shell variable's name: [A-Za-z_][A-Za-z0-9_]*.
bool IsName(std::string_view s);

std::string_view TrimLeft(std::string_view s);
std::string_view Trim(std::string_view s);

// The lines of `content`, without their '\n' or "\r\n".
std::vector<std::string> SplitLines(const std::string& content);

// Long lines are cut in messages.
std::string Shown(std::string_view s);

// InvalidArgument("<file_name>:<line>: not a text file (a NUL byte)") when `content` holds
// a NUL byte.
Status CheckText(const std::string& content, const std::string& file_name);

// ---------------------------------------------------------------------------------------
// Parameter expansion.

// The index of the '}' that closes the '{' at text[open], or npos.
size_t MatchBrace(std::string_view text, size_t open);
// The index of the ')' that closes the '(' at text[open], or npos.
size_t MatchParen(std::string_view text, size_t open);

// Defaults nest (${A:-${B:-c}}) at most this deep: real files nest one or two levels, and
// each level is a recursion (and a scan of the rest of the line).
inline constexpr int kMaxExpansionNesting = 16;
// The longest value an expansion may make, and the most a whole file's values may add up
// to: each line can name an earlier one ten times over, so a few hundred bytes of
// `B="$A$A…"`, `C="$B$B…"` would otherwise grow without bound.
inline constexpr size_t kMaxExpandedValue = 1 << 20;
inline constexpr size_t kMaxExpandedFile = 16 << 20;

// Expands against `first`, then `second`; an unset variable expands to "". `strict`
// (abra.sh) refuses what a shell would do more with: command substitution, arithmetic,
// special parameters ($1, $$, $@).
class Expander {
 public:
  Expander(const Env& first, const Env& second, bool strict)
      : first_(first), second_(second), strict_(strict) {}

  // text[*i] == '$'. Appends the expansion to *out and moves *i past it. Returns what is
  // wrong, "" when nothing is.
  std::string Dollar(std::string_view text, size_t* i, std::string* out) const {
    return Dollar(text, i, out, 0);
  }

 private:
  // `depth`: how many defaults this expansion is inside.
  std::string Dollar(std::string_view text, size_t* i, std::string* out, int depth) const;
  std::string Lookup(const std::string& name) const;
  bool IsSet(const std::string& name) const;
  // Appends the value of `name` to *out; what is wrong when *out grows too long.
  std::string Append(const std::string& name, std::string* out) const;
  // ${...} at text[*i].
  std::string Braced(std::string_view text, size_t* i, std::string* out, int depth) const;
  // The default word of ${VAR:-word}: escapes and expansions, the rest literal.
  std::string Word(std::string_view word, std::string* out, int depth) const;

  const Env& first_;
  const Env& second_;
  bool strict_;
};

}  // namespace harness::shell_syntax
