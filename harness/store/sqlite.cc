#include "store/sqlite.h"

#include <algorithm>
#include <cstring>
#include <thread>

namespace harness {

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, const Options& options,
                                                 const std::function<int(Database&)>& setup) {
  sqlite3* handle = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
              (options.shared_between_threads ? SQLITE_OPEN_FULLMUTEX : SQLITE_OPEN_NOMUTEX);
  if (sqlite3_open_v2(path.c_str(), &handle, flags, nullptr) != SQLITE_OK) {
    std::string msg = handle ? sqlite3_errmsg(handle) : "out of memory";
    sqlite3_close(handle);
    return Status::Infra("cannot open the " + options.label + " " + path + ": " + msg);
  }
  std::unique_ptr<Database> db(new Database(handle, path, options.label));
  sqlite3_busy_timeout(handle, static_cast<int>(options.busy_timeout.count()));
  const std::string synchronous = "PRAGMA synchronous=" + options.synchronous + ";";
  auto initialise = [&]() {
    int rc = db->Run("PRAGMA journal_mode=WAL;");
    if (rc == SQLITE_OK) rc = db->Run(synchronous.c_str());
    if (rc == SQLITE_OK && options.foreign_keys) rc = db->Run("PRAGMA foreign_keys=ON;");
    if (rc == SQLITE_OK && setup) rc = setup(*db);
    return rc;
  };
  int rc = options.retry_setup ? RetryWhileBusy(Deadline::In(options.busy_timeout), initialise) : initialise();
  if (rc != SQLITE_OK) return db->Error("initialise");
  return db;
}

Database::~Database() { sqlite3_close(db_); }

int Database::Run(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }

Status Database::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Infra(label_ + " " + path_ + ": " + msg);
  }
  return Status::Ok();
}

Status Database::Error(const std::string& what) const {
  std::string msg = sqlite3_errmsg(db_);
  // SQLite says "disk I/O error" for a full disk, a read-only file system and more: the
  // operating system's reason tells them apart.
  const int primary = sqlite3_extended_errcode(db_) & 0xff;
  int sys = sqlite3_system_errno(db_);
  if (sys == 0) {
    // SQLite does not keep it for every failure (not for a failed commit): the files keep
    // the last one they met, the write-ahead log first, where a commit writes.
    sqlite3_file* wal = nullptr;
    if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK && wal != nullptr &&
        wal->pMethods != nullptr) {
      wal->pMethods->xFileControl(wal, SQLITE_FCNTL_LAST_ERRNO, &sys);
    }
    if (sys == 0) sqlite3_file_control(db_, "main", SQLITE_FCNTL_LAST_ERRNO, &sys);
  }
  if (sys != 0 && (primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN ||
                   primary == SQLITE_READONLY)) {
    msg += std::string(" (") + std::strerror(sys) + ")";
  }
  return Status::Infra(label_ + " " + path_ + ": " + what + ": " + msg);
}

int Transaction::Commit() {
  if (done_ || begin_rc_ != SQLITE_OK) return db_.Run("COMMIT;");
  int rc = db_.Run("COMMIT;");
  done_ = rc == SQLITE_OK;
  return rc;
}

void Transaction::Rollback() {
  if (!done_ && begin_rc_ == SQLITE_OK) db_.Run("ROLLBACK;");
  done_ = true;
}

bool IsBusy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

int RetryWhileBusy(const Deadline& until, const std::function<int()>& step) {
  int pause_ms = 10;
  while (true) {
    int rc = step();
    if (!IsBusy(rc) || until.passed()) return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    pause_ms = std::min(pause_ms * 2, 200);
  }
}

}  // namespace harness
