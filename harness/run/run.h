// A run: one recipe × one version × one namespace, through its phases
//   prepare → deploy → converge → test → teardown
// Teardown always runs once anything may have been created, whatever happened before
// (failed test, Lua error, timeout, SIGINT/SIGTERM), and is verified. Each phase writes
// its proof packet into <artifacts>/<run id>/; summary.json closes the run.
//
// Thread-safety: a run uses its own ScriptEngine and may run beside other runs.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/status.h"
#include "recipe/outcome.h"
#include "recipe/compose_policy.h"
#include "run/deploy_profile.h"
#include "runtime/abra.h"
#include "runtime/docker.h"
#include "runtime/runtime.h"
#include "script/limits.h"

namespace harness {

class DockerApiSource;
class NodeReach;

class EventSink;

struct RunOptions {
  std::string recipes_dir = "recipes";
  std::string recipe;
  std::string version;          // a release (a release folder or tag); "" the recipe as it is
  std::string commit;           // a git recipe's commit (a full id) instead of a release
  // An upgrade run: deploy this release first, converge, then deploy the run's own version
  // over it in place (phase "upgrade"), converge again, and test. "" for a cold run.
  std::string upgrade_from;
  std::string artifacts_dir = "artifacts";
  std::string domain_suffix = "harness.localhost";
  std::string state_dir;        // the ledger and run locks (see ledger/)
  // Isolated: nothing else of ours runs on the Swarm meanwhile (across processes). The
  // run waits for the others to finish, or refuses when `wait_for_isolation` is false.
  bool isolated = false;
  bool wait_for_isolation = true;
  std::string sweep_id;         // the sweep this run belongs to, for reports
  // Set on the retry of a failure that matched a declared transient class: the first
  // attempt. A failed retry is escalated (reported, never retried again).
  struct FirstAttempt {
    std::string run_id;
    std::string reason;
    std::string transient_class;
  };
  std::optional<FirstAttempt> retry_of;
  EventSink* events = nullptr;  // the run's events (run, phases, tests), when set
  // Stops the run (then it tears down) besides SIGINT/SIGTERM: a CancelSource's token,
  // e.g. for a run that a newer one superseded. Null: signals only.
  const CancelToken* cancel = nullptr;
  // How to reach the Swarm's other nodes (containers to probe or exec into, images,
  // volumes to remove); null: only the target's own node.
  NodeReach* nodes = nullptr;
  // The target's Engine API, when it reaches the daemon the CLI reaches
  // (DockerApi::ForLocalCli, or ThroughSsh over an SSH target); shared by the runs; may be
  // null (the CLI then). Where it reaches Docker is in the prepare packet (`docker_api`).
  DockerApiSource* api = nullptr;
  // How the namespace is deployed: "swarm" (docker stack deploy and friends) or "abra"
  // (through abra, as Co-op Cloud operators deploy; see runtime/abra.h).
  std::string runtime = "swarm";
  // Makes the run's Runtime from the Docker the run was given, instead of NewRuntime (for
  // tests, which stand a fake in for the Swarm). Called once per run, on its thread.
  std::function<std::unique_ptr<Runtime>(Docker* docker)> make_runtime;
  // The image pull policy ("missing", "always", "never"); "" the recipe's (default missing).
  std::string pull;
  // What the recipe's script may use (its memory; see script/limits.h).
  ScriptLimits script_limits;
  AbraOptions abra;
  // How the deploy lives: its namespace, domain, labels, kept secrets, whether it stays
  // and the version it must reach (run/deploy_profile.h). Null: ColdProfile(). The warm
  // canon's deploys use warm/'s profile.
  std::shared_ptr<const DeployProfile> profile;
  // What an untrusted head (a run of `commit`: a pull request's) may ask of the Swarm: its
  // compose files are checked in prepare, and a finding the policy does not allow refuses
  // the run (exit 2) before anything is created. Released versions are not checked.
  ComposePolicy compose_policy;
  // The Swarm's reverse proxy, for requests by domain and the serving check: "host:port"
  // of its https entry as the target sees it (--proxy; plain http goes to port 80 of the
  // host); "" finds it on the Swarm (Runtime::FindProxy). `proxy_ca`: the CA bundle its
  // certificates must verify against (--proxy-ca; "" the system's).
  std::string proxy;
  std::string proxy_ca;
  // `harness check`: prepare only, creating nothing (no Docker object, no ledger entry,
  // no lock) and pulling nothing; see CheckRecipe.
  bool check_only = false;
};

// The name of the test that the serving check is (ColdRun::CheckServing), in reports.
inline constexpr const char* kServingCheck = "serves its domain through the proxy";

// Progress of runs, as lines for a person (stderr) or a log.
using ProgressFn = std::function<void(const std::string& line)>;

// The Runtime `opts.runtime` names ("abra": AbraRuntime; otherwise SwarmRuntime) on
// `docker`, reaching the other nodes through `opts.nodes`.
std::unique_ptr<Runtime> NewRuntime(const RunOptions& opts, Docker* docker);

RunOutcome RunRecipe(const RunOptions& opts, Docker* docker, const ProgressFn& progress);

// RunRecipe, and once more when the failure matched a declared transient class. A second
// failure is escalated (reported, never retried again); nothing is retried without a class.
RunOutcome RunRecipeWithRetry(const RunOptions& opts, Docker* docker, const ProgressFn& progress);

// `harness check <recipe>`: everything prepare decides for a run of `opts`, creating
// nothing: the compose files and why, the environment and where each value came from,
// the staged compose, images (present, pullable, missing), the objects the run would
// create or needs, the deploy budget and its source, and every problem with a fix.
// JSON of schema recipe-harness/check/v1 (docs/schema.md); "exit_code" 0 when a run could
// start, 1 the recipe is wrong, 2 usage or a bad script, 3 infrastructure missing.
nlohmann::json CheckRecipe(RunOptions opts, Docker* docker);

}  // namespace harness
