// ColdRun: one cold run of a recipe, phase by phase.
//
//   Start     name, script, namespace, artifact folder, Swarm lock, run lock, ledger entry
//   Prepare   load the script, stage the compose files, check names, Docker and images
//   Deploy    secrets and the stack, each recorded in the ledger before it is created
//   Converge  Swarm settles (strictly), then the recipe's readiness probe passes
//   Test      the recipe's tests, each within its budget
//   Teardown  always, once anything may exist; verified (TeardownGuard)
//
// Each phase writes its proof packet; Execute() returns the outcome after summary.json
// is written. The methods live in cold_run.cc (start, deploy, converge, upgrade, teardown),
// run_prepare.cc, run_waits.cc, run_tests.cc and run_outcome.cc. One ColdRun per run; it owns the run's Lua state, locks and ledger
// connection. It reaches the Swarm only through its Runtime (runtime/runtime.h), made by
// RunOptions::make_runtime or NewRuntime. One thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/redact.h"
#include "base/temp_dir.h"
#include "events/events.h"
#include "ledger/ledger.h"
#include "ledger/liveness.h"
#include "net/http.h"
#include "run/run.h"
#include "run/run_host.h"
#include "recipe/spec.h"
#include "run/teardown_guard.h"
#include "proof/phase_log.h"
#include "runtime/compose.h"
#include "runtime/runtime.h"
#include "script/engine.h"
#include "source/recipe_source.h"

namespace harness {

class ColdRun {
 public:
  ColdRun(RunOptions opts, Docker* docker, ProgressFn progress);
  ColdRun(const ColdRun&) = delete;
  ColdRun& operator=(const ColdRun&) = delete;

  RunOutcome Execute();
  // With RunOptions::check_only, after Execute(): what prepare decided (schema check/v1,
  // without its envelope; see CheckRecipe).
  const nlohmann::json& check_report() const { return check_; }

 private:
  // Start and Prepare return false when the run ends before anything is created.
  bool Start();
  bool Prepare();
  // Parts of Prepare. Each records what it decided in the prepare packet.
  // The script, loaded and checked against the release.
  Status LoadScript(PhaseLog& prepare);
  // The value of every secret (the profile's kept ones, the others generated).
  Status MakeSecrets(PhaseLog& prepare);
  // The recipe's files as abra reads them: environment, compose files, staging, secrets,
  // and the version and timeout labels.
  Status ReadRecipe(PhaseLog& prepare);
  Status CheckRecipeLabels(PhaseLog& prepare);
  // An untrusted head's compose files against the compose policy (RunOptions::compose_policy).
  // A commit, or a git source the policy does not trust: its compose files are judged.
  bool Untrusted() const;
  // Judges the compose files; refuses when the source is untrusted and a finding is not
  // allowed. A check reports the findings of a trusted source without refusing.
  Status CheckComposePolicyOfHead(PhaseLog& prepare);
  // The external networks the recipe joins: held for the run, and which must be created.
  Status LookAtNetworks(PhaseLog& prepare);
  // The names the recipe's router rules give, and the Swarm's proxy that serves them
  // (--proxy, or found on the Swarm); the prepare packet's "proxy". Requests by those names
  // go through it (RunHost::RouteDomains, once the host is made).
  void LookForProxy(PhaseLog& prepare);
  // Every image pulled or present, then pinned in the staged files.
  Status PrepareImages(PhaseLog& prepare);
  // In a check: what the images' registries say, pulling nothing.
  Status PlanImages(PhaseLog& prepare, PullPolicy policy);
  void FillCheckReport(const PhaseLog& prepare);
  // A problem a check found, with what to do about it ("" to derive it from the message).
  void Problem(const Status& s, const std::string& fix = "");
  // Creates the external networks the Swarm lacks (deploy phase).
  Status ProvideNetworks(PhaseLog& deploy);
  // After a verified teardown: removes the shared networks it created once no run uses them.
  Status ReleaseNetworks(PhaseLog& teardown);
  Status Deploy();
  Status Converge();
  // An upgrade run: the first deploy was the `upgrade_from` release; now the run's own
  // files are deployed over it in place, and it must converge again.
  Status Upgrade();
  // Swarm settles, the version label reaches the run's version (when `own_version`: the
  // files deployed are the run's own) and the readiness probe passes.
  Status WaitSettled(PhaseLog& phase, bool own_version);
  // Closes converge or upgrade: a failure is the run's, with the services' evidence.
  Status EndDeployPhase(PhaseLog& phase, Status status);
  Status WaitForSwarm(PhaseLog& phase);
  Status WaitForVersion(PhaseLog& phase);
  Status WaitForReadiness(PhaseLog& phase);
  Status Test();
  // Whether the test phase begins with the serving check: the router rules name any host,
  // the script leaves the check on, and there is a proxy (serving_check.cc).
  bool ChecksServing() const;
  // The serving check: https://<domain>/ answers through the proxy with a verified
  // certificate and a 2xx or 3xx that is not the proxy's own answer for a name it does
  // not route, within the deploy budget. Failed with the last answer as evidence.
  Status CheckServing();
  Status TeardownNow();
  // The outcome of a run during which Docker went away or restarted is infra's.
  void JudgeInfrastructure();
  void MatchTransientClass();
  // A retry's bookkeeping: the first attempt, and escalation when it failed again.
  void NoteRetry();
  void Conclude();
  RunOutcome Finish();
  // Events of this run (run_id and recipe filled in), when anyone listens.
  void Emit(Event e);
  void PhaseStarted(const PhaseLog& p, Duration budget);

