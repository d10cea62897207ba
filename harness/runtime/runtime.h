// Runtime: where a run's namespace lives, as the run lifecycle (ColdRun) sees it — the
// operations a run needs, and nothing of how they are done.
//
//   preflight  Preflight, ChooseObservations, DaemonIdentity
//   images     EnsureImages (pull, pin, spread to the nodes), PlanImages (a check)
//   networks   InspectNetwork, CreateSharedNetwork, RemoveSharedNetwork (external ones)
//   app        PrepareApp (prepare: the staged files), CreateApp (deploy: before objects)
//   deploy     SecretExists, CreateSecret, Deploy
//   observe    Watch, Observe (a convergence snapshot), ServiceVersions, ContainerHealth
//   locate     ContainerOf, AddressOf, Exec, Logs
//   teardown   Teardown: removes everything of the namespace and verifies it is gone
//
// Contract. Every operation that reads or writes Docker takes a deadline and, except the
// removals, a CancelToken; expected failures are statuses (kInfra when Docker or the
// target failed, kFailed when what was deployed is at fault, kTimeout at the deadline,
// kCancelled on the token). `log` (may be null) is the phase's proof packet, which gets
// the commands run. Teardown is never cancelled, and returns ok only when nothing of the
// namespace is left (the status names what is). Objects a run creates carry `labels`
// where the operation takes them, so that a reaper finds them after a crash.
//
// Implementations: SwarmRuntime (runtime/swarm.h, the docker CLI), AbraRuntime
// (runtime/abra_runtime.h: deploys through abra, observes through Swarm), and
// FakeRuntime (tests/support/fake_runtime.h) for unit tests of the lifecycle.
//
// Ownership: a run owns its Runtime (RunOptions::make_runtime or NewRuntime). The
// Executors a Runtime hands out (target(), Located::node) belong to it and live as long.
// Thread-safety: one run's thread; distinct Runtimes may be used from distinct threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"
#include "base/status.h"
#include "exec/executor.h"
#include "runtime/converge.h"
#include "runtime/images.h"

namespace harness {

class PhaseLog;

// Wakes a wait when something of a namespace changed (runtime/event_watch.h).
class ChangeWatch {
 public:
  virtual ~ChangeWatch() = default;
  // Waits until a change no earlier Wait() consumed, `max` passes, or `cancel` fires.
  // True when woken by a change.
  virtual bool Wait(Duration max, const CancelToken& cancel) = 0;
};

class Runtime {
 public:
  virtual ~Runtime() = default;

  // A running container of a service, and the node where it runs (where commands about
  // it must go).
  struct Located {
    std::string container;
    Executor* node = nullptr;
    std::string node_name;
  };
  // An external network a recipe joins (Traefik's `proxy`): whether it exists, and whether
  // the harness created it (label harness.shared-network).
  struct NetworkState {
    bool exists = false;
    bool ours = false;
    std::string driver;      // "overlay", "bridge", ...
    std::string scope;       // "swarm", "local"
    bool attachable = false;
  };
  // What EnsureImages would do for one image (see PlanImages).
  struct ImagePlan {
    ImageReport report;
    std::string error;   // for "missing" and "unknown"
  };
  // Each service's value of a version label ("" when it has none) and its update state
  // ("" when no update ran; "rollback_completed" after Swarm rolled an update back).
  struct ServiceVersion {
    std::string service;
    std::string version;
    std::string update_state;
  };
  // What a deploy deploys, decided by prepare. The paths stay valid for the run.
  struct App {
    std::string recipe;                        // the recipe's name
    std::string domain;
    std::string recipe_dir;                    // the recipe's own files (for .env.sample)
    std::vector<std::string> staged_files;     // the staged compose files, in order
    std::vector<std::string> compose_names;    // their names in the recipe, in order
    std::map<std::string, std::string> env;    // the deploy's environment
  };
  // One secret of a deploy: `key` in the compose files, `name` its Swarm name.
  struct Secret {
    std::string key;
    std::string name;
    std::string value;
    std::map<std::string, std::string> labels;
  };

  // ---- what it is

  // The target's executor (where `docker` runs); its Describe() keys the run's locks and
  // the ledger, and HTTP reaches services through its forwards.
  virtual Executor* target() const = 0;
  // Whether an upgrade run (two deploys of one namespace, in place) can be done with it.
  virtual bool can_upgrade() const { return true; }
  // The domain an app of namespace `ns` is deployed under, given the harness's choice.
  virtual std::string DomainFor(const std::string& /*ns*/, const std::string& domain) const { return domain; }

  // ---- preflight

  // Docker answers and this node is a Swarm manager.
  virtual Status Preflight(PhaseLog* log, Deadline deadline, const CancelToken& cancel) = 0;
  // After Preflight: picks the cheapest way to read observations, and names it
  // ("engine-api", "docker-cli") for the prepare packet.
  virtual std::string ChooseObservations(Deadline deadline) = 0;
  // Which daemon answers ("" when it cannot be told); a change means it restarted.
  virtual std::string DaemonIdentity(Deadline deadline) = 0;

