// Files: reading a whole file and replacing one atomically.
//
// Plain functions; any thread. Concurrent WriteFileAtomic calls on the same path must be
// serialised by the caller (they share the "<path>.tmp" name).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace harness {

// The whole content of the file at `path`, bytes as they are. NotFound when it does not
// exist, Infra when it cannot be opened otherwise.
Result<std::string> ReadFile(const std::string& path);
// Writes `content` to `path` atomically (temp file "<path>.tmp" + rename), the file
// created with `mode` (before the umask). Infra on failure, naming the file and why.
Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode = 0644);

// The names of the entries of the folder `dir`, sorted. NotFound when it does not exist,
// Infra (naming it and why) when it cannot be read. Never throws.
Result<std::vector<std::string>> ListFolder(const std::string& dir);

}  // namespace harness
