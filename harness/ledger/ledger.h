// Ledger: the SQLite record of every run, its phases, and every resource it creates.
//
// Resources are recorded *before* they are created (write-ahead) and marked removed only
// once their removal was verified, so the leftovers of a run that died (SIGKILL, power
// loss, a Docker restart) can always be found again. Safe for several harness processes
// at once: WAL mode, a busy timeout, and short transactions.
//
// Thread-safety: one Ledger per thread (each holds its own connection).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/status.h"

namespace harness {

class Database;

struct RunRecord {
  std::string id;
  std::string recipe;
  std::string version;
  std::string namespace_name;
  int64_t pid = 0;
  std::string started_at;
  std::string ended_at;     // "" while running (or when the run died)
  std::string result;       // "" while running
  int exit_code = -1;
  int open_resources = 0;   // recorded and not yet verified removed
  std::string sweep;        // the sweep the run belonged to ("" for a lone run)
  std::string artifacts;    // the run's artifact folder
  std::string target = "local";  // where it deployed (Executor::Describe)
  std::string summary;      // its summary.json (redacted), once it ended
};

// A triage verdict on a recipe's failure.
struct VerdictRecord {
  std::string recipe;
  std::string verdict;      // genuine | intermittent | load-flake | known-transient | infra | undecided
  std::string confidence;
  std::string reason;
  std::string decided_at;   // ISO-8601 UTC; now when empty
};

// The warm-canon deploy of an enrolled recipe.
struct WarmRecord {
  std::string recipe;
  std::string namespace_name;
  std::string version;      // the canonical version
  std::string advanced_at;  // when it last changed
  std::string hold;         // why a newer release is held back ("" when none)
};

// One promotion attempt.
struct PromotionRecord {
  int64_t id = 0;
  std::string recipe;
  std::string from_version;  // "" for an enrolment
  std::string to_version;
  std::string started_at;
  std::string ended_at;
  std::string result;        // enrolled | promoted | restored | failed | held | "" while running
  std::string detail;
};

// Which finished runs a report covers: one run, one sweep, or a time window (all empty:
// every finished run). Runs without a summary (load generators, runs that died) are left out.
struct RunQuery {
  std::string run_id;
  std::string sweep;
  std::string since;        // ISO-8601 UTC; runs started at or after it
  std::string recipe;
  int limit = 0;            // newest first when > 0
};

struct PhaseRecord {
  std::string run_id;
  int number = 0;
  std::string name;
  std::string status;
  std::string started_at;
  int64_t elapsed_ms = 0;
  std::string error;
};

class Ledger {
 public:
  // Opens (creating if needed) `<state_dir>/ledger.sqlite`.
  static Result<std::unique_ptr<Ledger>> Open(const std::string& state_dir);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  Status BeginRun(const RunRecord& run);
  Status RecordPhase(const PhaseRecord& phase);
  // Closes a run; `summary` is its redacted summary.json, kept for reports.
  Status EndRun(const std::string& run_id, const std::string& version, const std::string& result,
                int exit_code, const std::string& summary = "");
  // Write-ahead: call before creating the resource. `kind` is "stack", "secret", ...
  Status PlanResource(const std::string& run_id, const std::string& kind, const std::string& name);
  // Every resource of the run was verified gone.
  Status MarkRunResourcesRemoved(const std::string& run_id);

  // Runs with resources not yet verified removed; those of one target ("local",
  // "ssh://user@host:port") when `target` is given.
  Result<std::vector<RunRecord>> RunsWithOpenResources(const std::string& target = "");
  Result<std::optional<RunRecord>> FindRunByNamespace(const std::string& ns);
  Result<std::vector<PhaseRecord>> Phases(const std::string& run_id);
  // Finished runs with a summary, oldest first (the newest `limit` of them when set).
  Result<std::vector<RunRecord>> FinishedRuns(const RunQuery& query);
  Status RecordVerdict(const VerdictRecord& verdict);
  // The latest verdict on `recipe` decided at or after `since`, if any.
  Result<std::optional<VerdictRecord>> LatestVerdict(const std::string& recipe, const std::string& since);
  // The warm canon.
  Result<std::optional<WarmRecord>> Warm(const std::string& recipe);
  Result<std::vector<WarmRecord>> WarmRecords();
  Status SetWarm(const WarmRecord& warm);           // advanced_at is now
  Status SetHold(const std::string& recipe, const std::string& hold);
  Status RemoveWarm(const std::string& recipe);
  Result<int64_t> BeginPromotion(const std::string& recipe, const std::string& from, const std::string& to);
  Status EndPromotion(int64_t id, const std::string& result, const std::string& detail);
  // The recipe's promotions, newest first.
  Result<std::vector<PromotionRecord>> Promotions(const std::string& recipe, int limit);
  // Whether `version` of `recipe` passed a cold run.
  Result<bool> PassedColdRun(const std::string& recipe, const std::string& version);
  // The id of the most recent sweep, "" when there was none.
  Result<std::string> LatestSweep();
  // The mean duration of the recipe's last `last` finished runs (sum of their phases);
  // 0 when it has none.
  Result<Duration> ExpectedDuration(const std::string& recipe, int last = 10);

  const std::string& path() const;

 private:
  explicit Ledger(std::unique_ptr<Database> db);
  std::unique_ptr<Database> db_;
};

// The default state folder: $HARNESS_STATE, else $XDG_STATE_HOME/recipe-harness, else
// ~/.local/state/recipe-harness.
std::string DefaultStateDir();

}  // namespace harness
