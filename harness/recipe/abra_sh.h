// abra.sh: the literal exports of a Co-op Cloud recipe's `abra.sh`, read the way abra would
// see them, without running anything.
//
// `abra.sh` comes from untrusted pull requests and is never executed: only
// `export NAME=<literal or ${VAR:-default}>` lines are applied; every other line is listed
// with the reason it was not, and blocks (functions, if/for/while/case) are skipped to
// their end.
//
// The caller reads the file and owns its contents; ReadAbraSh returns values and keeps no
// state. Safe to call from any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace harness {

struct AbraShLine {
  int line = 0;      // 1-based
  std::string text;  // the line, trimmed
  std::string why;   // why it was not applied
};

struct AbraSh {
  std::map<std::string, std::string> exports;  // applied
  std::map<std::string, int> line_of;          // name → line that exported it last
  // Every other non-blank, non-comment line; of a function or a block (if … fi) only its
  // first line, its body is skipped.
  std::vector<AbraShLine> not_applied;
};

// Reads the literal exports of an `abra.sh`; `env` is what `${VAR:-default}` may refer to
// (after earlier exports of the file). Unsupported content is reported in `not_applied`,
// never an error, and so is an export whose value grows past 1 MiB once expanded, past
// 16 MiB with the exports before it, or whose defaults nest more than 16 deep
// (shell_syntax.h); only a file that is not text (a NUL byte) is InvalidArgument.
Result<AbraSh> ReadAbraSh(const std::string& content, const std::string& file_name,
                          const std::map<std::string, std::string>& env);

}  // namespace harness