  void Say(const std::string& text);
  void RecordPhase(PhaseLog& phase, const Status& status);
  void Fail(const std::string& phase, const Status& status);
  void CollectEvidence(PhaseLog& phase);
  Status Interrupted() const;
  // ExitCodeFor(s), with the signal that cancelled this run.
  int ExitCode(const Status& s) const;
  void NoteLedger(const Status& s);
  // A proof packet, log or summary that could not be written: said at once, and the run
  // cannot pass (Conclude).
  void NoteArtifacts(const Status& s);
  // Makes the outcome infra's (exit 3) unless it is already as serious, adding `why`.
  void Degrade(const Status& why);

  RunOptions opts_;
  std::shared_ptr<const DeployProfile> profile_;   // opts_.profile, or the cold one
  ProgressFn progress_;
  const CancelToken& cancel_;
  Clock::time_point started_;
  RunOutcome out_;
  Redactor redactor_;
  RunLog log_;
  std::unique_ptr<Runtime> runtime_;
  int phase_number_ = 0;

  std::string recipe_dir_;
  std::string source_;
  RecipeCheckout checkout_;   // the run's files (a git recipe's own copy lives as long as the run)
  RecipeCheckout from_;       // an upgrade run's first deploy: the release it upgrades from
  std::optional<SwarmLock> swarm_lock_;
  std::optional<RunLock> run_lock_;
  std::unique_ptr<Ledger> ledger_;
  Status ledger_status_;
  Status artifacts_status_;   // the first artifact (packet, log, summary) not written

  std::unique_ptr<ScriptEngine> engine_;
  std::optional<RecipeSpec> spec_;
  std::string domain_;
  std::string daemon_;   // dockerd's identity when the run started
  std::map<std::string, std::string> env_;
  std::map<std::string, std::string> labels_;
  std::map<std::string, std::string> secret_values_;
  TempDir stage_{"harness-stage"};
  std::optional<StagedCompose> staged_;
  TempDir stage_from_{"harness-stage-from"};
  std::optional<StagedCompose> staged_from_;
  std::map<std::string, std::string> from_env_;   // an upgrade's first release's environment
  std::vector<std::string> compose_;              // the compose files chosen
  std::vector<ImageReport> images_;
  // External networks (Swarm names) the run joins, each held (NetworkLock) for the run;
  // the ones to create at deploy.
  std::map<std::string, NetworkLock> network_locks_;
  std::vector<std::string> networks_to_create_;
  std::string expect_version_;                    // what the version label must become
  std::string version_label_;                     // which label carries it (.version or .app.version)
  std::map<std::string, std::string> env_origin_; // where each variable was set
  nlohmann::json check_ = {{"problems", nlohmann::json::array()}};
  bool reported_ = false;                         // the failing problem is already in check_
  std::vector<std::string> full_services_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<RunHost> host_;
  std::vector<std::string> routed_domains_;   // the router rules' names and the domain (LookForProxy)
  bool domain_in_rules_ = false;              // whether the rules name the run's domain themselves
  std::optional<ProxyAccess> proxy_;          // how they are reached; none without a proxy
  Deadline deploy_deadline_ = Deadline::Never();
  // Last member: destroyed first, so an unfinished teardown runs while the locks are held.
  std::unique_ptr<TeardownGuard> guard_;
};

}  // namespace harness
