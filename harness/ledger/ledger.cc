#include "ledger/ledger.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "base/time.h"
#include "store/sqlite.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  recipe TEXT NOT NULL,
  version TEXT NOT NULL,
  namespace TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  result TEXT,
  exit_code INTEGER
);
CREATE INDEX IF NOT EXISTS runs_namespace ON runs(namespace);
CREATE INDEX IF NOT EXISTS runs_recipe ON runs(recipe, started_at);
CREATE TABLE IF NOT EXISTS phases (
  run_id TEXT NOT NULL REFERENCES runs(id),
  number INTEGER NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT NOT NULL,
  elapsed_ms INTEGER NOT NULL,
  error TEXT,
  PRIMARY KEY (run_id, number)
);
CREATE TABLE IF NOT EXISTS resources (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id),
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  planned_at TEXT NOT NULL,
  removed_at TEXT
);
CREATE INDEX IF NOT EXISTS resources_open ON resources(run_id) WHERE removed_at IS NULL;
)sql";

// Schema versions after the first: each adds to what came before, so a ledger written by
// an older harness is brought up to date in place (PRAGMA user_version counts them).
const char* kMigrations[] = {
    // 1: reports — the sweep of a run, its artifact folder and its summary.
    "ALTER TABLE runs ADD COLUMN sweep TEXT;"
    "ALTER TABLE runs ADD COLUMN artifacts TEXT;"
    "ALTER TABLE runs ADD COLUMN summary TEXT;"
    "CREATE INDEX IF NOT EXISTS runs_sweep ON runs(sweep);"
    "PRAGMA user_version = 1;",
    // 2: triage verdicts, for reports.
    "CREATE TABLE IF NOT EXISTS verdicts (id INTEGER PRIMARY KEY, recipe TEXT NOT NULL,"
    " verdict TEXT NOT NULL, confidence TEXT, reason TEXT, decided_at TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS verdicts_recipe ON verdicts(recipe, decided_at);"
    "PRAGMA user_version = 2;",
    // 3: the warm canon and its promotions.
    "CREATE TABLE IF NOT EXISTS warm (recipe TEXT PRIMARY KEY, namespace TEXT NOT NULL,"
    " version TEXT NOT NULL, advanced_at TEXT NOT NULL, hold TEXT);"
    "CREATE TABLE IF NOT EXISTS promotions (id INTEGER PRIMARY KEY, recipe TEXT NOT NULL,"
    " from_version TEXT, to_version TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,"
    " result TEXT, detail TEXT);"
    "CREATE INDEX IF NOT EXISTS promotions_recipe ON promotions(recipe, id);"
    "PRAGMA user_version = 3;",
    // 4: where each run deployed ("local", "ssh://user@host:port"), so that a reap through
    // one target never takes another target's runs for removed.
    "ALTER TABLE runs ADD COLUMN target TEXT;"
    "PRAGMA user_version = 4;",
    // 5: the newest runs first (the latest sweep, a time window) without reading them all.
    "CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at);"
    "PRAGMA user_version = 5;",
};

std::string Now() { return IsoTime(std::chrono::system_clock::now()); }

// Brings the schema up to the latest version; an SQLite result code.
int Migrate(Database& db) {
  // One writer at a time: the version is read and advanced inside one transaction.
  Transaction t(db);
  if (t.begin_rc() != SQLITE_OK) return t.begin_rc();
  int version = 0;
  {
    Stmt s(db, "PRAGMA user_version;");
    if (s.ok() && s.Step() == SQLITE_ROW) version = static_cast<int>(s.Int(0));
  }
  constexpr int kLatest = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
  int rc = SQLITE_OK;
  for (int v = version; v < kLatest && rc == SQLITE_OK; ++v) rc = db.Run(kMigrations[v]);
  if (rc == SQLITE_OK) t.Commit();
  return rc;
}

const char* kRunColumns =
    "r.id, r.recipe, r.version, r.namespace, r.pid, r.started_at, COALESCE(r.ended_at,''), "
    "COALESCE(r.result,''), COALESCE(r.exit_code,-1), "
    "(SELECT COUNT(*) FROM resources x WHERE x.run_id = r.id AND x.removed_at IS NULL), "
    "COALESCE(r.sweep,''), COALESCE(r.artifacts,''), COALESCE(r.summary,''), COALESCE(r.target,'local')";

