// Recipe environment: reads a Co-op Cloud recipe's `.env.sample` the way abra does, and
// chooses the compose files its COMPOSE_FILE names, without running anything. (Its
// `abra.sh` is read by recipe/abra_sh.h.)
//
// `.env.sample` is read as a POSIX shell (and abra's godotenv) reads its simple lines:
// `KEY=VALUE`, quotes, `$VAR` expansion, `# comments`, plus abra's secret hints beside
// `SECRET_<NAME>_VERSION` (`# length=128 charset=hex`).
//
// The caller reads the files and owns their contents; every function returns values and
// keeps no state. ChooseComposeFiles looks at the file system (metadata only) and never
// writes. Safe to call from any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace harness {

// abra's hints for generating a secret. 0 / "" = not given.
struct SecretHint {
  int length = 0;       // 8..1024
  std::string charset;  // "alnum", "hex" or "special"
};

struct EnvEntry {
  std::string key, value;  // value after quote removal and expansion
  int line = 0;            // 1-based
};

struct EnvFile {
  std::vector<EnvEntry> entries;              // every assignment, in file order
  std::map<std::string, std::string> values;  // the final values (a later line wins)
  std::map<std::string, int> line_of;         // key → line that set it last
  // For every SECRET_<NAME>_VERSION key, under the lower-cased NAME ("db_password"), the
  // hints of the line that set it last (empty when it has none).
  std::map<std::string, SecretHint> secret_hints;
};

// Parses a `.env.sample`. `base`: values already known (earlier files); `$VAR` refers to
// earlier keys of this file first, then to `base`; an unset variable expands to "".
// A malformed line is InvalidArgument("<file_name>:<line>: <what is wrong>"), and so is
// one whose value grows past 1 MiB once expanded, or past 16 MiB with the values before
// it (shell_syntax.h), or whose defaults nest more than 16 deep.
Result<EnvFile> ParseEnvSample(const std::string& content, const std::string& file_name,
                               const std::map<std::string, std::string>& base = {});

struct ComposeChoice {
  std::vector<std::string> files;  // relative paths inside the recipe, in order, no duplicates
  std::string reason;              // "COMPOSE_FILE from .env.sample:7", "the default compose.yml"
};

// The compose files of a recipe: `compose_file` is the value of COMPOSE_FILE ("" = unset:
// compose.yml), colon-separated; `origin` says where it came from (".env.sample:7"), for
// `reason` and for errors. Each file must be a relative `.yml`/`.yaml` path of
// [A-Za-z0-9._/-] without `..`, and a regular file whose real path (symlinks resolved) is
// inside the real `recipe_dir`; otherwise InvalidArgument naming the file, the reason,
// `origin` and a fix. NotFound when `recipe_dir` itself cannot be resolved.
Result<ComposeChoice> ChooseComposeFiles(const std::string& recipe_dir,
                                         const std::string& compose_file,
                                         const std::string& origin);

}  // namespace harness
