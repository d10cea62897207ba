// engine_bench: what the harness itself costs, without Docker.
//
//   start-up      `harness --help`, median of 20 (a fresh process each)
//   scripts       loading 500 recipe scripts (copies of recipes/web/recipe.lua) in fresh
//                 sandboxes, as a sweep's plan does
//   ledger        the ledger's queries over 200,000 runs with 1,000,000 phase rows
//
// Build: cmake --build build --target engine_bench; run: build/bench/engine_bench
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "base/temp_dir.h"
#include "ledger/ledger.h"
#include "script/engine.h"

using namespace harness;
using Clock = std::chrono::steady_clock;

namespace {

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double TimeMs(const std::function<void()>& f) {
  auto t = Clock::now();
  f();
  return Ms(Clock::now() - t);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void StartUp() {
  std::vector<double> times;
  for (int i = 0; i < 20; ++i) {
    times.push_back(TimeMs([] {
      pid_t pid = fork();
      if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(HARNESS_BINARY, HARNESS_BINARY, "--help", static_cast<char*>(nullptr));
        _exit(127);
      }
      int st;
      waitpid(pid, &st, 0);
    }));
  }
  std::printf("start-up       harness --help: median %.1f ms (20 runs)\n", Median(times));
}

void Scripts() {
  std::ifstream f(HARNESS_SOURCE_DIR "/recipes/web/recipe.lua");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string source = ss.str();
  int loaded = 0;
  double ms = TimeMs([&] {
    for (int i = 0; i < 500; ++i) {
      std::string name = "web" + std::to_string(i);
      ScriptEngine engine("recipes/" + name + "/recipe.lua", name);
      if (engine.Load(source).ok()) ++loaded;
    }
  });
  std::printf("scripts        500 recipe scripts loaded in %.0f ms (%.2f ms each; %d loaded)\n", ms, ms / 500, loaded);
}

void LedgerQueries() {
  TempDir dir("engine-bench");
  auto ledger = Ledger::Open(dir.path());
  if (!ledger.ok()) {
    std::printf("ledger         cannot open: %s\n", ledger.status().message().c_str());
    return;
  }
  Ledger& l = **ledger;
  // 200,000 finished runs of 200 recipes, 5 phases each: 1,000,000 phase rows, written
  // beside the ledger's own connection (the schema is the ledger's).
  sqlite3* db = nullptr;
  sqlite3_open((dir.path() + "/ledger.sqlite").c_str(), &db);
  auto exec = [&](const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) std::printf("fill: %s\n", err ? err : "?");
    sqlite3_free(err);
  };
  double fill = TimeMs([&] {
    exec("BEGIN;");
    exec(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199999) "
        "INSERT INTO runs (id, recipe, version, namespace, pid, started_at, ended_at, result, exit_code, sweep, "
        "artifacts, summary, target) SELECT printf('run-%07d', i), printf('recipe%03d', i % 200), '1.0.0+1', "
        "printf('ns%07d', i), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 1700000000 + i * 60, 'unixepoch'), "
        "strftime('%Y-%m-%dT%H:%M:%fZ', 1700000030 + i * 60, 'unixepoch'), CASE WHEN i % 7 = 0 THEN 'failed' "
        "ELSE 'passed' END, CASE WHEN i % 7 = 0 THEN 1 ELSE 0 END, printf('sweep-%05d', i / 200), '', '{}', "
        "'local' FROM n;");
    exec(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999) "
        "INSERT INTO phases (run_id, number, name, status, started_at, elapsed_ms) SELECT printf('run-%07d', i / 5), "
        "i % 5, CASE i % 5 WHEN 0 THEN 'prepare' WHEN 1 THEN 'deploy' WHEN 2 THEN 'converge' WHEN 3 THEN 'test' "
        "ELSE 'teardown' END, 'ok', '2026-01-01T00:00:00.000Z', 1000 FROM n;");
    exec("COMMIT;");
  });
  sqlite3_close(db);
  std::printf("ledger         filled with 200,000 runs and 1,000,000 phase rows in %.0f ms\n", fill);
  auto report = [](const char* what, double ms) { std::printf("  %-44s %8.2f ms\n", what, ms); };
  report("RunsWithOpenResources (every run, reap)", TimeMs([&] { (void)l.RunsWithOpenResources(); }));
  report("ExpectedDuration (one recipe, sweep plan)", TimeMs([&] { (void)l.ExpectedDuration("recipe042"); }));
  report("LatestSweep (report)", TimeMs([&] { (void)l.LatestSweep(); }));
  report("Phases (one run)", TimeMs([&] { (void)l.Phases("run-0123456"); }));
  report("FindRunByNamespace", TimeMs([&] { (void)l.FindRunByNamespace("ns0123456"); }));
  report("PassedColdRun (promote)", TimeMs([&] { (void)l.PassedColdRun("recipe042", "1.0.0+1"); }));
  RunQuery q;
  q.sweep = "sweep-00999";
  report("FinishedRuns of one sweep (report)", TimeMs([&] { (void)l.FinishedRuns(q); }));
  RunQuery recent;
  recent.recipe = "recipe042";
  recent.limit = 30;
  report("FinishedRuns, last 30 of a recipe (history)", TimeMs([&] { (void)l.FinishedRuns(recent); }));
}

}  // namespace

int main() {
  StartUp();
  Scripts();
  LedgerQueries();
  return 0;
}