RunRecord ReadRun(const Stmt& s) {
  RunRecord r;
  r.id = s.Text(0);
  r.recipe = s.Text(1);
  r.version = s.Text(2);
  r.namespace_name = s.Text(3);
  r.pid = s.Int(4);
  r.started_at = s.Text(5);
  r.ended_at = s.Text(6);
  r.result = s.Text(7);
  r.exit_code = static_cast<int>(s.Int(8));
  r.open_resources = static_cast<int>(s.Int(9));
  r.sweep = s.Text(10);
  r.artifacts = s.Text(11);
  r.summary = s.Text(12);
  r.target = s.Text(13);
  return r;
}

}  // namespace

std::string DefaultStateDir() {
  if (const char* s = std::getenv("HARNESS_STATE"); s && *s) return s;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/recipe-harness";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/recipe-harness";
}

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) return Status::Infra("cannot create the state folder " + state_dir + ": " + ec.message());
  Database::Options options;
  options.label = "ledger";
  options.synchronous = "NORMAL";
  options.foreign_keys = true;
  // Several processes may open a new ledger at the same moment (see Database::Open).
  options.retry_setup = true;
  auto db = Database::Open(state_dir + "/ledger.sqlite", options, [](Database& d) {
    int rc = d.Run(kSchema);
    return rc == SQLITE_OK ? Migrate(d) : rc;
  });
  if (!db.ok()) return db.status();
  return std::unique_ptr<Ledger>(new Ledger(std::move(*db)));
}

Ledger::Ledger(std::unique_ptr<Database> db) : db_(std::move(db)) {}

Ledger::~Ledger() = default;

const std::string& Ledger::path() const { return db_->path(); }

Status Ledger::BeginRun(const RunRecord& run) {
  Stmt s(*db_,
         "INSERT INTO runs (id, recipe, version, namespace, pid, started_at, sweep, artifacts, target) "
         "VALUES (?,?,?,?,?,?,NULLIF(?,''),?,?)");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, run.id).Bind(2, run.recipe).Bind(3, run.version).Bind(4, run.namespace_name)
      .Bind(5, run.pid).Bind(6, run.started_at.empty() ? Now() : run.started_at)
      .Bind(7, run.sweep).Bind(8, run.artifacts).Bind(9, run.target.empty() ? "local" : run.target);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("record run " + run.id);
}

Status Ledger::RecordPhase(const PhaseRecord& p) {
  Stmt s(*db_,
         "INSERT OR REPLACE INTO phases (run_id, number, name, status, started_at, elapsed_ms, error) "
         "VALUES (?,?,?,?,?,?,?)");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, p.run_id).Bind(2, static_cast<int64_t>(p.number)).Bind(3, p.name).Bind(4, p.status)
      .Bind(5, p.started_at).Bind(6, p.elapsed_ms).Bind(7, p.error);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("record phase " + p.name);
}

Status Ledger::EndRun(const std::string& run_id, const std::string& version,
                      const std::string& result, int exit_code, const std::string& summary) {
  Stmt s(*db_,
         "UPDATE runs SET ended_at = ?, version = ?, result = ?, exit_code = ?, "
         "summary = NULLIF(?,'') WHERE id = ?");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, Now()).Bind(2, version).Bind(3, result).Bind(4, static_cast<int64_t>(exit_code))
      .Bind(5, summary).Bind(6, run_id);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("end run " + run_id);
}

Status Ledger::PlanResource(const std::string& run_id, const std::string& kind,
                            const std::string& name) {
  Stmt s(*db_, "INSERT INTO resources (run_id, kind, name, planned_at) VALUES (?,?,?,?)");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, run_id).Bind(2, kind).Bind(3, name).Bind(4, Now());
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("record " + kind + " " + name);
}

Status Ledger::MarkRunResourcesRemoved(const std::string& run_id) {
  Stmt s(*db_, "UPDATE resources SET removed_at = ? WHERE run_id = ? AND removed_at IS NULL");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, Now()).Bind(2, run_id);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("mark resources of " + run_id + " removed");
}

Result<std::vector<RunRecord>> Ledger::RunsWithOpenResources(const std::string& target) {
  std::string sql = std::string("SELECT ") + kRunColumns +
                    " FROM runs r WHERE EXISTS (SELECT 1 FROM resources x WHERE x.run_id = r.id "
                    "AND x.removed_at IS NULL) AND (? = '' OR COALESCE(r.target,'local') = ?) ORDER BY r.started_at";
  Stmt s(*db_, sql.c_str());
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, target).Bind(2, target);
  std::vector<RunRecord> runs;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) runs.push_back(ReadRun(s));
  if (rc != SQLITE_DONE) return db_->Error("list runs");
  return runs;
}

