// Database, Stmt and Transaction: the one SQLite layer, used by the ledger and the serve
// queue.
//
// A Database owns one connection to one file. Open() sets the busy timeout,
// journal_mode=WAL, the synchronous level and (if asked) foreign keys, then runs the
// owner's `setup` (schema, migrations). When several processes open a new file at the same
// moment, SQLite can fail these steps at once with "database is locked" without calling the
// busy handler (waiting could deadlock); Open() can then retry them (RetryWhileBusy).
// A Stmt is a prepared statement, finalised on destruction. A Transaction is a
// BEGIN IMMEDIATE that is rolled back unless committed.
//
// Errors name the database by its label and path: "ledger /x/ledger.sqlite: record run: …".
//
// Thread-safety: a Database opened with `shared_between_threads` (SQLITE_OPEN_FULLMUTEX)
// may be called from any thread, though statements that must not interleave need the
// owner's lock; otherwise (SQLITE_OPEN_NOMUTEX) from one thread at a time. A Stmt or a
// Transaction belongs to the thread using its Database and must not outlive it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/deadline.h"
#include "base/status.h"

namespace harness {

class Database {
 public:
  struct Options {
    std::string label;                    // "ledger": names the database in messages
    bool shared_between_threads = false;  // SQLITE_OPEN_FULLMUTEX instead of NOMUTEX
    std::string synchronous = "NORMAL";   // PRAGMA synchronous
    bool foreign_keys = false;            // PRAGMA foreign_keys=ON
    Duration busy_timeout{10000};         // sqlite3_busy_timeout, and the setup retry's budget
    bool retry_setup = false;             // retry the pragmas and `setup` while busy or locked
  };

  // Opens (creating if needed) the file at `path`. `setup` runs after the pragmas and
  // returns an SQLite result code. Infra when the file cannot be opened ("cannot open the
  // <label> <path>: …") or set up ("<label> <path>: initialise: …").
  static Result<std::unique_ptr<Database>> Open(const std::string& path, const Options& options,
                                                const std::function<int(Database&)>& setup = nullptr);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs `sql` (any number of statements); the SQLite result code.
  int Run(const char* sql);
  // As Run, as a Status: "<label> <path>: <SQLite's message>".
  Status Exec(const std::string& sql);
  // "<label> <path>: <what>: <SQLite's last error>", with the operating system's reason
  // for an I/O error ("disk I/O error (No space left on device)").
  Status Error(const std::string& what) const;

  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  // Rows changed by the last statement.
  int changes() const { return sqlite3_changes(db_); }
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, std::string path, std::string label)
      : db_(db), path_(std::move(path)), label_(std::move(label)) {}
  sqlite3* db_;
  std::string path_;
  std::string label_;
};

class Stmt {
 public:
  Stmt(Database& db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db.handle(), sql, -1, &s_, nullptr);
  }
  Stmt(Database& db, const std::string& sql) : Stmt(db, sql.c_str()) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // False when the statement did not compile (Database::Error says why).
  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(s_); }
  // Columns of the current row; "" for a NULL text.
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(s_, col);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db), begin_rc_(db.Run("BEGIN IMMEDIATE;")) {}
  ~Transaction() { Rollback(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // The result of BEGIN IMMEDIATE (not SQLITE_OK: no transaction was started).
  int begin_rc() const { return begin_rc_; }
  // The result of COMMIT. On failure the transaction is still rolled back later.
  int Commit();
  // Rolls back now (nothing when committed or never begun).
  void Rollback();

 private:
  Database& db_;
  int begin_rc_;
  bool done_ = false;
};

// True for SQLITE_BUSY and SQLITE_LOCKED, extended codes included.
bool IsBusy(int rc);

// Runs `step` until it returns something other than busy/locked or `until` passes, pausing
// 10 ms, doubling up to 200 ms, between tries. Returns the last result code.
int RetryWhileBusy(const Deadline& until, const std::function<int()>& step);

}  // namespace harness
