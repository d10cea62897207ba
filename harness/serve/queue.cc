#include "serve/queue.h"

#include <filesystem>

#include "base/time.h"
#include "store/sqlite.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

const char* kSchema =
    "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, repo TEXT NOT NULL, pr INTEGER NOT NULL,"
    " sha TEXT NOT NULL, recipe TEXT NOT NULL, user TEXT NOT NULL, state TEXT NOT NULL,"
    " result TEXT, detail TEXT, created_at TEXT NOT NULL, started_at TEXT, ended_at TEXT);"
    "CREATE INDEX IF NOT EXISTS jobs_pr ON jobs(repo, pr, state);"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);"
    "CREATE TABLE IF NOT EXISTS replies (repo TEXT NOT NULL, pr INTEGER NOT NULL, comment_id INTEGER NOT NULL,"
    " PRIMARY KEY (repo, pr));"
    "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);";

const char* kJobColumns = "id, repo, pr, sha, recipe, user, state, COALESCE(result,''), created_at, COALESCE(detail,'')";

ServeJob ReadJob(const Stmt& s) {
  ServeJob j;
  j.id = s.Int(0);
  j.repo = s.Text(1);
  j.pr = s.Int(2);
  j.sha = s.Text(3);
  j.recipe = s.Text(4);
  j.user = s.Text(5);
  j.state = s.Text(6);
  j.result = s.Text(7);
  j.created_at = s.Text(8);
  j.detail = s.Text(9);
  return j;
}

std::string Now() { return IsoTime(std::chrono::system_clock::now()); }

}  // namespace

Result<std::unique_ptr<ServeQueue>> ServeQueue::Open(const std::string& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) return Status::Infra("cannot create the state folder " + state_dir + ": " + ec.message());
  Database::Options options;
  options.label = "serve queue";
  options.shared_between_threads = true;
  options.synchronous = "FULL";
  auto db = Database::Open(state_dir + "/serve.sqlite", options, [](Database& d) { return d.Run(kSchema); });
  if (!db.ok()) return db.status();
  return std::unique_ptr<ServeQueue>(new ServeQueue(std::move(*db)));
}

ServeQueue::ServeQueue(std::unique_ptr<Database> db) : db_(std::move(db)) {}

ServeQueue::~ServeQueue() = default;

Status ServeQueue::SupersedeLocked(const std::string& repo, int64_t pr, const std::string& keep_sha,
                                   std::vector<int64_t>* running) {
  {
    Stmt s(*db_, "SELECT id FROM jobs WHERE repo = ? AND pr = ? AND state = 'running' AND sha <> ?");
    s.Bind(1, repo).Bind(2, pr).Bind(3, keep_sha);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      if (running != nullptr) running->push_back(s.Int(0));
    }
    if (rc != SQLITE_DONE) return db_->Error("supersede");
  }
  Stmt u(*db_,
         "UPDATE jobs SET state = 'superseded', ended_at = ? WHERE repo = ? AND pr = ? AND state IN ('queued','running')"
         " AND sha <> ?");
  u.Bind(1, Now()).Bind(2, repo).Bind(3, pr).Bind(4, keep_sha);
  if (u.Step() != SQLITE_DONE) return db_->Error("supersede");
  return Status::Ok();
}

Result<int64_t> ServeQueue::Enqueue(const ServeJob& job, std::vector<int64_t>* running,
                                    const std::string& seen_key) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction t(*db_);
  if (t.begin_rc() != SQLITE_OK) return db_->Error("enqueue");
  if (!seen_key.empty()) {
    Stmt seen(*db_, "INSERT OR IGNORE INTO seen (key, at) VALUES (?,?)");
    seen.Bind(1, seen_key).Bind(2, Now());
    if (seen.Step() != SQLITE_DONE) return db_->Error("enqueue");
    if (db_->changes() == 0) return int64_t{0};  // asked before: the transaction rolls back
  }
  // A newer request supersedes every older one of the pull request, whatever its commit.
  std::vector<int64_t> superseded;
  Status s = SupersedeLocked(job.repo, job.pr, "", &superseded);
  Stmt ins(*db_, "INSERT INTO jobs (repo, pr, sha, recipe, user, state, created_at) VALUES (?,?,?,?,?,'queued',?)");
  ins.Bind(1, job.repo).Bind(2, job.pr).Bind(3, job.sha).Bind(4, job.recipe).Bind(5, job.user).Bind(6, Now());
  if (!s.ok() || ins.Step() != SQLITE_DONE) {
    Status err = s.ok() ? db_->Error("enqueue") : s;
    t.Rollback();
    return err;
  }
  int64_t id = db_->last_insert_rowid();
  if (t.Commit() != SQLITE_OK) return db_->Error("enqueue");
  if (running != nullptr) running->insert(running->end(), superseded.begin(), superseded.end());
  return id;
}

Status ServeQueue::Supersede(const std::string& repo, int64_t pr, const std::string& keep_sha,
                             std::vector<int64_t>* running) {
  std::lock_guard<std::mutex> lock(mu_);
  // One transaction: the ids handed back are exactly the jobs that are superseded now.
  Transaction t(*db_);
  if (t.begin_rc() != SQLITE_OK) return db_->Error("supersede");
  std::vector<int64_t> superseded;
  if (Status s = SupersedeLocked(repo, pr, keep_sha, &superseded); !s.ok()) return s;
  if (t.Commit() != SQLITE_OK) return db_->Error("supersede");
  if (running != nullptr) running->insert(running->end(), superseded.begin(), superseded.end());
  return Status::Ok();
}

