// GitCache: recipe repositories mirrored on this machine, and the files of one commit.
//
// Each repository is a bare mirror under <cache>/<key>.git (key: a hash of the address),
// cloned once and updated with `git remote update --prune`, which also brings a forge's
// pull request heads (refs/pull/*/head). Fetches of one repository are serialised by a
// lock file beside it, across threads and processes. Every run gets its own copy of the
// files (`git archive` of a commit, extracted into the run's folder): there is no shared
// checkout to race on.
//
// git runs on this machine, never on the target, without prompts, hooks, or the `ext`
// transport.
//
// Thread-safety: a GitCache may be used from several threads at once.
#pragma once

#include <string>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"
#include "base/status.h"

namespace harness {

class Executor;

struct GitOrigin {
  std::string url;      // a path, file://, https://, ssh:// or user@host:path
  std::string subdir;   // the recipe's folder in the repository; "" the top
};

class GitCache {
 public:
  // `local` runs git (a LocalExecutor); not owned.
  GitCache(std::string dir, Executor* local);

  // Brings the mirror up to date (cloning it the first time). Infra when the repository
  // cannot be reached, naming it.
  Status Fetch(const GitOrigin& origin, Deadline deadline, const CancelToken& cancel);

  // The repository's release tags (valid recipe versions; other tags are skipped), oldest
  // first by the recipe version scheme. REQUIRES: Fetch succeeded once.
  Result<std::vector<std::string>> Releases(const GitOrigin& origin);

  // The commit a tag, branch or commit id names; NotFound when the mirror has none.
  Result<std::string> Resolve(const GitOrigin& origin, const std::string& ref);

  // Makes sure `commit` (a full id) is in the mirror, fetching it by id when no ref
  // brought it.
  Status EnsureCommit(const GitOrigin& origin, const std::string& commit, Deadline deadline,
                      const CancelToken& cancel);

  // Writes the files of `commit` (its `subdir`) into the empty folder `dir`.
  Status Export(const GitOrigin& origin, const std::string& commit, const std::string& dir);

  // The mirror's folder.
  std::string MirrorDir(const GitOrigin& origin) const;

 private:
  Result<std::string> Git(const GitOrigin& origin, std::vector<std::string> args, Deadline deadline,
                          const CancelToken& cancel);

  std::string dir_;
  Executor* local_;
};

// Whether `text` is a full commit id (40 lower-case hex digits).
bool IsCommitId(const std::string& text);

}  // namespace harness