Result<std::optional<RunRecord>> Ledger::FindRunByNamespace(const std::string& ns) {
  std::string sql = std::string("SELECT ") + kRunColumns +
                    " FROM runs r WHERE r.namespace = ? ORDER BY r.started_at DESC LIMIT 1";
  Stmt s(*db_, sql.c_str());
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, ns);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<RunRecord>(ReadRun(s));
  if (rc != SQLITE_DONE) return db_->Error("find run");
  return std::optional<RunRecord>();
}

Result<std::vector<PhaseRecord>> Ledger::Phases(const std::string& run_id) {
  Stmt s(*db_,
         "SELECT run_id, number, name, status, started_at, elapsed_ms, COALESCE(error,'') "
         "FROM phases WHERE run_id = ? ORDER BY number");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, run_id);
  std::vector<PhaseRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({s.Text(0), static_cast<int>(s.Int(1)), s.Text(2), s.Text(3), s.Text(4), s.Int(5),
                   s.Text(6)});
  }
  if (rc != SQLITE_DONE) return db_->Error("list phases");
  return out;
}

Result<std::vector<RunRecord>> Ledger::FinishedRuns(const RunQuery& q) {
  // Only the given filters are in the statement, so that SQLite can use the index each
  // one has (an `?1 = '' OR` form would make it read every run).
  std::string sql = std::string("SELECT ") + kRunColumns +
                    " FROM runs r WHERE r.summary IS NOT NULL AND r.ended_at IS NOT NULL";
  if (!q.run_id.empty()) sql += " AND r.id = ?1";
  if (!q.sweep.empty()) sql += " AND r.sweep = ?2";
  if (!q.since.empty()) sql += " AND r.started_at >= ?3";
  if (!q.recipe.empty()) sql += " AND r.recipe = ?4";
  sql += " ORDER BY r.started_at DESC, r.id DESC LIMIT ?5";
  Stmt s(*db_, sql.c_str());
  if (!s.ok()) return db_->Error("prepare");
  if (!q.run_id.empty()) s.Bind(1, q.run_id);
  if (!q.sweep.empty()) s.Bind(2, q.sweep);
  if (!q.since.empty()) s.Bind(3, q.since);
  if (!q.recipe.empty()) s.Bind(4, q.recipe);
  s.Bind(5, static_cast<int64_t>(q.limit > 0 ? q.limit : -1));
  std::vector<RunRecord> runs;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) runs.push_back(ReadRun(s));
  if (rc != SQLITE_DONE) return db_->Error("list finished runs");
  std::reverse(runs.begin(), runs.end());
  return runs;
}

Status Ledger::RecordVerdict(const VerdictRecord& v) {
  Stmt s(*db_, "INSERT INTO verdicts (recipe, verdict, confidence, reason, decided_at) VALUES (?,?,?,?,?)");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, v.recipe).Bind(2, v.verdict).Bind(3, v.confidence).Bind(4, v.reason)
      .Bind(5, v.decided_at.empty() ? Now() : v.decided_at);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("record verdict on " + v.recipe);
}

Result<std::optional<VerdictRecord>> Ledger::LatestVerdict(const std::string& recipe, const std::string& since) {
  Stmt s(*db_,
         "SELECT recipe, verdict, COALESCE(confidence,''), COALESCE(reason,''), decided_at FROM verdicts "
         "WHERE recipe = ? AND decided_at >= ? ORDER BY decided_at DESC, id DESC LIMIT 1");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, recipe).Bind(2, since);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<VerdictRecord>({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)});
  if (rc != SQLITE_DONE) return db_->Error("latest verdict");
  return std::optional<VerdictRecord>();
}

namespace {
WarmRecord ReadWarm(const Stmt& s) {
  return {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)};
}
constexpr const char* kWarmColumns = "SELECT recipe, namespace, version, advanced_at, COALESCE(hold,'') FROM warm";
}  // namespace

Result<std::optional<WarmRecord>> Ledger::Warm(const std::string& recipe) {
  std::string sql = std::string(kWarmColumns) + " WHERE recipe = ?";
  Stmt s(*db_, sql.c_str());
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, recipe);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<WarmRecord>(ReadWarm(s));
  if (rc != SQLITE_DONE) return db_->Error("read the warm canon of " + recipe);
  return std::optional<WarmRecord>();
}

