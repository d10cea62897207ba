// The ledger on real SQLite files, and run liveness with real locks and processes.
#include "ledger/ledger.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "base/temp_dir.h"
#include "ledger/liveness.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

struct StateDir {
  TempDir dir{"ledger-test"};
  const std::string& path = dir.path();
};

RunRecord Run(const std::string& id, const std::string& ns) {
  RunRecord r;
  r.id = id;
  r.recipe = "web";
  r.namespace_name = ns;
  r.pid = 42;
  return r;
}

TEST_CASE("finished runs by run, sweep, time window and recipe", "[ledger]") {
  StateDir dir;
  auto ledger = Ledger::Open(dir.path);
  REQUIRE(ledger.ok());
  Ledger& l = **ledger;
  CHECK(*l.LatestSweep() == "");
  auto add = [&](const std::string& id, const std::string& recipe, const std::string& sweep,
                 const std::string& started, bool finished) {
    RunRecord r = Run(id, recipe + "-" + id);
    r.recipe = recipe;
    r.sweep = sweep;
    r.artifacts = "/artifacts/" + id;
    r.started_at = started;
    REQUIRE(l.BeginRun(r).ok());
    if (finished) REQUIRE(l.EndRun(id, "1.0.0", "passed", 0, "{\"run_id\":\"" + id + "\"}").ok());
  };
  add("a", "web", "sweep-1", "2026-11-20T05:00:00.000Z", true);
  add("b", "notes", "sweep-1", "2026-11-20T05:00:01.000Z", true);
  add("c", "web", "sweep-2", "2026-11-21T05:00:00.000Z", true);
  add("d", "web", "", "2026-11-22T05:00:00.000Z", true);
  add("e", "web", "sweep-3", "2026-11-23T05:00:00.000Z", false);  // died: no summary
  REQUIRE(l.BeginRun(Run("load", "load-x")).ok());                 // a run without a summary
  REQUIRE(l.EndRun("load", "", "passed", 0).ok());
  auto ids = [&](const RunQuery& q) {
    std::vector<std::string> out;
    auto runs = l.FinishedRuns(q);
    REQUIRE(runs.ok());
    for (const auto& r : *runs) out.push_back(r.id);
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(ids({}) == V{"a", "b", "c", "d"});
  CHECK(ids({"c", "", "", "", 0}) == V{"c"});
  CHECK(ids({"", "sweep-1", "", "", 0}) == V{"a", "b"});
  CHECK(ids({"", "", "2026-11-21T05:00:00.000Z", "", 0}) == V{"c", "d"});
  CHECK(ids({"", "", "", "web", 0}) == V{"a", "c", "d"});
  CHECK(ids({"", "", "", "web", 2}) == V{"c", "d"});  // the newest two, oldest first
  auto one = l.FinishedRuns({"b", "", "", "", 0});
  REQUIRE(one.ok());
  REQUIRE(one->size() == 1);
  CHECK((*one)[0].sweep == "sweep-1");
  CHECK((*one)[0].artifacts == "/artifacts/b");
  CHECK((*one)[0].summary == "{\"run_id\":\"b\"}");
  CHECK(*l.LatestSweep() == "sweep-3");
}

TEST_CASE("the latest triage verdict on a recipe since a time", "[ledger]") {
  StateDir dir;
  auto ledger = Ledger::Open(dir.path);
  REQUIRE(ledger.ok());
  Ledger& l = **ledger;
  REQUIRE(l.RecordVerdict({"broken", "undecided", "c1", "r1", "2026-11-20T06:00:00.000Z"}).ok());
  REQUIRE(l.RecordVerdict({"broken", "genuine", "c2", "r2", "2026-11-21T06:00:00.000Z"}).ok());
  REQUIRE(l.RecordVerdict({"web", "load-flake", "c3", "r3", "2026-11-22T06:00:00.000Z"}).ok());
  auto v = l.LatestVerdict("broken", "2026-11-19T00:00:00.000Z");
  REQUIRE(v.ok());
  REQUIRE(v->has_value());
  CHECK((*v)->verdict == "genuine");
  CHECK((*v)->confidence == "c2");
  CHECK_FALSE(l.LatestVerdict("broken", "2026-11-22T00:00:00.000Z")->has_value());  // none since
  CHECK_FALSE(l.LatestVerdict("notes", "")->has_value());
}

TEST_CASE("a ledger written by an older harness is brought up to date in place", "[ledger]") {
  StateDir dir;
  {
    // The first schema: runs without sweep, artifacts and summary.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir.path + "/ledger.sqlite").c_str(), &db) == SQLITE_OK);
    const char* v0 =
        "CREATE TABLE runs (id TEXT PRIMARY KEY, recipe TEXT NOT NULL, version TEXT NOT NULL,"
        " namespace TEXT NOT NULL, pid INTEGER NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,"
        " result TEXT, exit_code INTEGER);"
        "INSERT INTO runs VALUES ('old', 'web', '1', 'web-old', 1, '2026-11-01T00:00:00.000Z',"
        " '2026-11-01T00:01:00.000Z', 'passed', 0);";
    REQUIRE(sqlite3_exec(db, v0, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  for (int open = 0; open < 2; ++open) {  // and opening it again changes nothing
    auto ledger = Ledger::Open(dir.path);
    REQUIRE(ledger.ok());
    auto old = (*ledger)->FindRunByNamespace("web-old");
    REQUIRE(old.ok());
    REQUIRE(old->has_value());
    CHECK((*old)->result == "passed");
    CHECK((*old)->summary == "");
    CHECK((*old)->target == "local");  // runs from before targets were recorded ran here
    CHECK((*ledger)->FinishedRuns({})->empty());  // it has no summary to report from
  }
  auto ledger = Ledger::Open(dir.path);
  RunRecord r = Run("new", "web-new");
  r.sweep = "sweep-9";
  REQUIRE((*ledger)->BeginRun(r).ok());
  REQUIRE((*ledger)->EndRun("new", "2", "failed", 1, "{}").ok());
  CHECK((*ledger)->FinishedRuns({})->size() == 1);
}

TEST_CASE("open runs are listed per target", "[ledger]") {
  StateDir dir;
  auto ledger = Ledger::Open(dir.path);
  REQUIRE(ledger.ok());
  Ledger& l = **ledger;
  RunRecord here = Run("r1", "web-aaaaaa");
  RunRecord there = Run("r2", "web-bbbbbb");
  there.target = "ssh://root@10.0.0.2:22";
  REQUIRE(l.BeginRun(here).ok());
  REQUIRE(l.BeginRun(there).ok());
  REQUIRE(l.PlanResource("r1", "stack", "web-aaaaaa").ok());
  REQUIRE(l.PlanResource("r2", "stack", "web-bbbbbb").ok());
  CHECK(l.RunsWithOpenResources()->size() == 2);
  auto local = l.RunsWithOpenResources("local");
  REQUIRE(local->size() == 1);
  CHECK((*local)[0].id == "r1");
  CHECK((*local)[0].target == "local");
  auto remote = l.RunsWithOpenResources("ssh://root@10.0.0.2:22");
  REQUIRE(remote->size() == 1);
  CHECK((*remote)[0].id == "r2");
  CHECK((*remote)[0].target == "ssh://root@10.0.0.2:22");
  CHECK(l.RunsWithOpenResources("ssh://root@10.0.0.3:22")->empty());
}

TEST_CASE("resources are open from planning until verified removed", "[ledger]") {
  StateDir dir;
  auto ledger = Ledger::Open(dir.path);
  REQUIRE(ledger.ok());
  Ledger& l = **ledger;
  REQUIRE(l.BeginRun(Run("r1", "web-aaaaaa")).ok());
  REQUIRE(l.BeginRun(Run("r2", "web-bbbbbb")).ok());
  REQUIRE(l.PlanResource("r1", "secret", "web-aaaaaa_db_v1").ok());
  REQUIRE(l.PlanResource("r1", "stack", "web-aaaaaa").ok());
  auto open = l.RunsWithOpenResources();
  REQUIRE(open.ok());
  REQUIRE(open->size() == 1);
  CHECK((*open)[0].id == "r1");
  CHECK((*open)[0].open_resources == 2);
  CHECK((*open)[0].ended_at.empty());

  REQUIRE(l.RecordPhase({"r1", 1, "deploy", "ok", "2026-11-26T00:00:00.000Z", 120, ""}).ok());
  REQUIRE(l.MarkRunResourcesRemoved("r1").ok());
  REQUIRE(l.EndRun("r1", "1.0.0+2", "passed", 0).ok());
  CHECK(l.RunsWithOpenResources()->empty());
  auto found = l.FindRunByNamespace("web-aaaaaa");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->result == "passed");
  CHECK((*found)->version == "1.0.0+2");
  CHECK(l.Phases("r1")->size() == 1);
  CHECK_FALSE(l.FindRunByNamespace("nope")->has_value());
  CHECK_FALSE(l.BeginRun(Run("r1", "again")).ok());  // ids are unique
}

TEST_CASE("expected durations come from the recipe's finished runs", "[ledger]") {
  StateDir dir;
  auto ledger = Ledger::Open(dir.path);
  REQUIRE(ledger.ok());
  Ledger& l = **ledger;
  CHECK(*l.ExpectedDuration("web") == Duration(0));
  auto add = [&](const std::string& id, std::vector<int64_t> phases, const char* result) {
    REQUIRE(l.BeginRun(Run(id, "web-" + id)).ok());
    int n = 0;
    for (auto ms : phases) REQUIRE(l.RecordPhase({id, n++, "p", "ok", "2026-11-26T00:00:00.000Z", ms, ""}).ok());
    if (result) REQUIRE(l.EndRun(id, "1", result, 0).ok());
  };
  add("a", {1000, 2000}, "passed");       // 3 s
  add("b", {4000, 1000}, "failed");       // 5 s
  add("c", {60000}, "interrupted");       // not counted: interrupted
  add("d", {90000}, nullptr);             // not counted: still running (or died)
  CHECK(*l.ExpectedDuration("web") == Duration(4000));
  CHECK(*l.ExpectedDuration("other") == Duration(0));
}

TEST_CASE("several connections (processes) share one ledger", "[ledger]") {
  StateDir dir;
  auto a = Ledger::Open(dir.path);
  auto b = Ledger::Open(dir.path);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE((*a)->BeginRun(Run("ra", "a-111111")).ok());
  REQUIRE((*b)->BeginRun(Run("rb", "b-222222")).ok());
  REQUIRE((*a)->PlanResource("rb", "stack", "b-222222").ok());
  auto open = (*b)->RunsWithOpenResources();
  REQUIRE(open.ok());
  CHECK(open->size() == 1);
  // A forked writer while this process holds connections.
  pid_t child = fork();
  if (child == 0) {
    auto c = Ledger::Open(dir.path);
    bool ok = c.ok() && (*c)->BeginRun(Run("rc", "c-333333")).ok() &&
              (*c)->PlanResource("rc", "stack", "c-333333").ok();
    _exit(ok ? 0 : 1);
  }
  int st = 0;
  waitpid(child, &st, 0);
  CHECK(WEXITSTATUS(st) == 0);
  CHECK((*a)->RunsWithOpenResources()->size() == 2);
}

TEST_CASE("processes opening a new ledger at the same moment all succeed", "[ledger]") {
  for (int round = 0; round < 10; ++round) {
    StateDir dir;
    std::vector<pid_t> children;
    for (int i = 0; i < 4; ++i) {
      pid_t child = fork();
      if (child == 0) {
        auto l = Ledger::Open(dir.path);
        _exit(l.ok() && (*l)->RunsWithOpenResources().ok() ? 0 : 1);
      }
      children.push_back(child);
    }
    for (pid_t c : children) {
      int st = 0;
      waitpid(c, &st, 0);
      INFO("round " << round);
      CHECK(WEXITSTATUS(st) == 0);
    }
  }
}

TEST_CASE("an unwritable state folder is an infrastructure error", "[ledger]") {
  auto l = Ledger::Open("/proc/no-such-dir/state");
  CHECK(l.status().code() == Status::Code::kInfra);
}

TEST_CASE("a run is live while its lock is held, dead once its process died", "[ledger]") {
  StateDir dir;
  CHECK(LockLiveness(dir.path, "web-aaaaaa") == Liveness::kUnknown);
  {
    auto lock = RunLock::Acquire(dir.path, "web-aaaaaa");
    REQUIRE(lock.ok());
    CHECK(LockLiveness(dir.path, "web-aaaaaa") == Liveness::kLive);
    CHECK_FALSE(RunLock::Acquire(dir.path, "web-aaaaaa").ok());
  }
  CHECK(LockLiveness(dir.path, "web-aaaaaa") == Liveness::kUnknown);  // released cleanly

  // A process that takes the lock and is SIGKILLed leaves a free lock file: dead.
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t child = fork();
  if (child == 0) {
    auto lock = RunLock::Acquire(dir.path, "web-bbbbbb");
    char c = lock.ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  REQUIRE(c == 'y');
  CHECK(LockLiveness(dir.path, "web-bbbbbb") == Liveness::kLive);
  kill(child, SIGKILL);
  int st;
  waitpid(child, &st, 0);
  CHECK(LockLiveness(dir.path, "web-bbbbbb") == Liveness::kDead);
  RemoveDeadLock(dir.path, "web-bbbbbb");
  CHECK(LockLiveness(dir.path, "web-bbbbbb") == Liveness::kUnknown);
  close(ready[0]);
  close(ready[1]);
}

TEST_CASE("owner labels tell live from dead processes on this host", "[ledger]") {
  std::string me = ThisProcessOwner();
  CHECK(OwnerLiveness(me) == Liveness::kLive);
  std::string host = me.substr(0, me.find('/'));
  CHECK(OwnerLiveness(host + "/999999999/1") == Liveness::kDead);
  // Our pid with another start time: the pid was reused, the owner is gone.
  CHECK(OwnerLiveness(host + "/" + std::to_string(getpid()) + "/1") == Liveness::kDead);
  CHECK(OwnerLiveness("another-host/1/1") == Liveness::kUnknown);
  CHECK(OwnerLiveness("garbage") == Liveness::kUnknown);
}

}  // namespace
}  // namespace harness
