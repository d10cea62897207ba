#include "store/sqlite.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <thread>

#include "base/temp_dir.h"

namespace harness {
namespace {

Database::Options Opts() {
  Database::Options o;
  o.label = "test store";
  return o;
}

TEST_CASE("a database opens in WAL mode with the asked pragmas", "[store]") {
  TempDir dir("store-test");
  Database::Options o = Opts();
  o.synchronous = "FULL";
  o.foreign_keys = true;
  auto db = Database::Open(dir.path() + "/a.sqlite", o, [](Database& d) { return d.Run("CREATE TABLE t (v TEXT);"); });
  REQUIRE(db.ok());
  Stmt mode(**db, "PRAGMA journal_mode;");
  REQUIRE(mode.Step() == SQLITE_ROW);
  CHECK(mode.Text(0) == "wal");
  Stmt sync(**db, "PRAGMA synchronous;");
  REQUIRE(sync.Step() == SQLITE_ROW);
  CHECK(sync.Int(0) == 2);  // FULL
  Stmt fk(**db, "PRAGMA foreign_keys;");
  REQUIRE(fk.Step() == SQLITE_ROW);
  CHECK(fk.Int(0) == 1);
}

TEST_CASE("statements bind, step and read columns; errors name the database", "[store]") {
  TempDir dir("store-test");
  auto db = Database::Open(dir.path() + "/a.sqlite", Opts(),
                           [](Database& d) { return d.Run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER);"); });
  REQUIRE(db.ok());
  Database& d = **db;
  {
    Stmt ins(d, "INSERT INTO t (v, n) VALUES (?, ?)");
    REQUIRE(ins.ok());
    ins.Bind(1, std::string("it's")).Bind(2, int64_t{42});
    REQUIRE(ins.Step() == SQLITE_DONE);
    CHECK(d.last_insert_rowid() == 1);
    CHECK(d.changes() == 1);
  }
  Stmt sel(d, "SELECT v, n, NULL FROM t WHERE n = ?");
  sel.Bind(1, int64_t{42});
  REQUIRE(sel.Step() == SQLITE_ROW);
  CHECK(sel.Text(0) == "it's");
  CHECK(sel.Int(1) == 42);
  CHECK(sel.Text(2) == "");
  CHECK(sel.Step() == SQLITE_DONE);

  Stmt bad(d, "SELECT nonsense FROM nowhere");
  CHECK_FALSE(bad.ok());
  Status s = d.Error("prepare");
  CHECK(s.code() == Status::Code::kInfra);
  CHECK(s.message().find("test store " + dir.path() + "/a.sqlite: prepare: no such table") == 0);
  Status e = d.Exec("INSERT INTO nowhere VALUES (1)");
  CHECK(e.message().find("test store " + dir.path() + "/a.sqlite: no such table") == 0);
  CHECK(d.Exec("DELETE FROM t").ok());
}

TEST_CASE("a transaction is rolled back unless committed", "[store]") {
  TempDir dir("store-test");
  auto db = Database::Open(dir.path() + "/a.sqlite", Opts(), [](Database& d) { return d.Run("CREATE TABLE t (v INTEGER);"); });
  REQUIRE(db.ok());
  Database& d = **db;
  {
    Transaction t(d);
    REQUIRE(t.begin_rc() == SQLITE_OK);
    REQUIRE(d.Run("INSERT INTO t VALUES (1);") == SQLITE_OK);
  }
  {
    Transaction t(d);
    REQUIRE(d.Run("INSERT INTO t VALUES (2);") == SQLITE_OK);
    CHECK(t.Commit() == SQLITE_OK);
  }
  Stmt s(d, "SELECT group_concat(v) FROM t");
  REQUIRE(s.Step() == SQLITE_ROW);
  CHECK(s.Text(0) == "2");
}

TEST_CASE("opening waits out another connection's write lock", "[store]") {
  TempDir dir("store-test");
  const std::string path = dir.path() + "/a.sqlite";
  auto first = Database::Open(path, Opts());
  REQUIRE(first.ok());
  Database::Options quick = Opts();
  quick.busy_timeout = Duration(300);

  // While the first connection holds the write lock, a setup that writes cannot finish.
  auto holder = std::make_unique<Transaction>(**first);
  REQUIRE(holder->begin_rc() == SQLITE_OK);
  auto refused = Database::Open(path, quick, [](Database& d) { return d.Run("CREATE TABLE t (v INTEGER);"); });
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("initialise: database is locked") != std::string::npos);

  // With the retry, the open succeeds once the lock is let go meanwhile.
  Database::Options patient = Opts();
  patient.busy_timeout = Duration(20000);
  patient.retry_setup = true;
  std::atomic<int> tries{0}, refusals{0};
  std::thread opener([&] {
    auto db = Database::Open(path, patient, [&](Database& d) {
      ++tries;
      // Checks the lock without the busy handler, as SQLite does where waiting could deadlock.
      sqlite3_busy_timeout(d.handle(), 0);
      int rc = d.Run("CREATE TABLE IF NOT EXISTS t (v INTEGER);");
      sqlite3_busy_timeout(d.handle(), 20000);
      if (IsBusy(rc)) ++refusals;
      return rc;
    });
    CHECK(db.ok());
  });
  while (refusals.load() < 1) std::this_thread::yield();  // refused at least once: retrying
  holder.reset();                                          // lets go of the write lock
  opener.join();
  CHECK(refusals.load() >= 1);
  CHECK(tries.load() == refusals.load() + 1);   // retried until it succeeded, once
}

TEST_CASE("RetryWhileBusy stops on success, on other errors and at its deadline", "[store]") {
  int calls = 0;
  CHECK(RetryWhileBusy(Deadline::In(Duration(5000)), [&] { return ++calls < 3 ? SQLITE_BUSY : SQLITE_OK; }) == SQLITE_OK);
  CHECK(calls == 3);
  calls = 0;
  CHECK(RetryWhileBusy(Deadline::In(Duration(5000)), [&] { return ++calls, SQLITE_CORRUPT; }) == SQLITE_CORRUPT);
  CHECK(calls == 1);
  CHECK(RetryWhileBusy(Deadline::In(Duration(0)), [] { return SQLITE_LOCKED; }) == SQLITE_LOCKED);
  CHECK(IsBusy(SQLITE_BUSY_SNAPSHOT));
  CHECK_FALSE(IsBusy(SQLITE_DONE));
}

}  // namespace
}  // namespace harness