Result<std::vector<WarmRecord>> Ledger::WarmRecords() {
  std::string sql = std::string(kWarmColumns) + " ORDER BY recipe";
  Stmt s(*db_, sql.c_str());
  if (!s.ok()) return db_->Error("prepare");
  std::vector<WarmRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadWarm(s));
  if (rc != SQLITE_DONE) return db_->Error("list the warm canon");
  return out;
}

Status Ledger::SetWarm(const WarmRecord& w) {
  Stmt s(*db_,
         "INSERT INTO warm (recipe, namespace, version, advanced_at, hold) VALUES (?,?,?,?,NULL) "
         "ON CONFLICT(recipe) DO UPDATE SET namespace = excluded.namespace, version = excluded.version, "
         "advanced_at = excluded.advanced_at, hold = NULL");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, w.recipe).Bind(2, w.namespace_name).Bind(3, w.version).Bind(4, Now());
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("record the warm canon of " + w.recipe);
}

Status Ledger::SetHold(const std::string& recipe, const std::string& hold) {
  Stmt s(*db_, "UPDATE warm SET hold = NULLIF(?,'') WHERE recipe = ?");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, hold).Bind(2, recipe);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("record a hold on " + recipe);
}

Status Ledger::RemoveWarm(const std::string& recipe) {
  Stmt s(*db_, "DELETE FROM warm WHERE recipe = ?");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, recipe);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("retire " + recipe);
}

Result<int64_t> Ledger::BeginPromotion(const std::string& recipe, const std::string& from, const std::string& to) {
  Stmt s(*db_, "INSERT INTO promotions (recipe, from_version, to_version, started_at) VALUES (?,NULLIF(?,''),?,?)");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, recipe).Bind(2, from).Bind(3, to).Bind(4, Now());
  if (s.Step() != SQLITE_DONE) return db_->Error("record a promotion of " + recipe);
  return static_cast<int64_t>(db_->last_insert_rowid());
}

Status Ledger::EndPromotion(int64_t id, const std::string& result, const std::string& detail) {
  Stmt s(*db_, "UPDATE promotions SET ended_at = ?, result = ?, detail = ? WHERE id = ?");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, Now()).Bind(2, result).Bind(3, detail).Bind(4, id);
  return s.Step() == SQLITE_DONE ? Status::Ok() : db_->Error("end promotion " + std::to_string(id));
}

Result<std::vector<PromotionRecord>> Ledger::Promotions(const std::string& recipe, int limit) {
  Stmt s(*db_,
         "SELECT id, recipe, COALESCE(from_version,''), to_version, started_at, COALESCE(ended_at,''), "
         "COALESCE(result,''), COALESCE(detail,'') FROM promotions WHERE recipe = ? ORDER BY id DESC LIMIT ?");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, recipe).Bind(2, static_cast<int64_t>(limit));
  std::vector<PromotionRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6), s.Text(7)});
  }
  if (rc != SQLITE_DONE) return db_->Error("list promotions");
  return out;
}

Result<bool> Ledger::PassedColdRun(const std::string& recipe, const std::string& version) {
  Stmt s(*db_,
         "SELECT 1 FROM runs r WHERE r.recipe = ? AND r.version = ? AND r.result = 'passed' "
         "AND r.namespace NOT IN (SELECT namespace FROM warm) LIMIT 1");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, recipe).Bind(2, version);
  int rc = s.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_->Error("look up cold runs");
  return rc == SQLITE_ROW;
}

Result<std::string> Ledger::LatestSweep() {
  Stmt s(*db_, "SELECT sweep FROM runs WHERE sweep IS NOT NULL ORDER BY started_at DESC LIMIT 1");
  if (!s.ok()) return db_->Error("prepare");
  int rc = s.Step();
  if (rc == SQLITE_ROW) return s.Text(0);
  if (rc != SQLITE_DONE) return db_->Error("latest sweep");
  return std::string();
}

Result<Duration> Ledger::ExpectedDuration(const std::string& recipe, int last) {
  Stmt s(*db_,
         "SELECT COALESCE(AVG(total), 0) FROM (SELECT SUM(p.elapsed_ms) AS total FROM runs r "
         "JOIN phases p ON p.run_id = r.id WHERE r.recipe = ? AND r.ended_at IS NOT NULL "
         "AND r.result IN ('passed', 'failed') GROUP BY r.id ORDER BY r.started_at DESC LIMIT ?)");
  if (!s.ok()) return db_->Error("prepare");
  s.Bind(1, recipe).Bind(2, static_cast<int64_t>(last));
  if (s.Step() != SQLITE_ROW) return db_->Error("expected duration");
  return Duration(s.Int(0));
}

}  // namespace harness
