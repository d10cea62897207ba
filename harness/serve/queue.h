// ServeQueue: the durable work list of `harness serve` (SQLite, <state>/serve.sqlite).
//
// A job is one `!testme`: a recipe at a pull request's head commit. Jobs go
//   queued → running → done
// and any queued or running job becomes `superseded` when a newer `!testme` or a push
// arrives for the same pull request; a superseded job never posts a result. A job that was
// running when serve stopped (or was killed) goes back to `queued` when serve starts again
// (RecoverInterrupted), so the queue survives restarts. The queue also keeps, per pull
// request, the one comment serve edits, which comments were already handled (redeliveries,
// polling), and polling cursors.
//
// Every change is one SQLite statement or transaction (synchronous=FULL): it happened
// completely or not at all, also across a crash. Every member reports a failed read or
// write as Infra naming the queue's file and the reason ("disk I/O error (No space left on
// device)"); none reads a failure as "nothing there". A write that fails leaves the jobs as
// they were: a queued job stays queued, a running one stays running (and is given back by
// RecoverInterrupted at the next start).
//
// Thread-safety: all members may be called from any thread (one connection, a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace harness {

class Database;

struct ServeJob {
  int64_t id = 0;
  std::string repo;           // owner/name
  int64_t pr = 0;
  std::string sha;            // the head commit to test
  std::string recipe;
  std::string user;           // who asked
  std::string state;          // queued | running | done | superseded
  std::string result;         // passed | failed | error | infra | interrupted, once done
  std::string created_at;
  std::string detail;         // the outcome in one line, once done
};

class ServeQueue {
 public:
  static Result<std::unique_ptr<ServeQueue>> Open(const std::string& state_dir);
  ~ServeQueue();

  // Adds a queued job; every older queued or running job of the same pull request is
  // superseded. `running` receives the ids of superseded jobs that were running. With a
  // `seen_key` (a comment's), the key is recorded in the same transaction, and when it was
  // recorded before nothing changes and the id is 0: a request is queued exactly once, and
  // one that could not be queued can be asked again.
  Result<int64_t> Enqueue(const ServeJob& job, std::vector<int64_t>* running, const std::string& seen_key = "");
  // Supersedes the queued and running jobs of a pull request whose commit is not `keep_sha`
  // ("" supersedes all): a push made them stale, or the pull request closed.
  Status Supersede(const std::string& repo, int64_t pr, const std::string& keep_sha, std::vector<int64_t>* running);
  // The oldest queued job, now running; nullopt when none is queued.
  Result<std::optional<ServeJob>> Claim();
  // A running job back to queued (serve is stopping mid-run).
  Status Requeue(int64_t id);
  // Running jobs back to queued, at start (no other serve may use the same state folder);
  // returns how many.
  Result<int> RecoverInterrupted();
  // Marks a running job done. False (and nothing changed) when it was superseded.
  Result<bool> Finish(int64_t id, const std::string& result, const std::string& detail);
  // True when the job may still speak for its pull request: not superseded, and no newer
  // job was asked for on the same pull request.
  Result<bool> IsLatest(int64_t id);
  Result<std::optional<ServeJob>> Get(int64_t id);
  // Jobs asked for since `since_iso` by `user` (any PR), or for `repo`#`pr` (user "").
  Result<int> CountSince(const std::string& repo, int64_t pr, const std::string& user, const std::string& since_iso);
  Result<int> CountInState(const std::string& state);

  // The comment serve keeps on a pull request (0 when none yet).
  Result<int64_t> ReplyComment(const std::string& repo, int64_t pr);
  Status SetReplyComment(const std::string& repo, int64_t pr, int64_t comment_id);
  // Records `key` (a comment id, a delivery); false when it was recorded before.
  Result<bool> FirstSighting(const std::string& key);
  // Whether `key` was recorded; records nothing.
  Result<bool> Seen(const std::string& key);
  Result<std::string> Cursor(const std::string& name);
  Status SetCursor(const std::string& name, const std::string& value);

 private:
  explicit ServeQueue(std::unique_ptr<Database> db);
  Status SupersedeLocked(const std::string& repo, int64_t pr, const std::string& keep_sha, std::vector<int64_t>* running);

  std::mutex mu_;
  std::unique_ptr<Database> db_;
};

}  // namespace harness