  // ---- images

  // Makes every image available on every node by `policy` and pins each to its digest
  // (see SwarmRuntime::EnsureImages). `say` (may be null) gets a line per pull.
  virtual Result<std::vector<ImageReport>> EnsureImages(const std::vector<std::string>& images, PullPolicy policy,
                                                        PhaseLog* log, Deadline deadline, const CancelToken& cancel,
                                                        const std::function<void(const std::string&)>& say) = 0;
  // What EnsureImages would do, pulling nothing.
  virtual std::vector<ImagePlan> PlanImages(const std::vector<std::string>& images, PullPolicy policy,
                                            PhaseLog* log, Deadline deadline, const CancelToken& cancel) = 0;

  // ---- external networks

  virtual Result<NetworkState> InspectNetwork(const std::string& name, PhaseLog* log, Deadline deadline,
                                              const CancelToken& cancel) = 0;
  // Creates an attachable overlay labelled harness.shared-network=<name> and `labels`.
  virtual Status CreateSharedNetwork(const std::string& name, const std::map<std::string, std::string>& labels,
                                     PhaseLog* log, Deadline deadline, const CancelToken& cancel) = 0;
  // Removes a network the harness created unless something uses it; true when it is gone.
  virtual Result<bool> RemoveSharedNetwork(const std::string& name, PhaseLog* log, Deadline deadline) = 0;

  // ---- the app and its deploy

  // In prepare, once the files are staged and pinned: what later deploys deploy. Creates
  // nothing on the Swarm.
  virtual Status PrepareApp(const App& /*app*/) { return Status::Ok(); }
  // In the deploy phase, before the first secret: whatever the runtime keeps of an app
  // besides Docker's objects (abra's app). Teardown removes it.
  virtual Status CreateApp(PhaseLog* /*log*/, Deadline /*deadline*/, const CancelToken& /*cancel*/) {
    return Status::Ok();
  }
  virtual Result<bool> SecretExists(const std::string& name, PhaseLog* log, Deadline deadline,
                                    const CancelToken& cancel) = 0;
  virtual Status CreateSecret(const Secret& secret, PhaseLog* log, Deadline deadline,
                              const CancelToken& cancel) = 0;
  // Deploys (or updates in place) the stack `ns` from `files` with `env`.
  virtual Status Deploy(const std::string& ns, const std::vector<std::string>& files,
                        const std::map<std::string, std::string>& env, PhaseLog* log, Deadline deadline,
                        const CancelToken& cancel) = 0;

  // ---- observation

  // Starts following changes of `ns` until `until`; look at the state after this.
  virtual std::unique_ptr<ChangeWatch> Watch(const std::string& ns, Deadline until) = 0;
  // One observation of the namespace and its `expected` services (full names).
  virtual Result<ConvergeSnapshot> Observe(const std::string& ns, const std::vector<std::string>& expected,
                                           PhaseLog* log, Deadline deadline, const CancelToken& cancel) = 0;
  virtual Result<std::vector<ServiceVersion>> ServiceVersions(const std::vector<std::string>& services,
                                                              const std::string& label, PhaseLog* log,
                                                              Deadline deadline, const CancelToken& cancel) = 0;
  // [{container, service, state, exit_code, health, failing_streak, last_output}].
  virtual Result<nlohmann::json> ContainerHealth(const std::string& ns, Deadline deadline) = 0;

  // ---- reaching services

  // The Swarm's reverse proxy (Traefik on real hosts): a service joined to the `proxy`
  // network that publishes a port for its container port 443 (and one for 80). The ports
  // are the target's own (on its loopback as the target sees it). Empty when there is
  // none.
  struct ProxyEntry {
    std::string service;
    int https_port = 0;
    int http_port = 0;   // 0: none published
  };
  virtual Result<std::optional<ProxyEntry>> FindProxy(PhaseLog* /*log*/, Deadline /*deadline*/,
                                                      const CancelToken& /*cancel*/) {
    return std::optional<ProxyEntry>();
  }

  // A running container of `<ns>_<service>` (a healthy one when there is a choice).
  virtual Result<Located> ContainerOf(const std::string& ns, const std::string& service, Deadline deadline,
                                      const CancelToken& cancel) = 0;
  // The container's address, reachable from its node.
  virtual Result<std::string> AddressOf(const Located& where, Deadline deadline, const CancelToken& cancel) = 0;
  virtual Result<ProcessResult> Exec(const Located& where, const std::vector<std::string>& argv, Deadline deadline,
                                     const CancelToken& cancel) = 0;
  virtual Result<std::string> Logs(const std::string& ns, const std::string& service, int tail, Deadline deadline,
                                   const CancelToken& cancel) = 0;

  // ---- teardown

  // Removes everything of `ns` (and the app CreateApp made) and verifies that nothing is
  // left; the status names what is. Never cancelled.
  virtual Status Teardown(const std::string& ns, PhaseLog* log, Deadline deadline) = 0;
};

}  // namespace harness