Result<std::optional<ServeJob>> ServeQueue::Claim() {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction t(*db_);
  if (t.begin_rc() != SQLITE_OK) return db_->Error("claim");
  std::optional<ServeJob> job;
  {
    Stmt s(*db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1").c_str());
    int rc = s.Step();
    if (rc == SQLITE_ROW) {
      job = ReadJob(s);
    } else if (rc != SQLITE_DONE) {
      return db_->Error("claim");
    }
  }
  if (job) {
    Stmt u(*db_, "UPDATE jobs SET state = 'running', started_at = ? WHERE id = ?");
    u.Bind(1, Now()).Bind(2, job->id);
    if (u.Step() != SQLITE_DONE) return db_->Error("claim");  // then rolled back by t
    job->state = "running";
  }
  if (t.Commit() != SQLITE_OK) return db_->Error("claim");
  return job;
}

Status ServeQueue::Requeue(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt u(*db_, "UPDATE jobs SET state = 'queued', started_at = NULL WHERE id = ? AND state = 'running'");
  u.Bind(1, id);
  return u.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("requeue");
}

Result<int> ServeQueue::RecoverInterrupted() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt u(*db_, "UPDATE jobs SET state = 'queued', started_at = NULL WHERE state = 'running'");
  if (u.Step() != SQLITE_DONE) return db_->Error("recover");
  return db_->changes();
}

Result<bool> ServeQueue::Finish(int64_t id, const std::string& result, const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt u(*db_, "UPDATE jobs SET state = 'done', result = ?, detail = ?, ended_at = ? WHERE id = ? AND state = 'running'");
  u.Bind(1, result).Bind(2, detail).Bind(3, Now()).Bind(4, id);
  if (u.Step() != SQLITE_DONE) return db_->Error("finish");
  return db_->changes() == 1;
}

Result<bool> ServeQueue::IsLatest(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(*db_,
         "SELECT j.state <> 'superseded' AND NOT EXISTS (SELECT 1 FROM jobs n WHERE n.repo = j.repo AND n.pr = j.pr"
         " AND n.id > j.id) FROM jobs j WHERE j.id = ?");
  s.Bind(1, id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return false;  // no such job
  if (rc != SQLITE_ROW) return db_->Error("is latest");
  return s.Int(0) != 0;
}

Result<std::optional<ServeJob>> ServeQueue::Get(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(*db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?").c_str());
  s.Bind(1, id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<ServeJob>();
  if (rc != SQLITE_ROW) return db_->Error("get job");
  return std::optional<ServeJob>(ReadJob(s));
}

Result<int> ServeQueue::CountSince(const std::string& repo, int64_t pr, const std::string& user,
                                   const std::string& since_iso) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!user.empty()) {
    Stmt s(*db_, "SELECT COUNT(*) FROM jobs WHERE user = ? AND created_at >= ?");
    s.Bind(1, user).Bind(2, since_iso);
    if (s.Step() != SQLITE_ROW) return db_->Error("count");
    return static_cast<int>(s.Int(0));
  }
  Stmt s(*db_, "SELECT COUNT(*) FROM jobs WHERE repo = ? AND pr = ? AND created_at >= ?");
  s.Bind(1, repo).Bind(2, pr).Bind(3, since_iso);
  if (s.Step() != SQLITE_ROW) return db_->Error("count");
  return static_cast<int>(s.Int(0));
}

Result<int> ServeQueue::CountInState(const std::string& state) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(*db_, "SELECT COUNT(*) FROM jobs WHERE state = ?");
  s.Bind(1, state);
  if (s.Step() != SQLITE_ROW) return db_->Error("count");
  return static_cast<int>(s.Int(0));
}

Result<int64_t> ServeQueue::ReplyComment(const std::string& repo, int64_t pr) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(*db_, "SELECT comment_id FROM replies WHERE repo = ? AND pr = ?");
  s.Bind(1, repo).Bind(2, pr);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return int64_t{0};
  if (rc != SQLITE_ROW) return db_->Error("reply");
  return s.Int(0);
}

Status ServeQueue::SetReplyComment(const std::string& repo, int64_t pr, int64_t comment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(*db_, "INSERT OR REPLACE INTO replies (repo, pr, comment_id) VALUES (?,?,?)");
  s.Bind(1, repo).Bind(2, pr).Bind(3, comment_id);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("reply");
}

Result<bool> ServeQueue::FirstSighting(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(*db_, "INSERT OR IGNORE INTO seen (key, at) VALUES (?,?)");
  s.Bind(1, key).Bind(2, Now());
  if (s.Step() != SQLITE_DONE) return db_->Error("seen");
  return db_->changes() == 1;
}

Result<bool> ServeQueue::Seen(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(*db_, "SELECT 1 FROM seen WHERE key = ?");
  s.Bind(1, key);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error("seen");
}

Result<std::string> ServeQueue::Cursor(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(*db_, "SELECT value FROM cursors WHERE name = ?");
  s.Bind(1, name);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return db_->Error("cursor");
  return s.Text(0);
}

Status ServeQueue::SetCursor(const std::string& name, const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(*db_, "INSERT OR REPLACE INTO cursors (name, value) VALUES (?,?)");
  s.Bind(1, name).Bind(2, value);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("cursor");
}

}  // namespace harness
