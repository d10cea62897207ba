// SwarmRuntime: deploys a namespace straight to Docker Swarm with the docker CLI, observes
// it for convergence, reaches its containers, and tears it down completely.
//
// Teardown is verified: after `docker stack rm` (which returns at once) it waits until the
// namespace's services, containers and networks are gone, then removes its secrets,
// configs and volumes, and checks again; anything left is reported, never ignored.
// Every object is found by the labels com.docker.stack.namespace (set by Swarm) and
// harness.namespace (set by the harness).
//
// SwarmRuntime is the Runtime (runtime/runtime.h) of `--runtime swarm`; what else it
// offers (labelled namespaces, leftovers, removal keeping data) is for the reaper, the
// warm canon and doctor.
//
// Thread-safety: as Docker; distinct namespaces may be handled from distinct threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/converge.h"
#include "runtime/docker.h"
#include "runtime/docker_api.h"
#include "runtime/images.h"
#include "runtime/nodes.h"
#include "runtime/runtime.h"

namespace harness {

class EventWatch;

struct Leftovers {
  std::vector<std::string> services, containers, networks, secrets, configs, volumes;
  bool empty() const;
  std::string ToString() const;   // "services: a, b; volumes: c"
};

// What the labels of a namespace's objects say about it.
struct LabelledNamespace {
  std::string namespace_name;
  std::string run_id;   // harness.run
  std::string owner;    // harness.owner: "<host>/<pid>/<start time>"
};

class SwarmRuntime : public Runtime {
 public:
  explicit SwarmRuntime(Docker* docker) : docker_(docker) {}
  Docker* docker() const { return docker_; }
  Executor* target() const override { return docker_->executor(); }
  // How to reach the Swarm's other nodes. Unset: everything is done through the target,
  // which sees only its own node's containers and volumes.
  void set_nodes(NodeReach* nodes) { nodes_ = nodes; }

  // Docker answers and this node is a Swarm manager.
  Status Preflight(PhaseLog* log, Deadline deadline, const CancelToken& cancel) override;
  // For a target on this machine, the Engine API (UseEngineApi with DockerApi::ForLocal);
  // the CLI otherwise.
  std::string ChooseObservations(Deadline deadline) override;
  // From now on, reads convergence observations through the Engine API's socket, if it
  // reaches the daemon the CLI reaches (the same daemon ID as the last Preflight saw);
  // otherwise everything stays on the CLI. True when the API is used.
  bool UseEngineApi(std::unique_ptr<DockerApi> api, Deadline deadline);
  // Uses `api` from now on for everything but the deploy on the target's node: an API the
  // caller owns and has checked reaches the daemon the CLI reaches (ChooseLocalApi), shared
  // by the runs of a process. Null changes nothing.
  void UseCheckedApi(DockerApi* api) {
    if (api != nullptr) api_ = api;
  }
  bool uses_engine_api() const { return api_ != nullptr; }
  // Makes every image available on every active node, by `policy`: on the target's node,
  // present or pulled by Docker from its registry (in parallel, within `deadline`, the pull
  // budget); each pulled or registry-known image is pinned to its digest; the other nodes
  // pull the pinned reference themselves, and a local-only image is copied to them through
  // this machine. `say` (may be null) gets a line per pull. Failures: see PullFailure.
  Result<std::vector<ImageReport>> EnsureImages(const std::vector<std::string>& images, PullPolicy policy,
                                                PhaseLog* log, Deadline deadline, const CancelToken& cancel,
                                                const std::function<void(const std::string&)>& say) override;
  // What EnsureImages would do, pulling nothing: each image "present" (on the target's
  // node), "pullable" (its registry has it; digest from the registry), "missing" (neither)
  // or "unknown" (the registry did not answer; `error` says why), per `policy`.
  std::vector<ImagePlan> PlanImages(const std::vector<std::string>& images, PullPolicy policy, PhaseLog* log,
                                    Deadline deadline, const CancelToken& cancel) override;
  // Every image exists on this node (no registry is consulted).
  Status CheckImages(const std::vector<std::string>& images, PhaseLog* log, Deadline deadline,
                     const CancelToken& cancel);
  // An external network a recipe joins: whether it exists, and whether the harness made it.
  Result<NetworkState> InspectNetwork(const std::string& name, PhaseLog* log, Deadline deadline,
                                      const CancelToken& cancel) override;
  // Creates an attachable overlay network for recipes that expect it to exist, labelled
  // harness.shared-network=<name> and with `labels`; one that appeared meanwhile is fine.
  // Never labelled harness.namespace: it belongs to no one run, and is removed with
  // RemoveSharedNetwork once no run of ours uses it (the caller holds its NetworkLock).
  Status CreateSharedNetwork(const std::string& name, const std::map<std::string, std::string>& labels,
                             PhaseLog* log, Deadline deadline, const CancelToken& cancel) override;
  // Removes a network the harness created, unless Docker says something still uses it
  // (a warm deploy, say). True when it is gone; a network it did not create is never touched.
  Result<bool> RemoveSharedNetwork(const std::string& name, PhaseLog* log, Deadline deadline) override;
  // The names of the shared networks the harness created.
  Result<std::vector<std::string>> SharedNetworks(Deadline deadline);
  Result<bool> SecretExists(const std::string& name, PhaseLog* log, Deadline deadline,
                            const CancelToken& cancel) override;
  // Each service's value of the label `label` and its update state.
  Result<std::vector<ServiceVersion>> ServiceVersions(const std::vector<std::string>& services, const std::string& label,
                                                      PhaseLog* log, Deadline deadline,
                                                      const CancelToken& cancel) override;
  Status CreateSecret(const std::string& name, const std::string& value,
                      const std::map<std::string, std::string>& labels, PhaseLog* log,
                      Deadline deadline, const CancelToken& cancel);
  // `docker secret create` of `secret.name`.
  Status CreateSecret(const Secret& secret, PhaseLog* log, Deadline deadline, const CancelToken& cancel) override {
    return CreateSecret(secret.name, secret.value, secret.labels, log, deadline, cancel);
  }
  // `docker stack deploy` of staged (so interpolated) compose files. The docker CLI gets
  // none of the recipe's environment: a recipe cannot set DOCKER_HOST, LD_PRELOAD or PATH
  // for it, and its files cannot read the harness's variables.
  Status DeployStack(const std::string& ns, const std::vector<std::string>& files, PhaseLog* log,
                     Deadline deadline, const CancelToken& cancel);
  // DeployStack; `env` is already in the staged files.
  Status Deploy(const std::string& ns, const std::vector<std::string>& files,
                const std::map<std::string, std::string>& /*env*/, PhaseLog* log, Deadline deadline,
                const CancelToken& cancel) override {
    return DeployStack(ns, files, log, deadline, cancel);
  }
  // Docker's events of `ns` (EventWatch): through the Engine API's socket when it is in
  // use, else `docker events`.
  std::unique_ptr<ChangeWatch> Watch(const std::string& ns, Deadline until) override;
  // One observation of the namespace and of its `expected` services (full names; what
  // the compose files define). `log` may be null (polls are summarised instead).
  Result<ConvergeSnapshot> Observe(const std::string& ns, const std::vector<std::string>& expected, PhaseLog* log,
                                   Deadline deadline, const CancelToken& cancel) override;
  // A running container of `<ns>_<service>` (a healthy one when there is a choice), on
  // whichever node it runs.
  Result<std::optional<ProxyEntry>> FindProxy(PhaseLog* log, Deadline deadline, const CancelToken& cancel) override;
  Result<Located> ContainerOf(const std::string& ns, const std::string& service,
                              Deadline deadline, const CancelToken& cancel) override;
  // The container's address on its node's docker_gwbridge, reachable from that node.
  Result<std::string> AddressOf(const Located& where, Deadline deadline, const CancelToken& cancel) override;
  Result<ProcessResult> Exec(const Located& where, const std::vector<std::string>& argv,
                             Deadline deadline, const CancelToken& cancel) override;
  Result<std::string> Logs(const std::string& ns, const std::string& service, int tail,
                           Deadline deadline, const CancelToken& cancel) override;
  // The healthcheck state of every container of the namespace, running or exited:
  // [{container, service, state, exit_code, health, failing_streak, last_output}].
  Result<nlohmann::json> ContainerHealth(const std::string& ns, Deadline deadline) override;
  // Removes everything of the namespace and verifies it is gone. Never cancelled.
  Status Teardown(const std::string& ns, PhaseLog* log, Deadline deadline) override;
  // Removes the stack and its configs and waits until its services, containers and
  // networks are gone, keeping its volumes and secrets (a clean re-deploy keeping the data).
  Status RemoveStackKeepingData(const std::string& ns, PhaseLog* log, Deadline deadline);
  Result<Leftovers> FindLeftovers(const std::string& ns, PhaseLog* log, Deadline deadline);
  // Which dockerd process answers: "<pid>/<start time>" from the daemon's pid file and
  // /proc, read where the executor runs; "" when that cannot be read. A change between
  // two readings means the daemon restarted.
  std::string DaemonIdentity(Deadline deadline) override;
  // Every namespace that has at least one object labelled harness.namespace.
  Result<std::vector<LabelledNamespace>> LabelledNamespaces(Deadline deadline);

 private:
  // The watch Watch() hands out, with what only the runtime asks of it (live()).
  std::unique_ptr<EventWatch> Events(const std::string& ns, Deadline until);
  Status RemoveStack(const std::string& ns, PhaseLog* log, Deadline deadline, bool keep_data);
  Result<Leftovers> Find(const std::string& ns, PhaseLog* log, Deadline deadline, bool all);
  Result<std::vector<std::string>> Ids(const std::vector<std::string>& args, PhaseLog* log,
                                       Deadline deadline, Docker* on = nullptr);
  // `docker <kind> rm <names>`, each name on its node: "<node>:<name>" on that other node.
  void RemoveOnNodes(const std::string& kind, const std::vector<std::string>& names, PhaseLog* log);
  // Removes `names` of `kind` on the target's node (the Engine API when in use, else
  // `docker <kind> rm`); containers by force. The first failure, after trying them all.
  Status Remove(const std::string& kind, const std::vector<std::string>& names, PhaseLog* log, Deadline deadline);
  // `docker stack rm` through the Engine API; adds the ids of the services it removed.
  Status RemoveStackThroughApi(const std::string& ns, Deadline deadline, std::set<std::string>* removed_services);
  // How many tasks of `services` (ids) Swarm still has, through the API.
  Result<int> TasksOf(const std::set<std::string>& services, Deadline deadline);
  // The other nodes (ready and active), each with a Docker reached on it; empty for a
  // single node or without set_nodes(). Read once.
  struct OtherNode {
    SwarmNode node;
    std::unique_ptr<Docker> docker;
  };
  Result<std::vector<OtherNode>*> OtherNodes(Deadline deadline);
  // The RepoDigests of each image on `on` ("" entry: not present there), at once.
  std::vector<Result<std::vector<std::string>>> Inspect(Docker* on, const std::vector<std::string>& images,
                                                       PhaseLog* log, Deadline deadline, const CancelToken& cancel);
  // Appends "<image> → <node>" to `copied`.
  Status CopyImage(OtherNode& to, const std::string& image, PhaseLog* log, Deadline deadline,
                   const CancelToken& cancel, nlohmann::json* copied);
  Result<ConvergeSnapshot> ObserveThroughApi(const std::string& ns, Deadline deadline);
  Result<NetworkState> InspectNetworkThroughApi(const std::string& name, Deadline deadline, const CancelToken& cancel);
  Status CreateSharedNetworkThroughApi(const std::string& name, const std::map<std::string, std::string>& labels,
                                       Deadline step, const CancelToken& cancel);
  Docker* docker_;
  std::string daemon_id_;             // `docker info` ID, from Preflight
  std::unique_ptr<DockerApi> owned_api_;  // set by UseEngineApi
  DockerApi* api_ = nullptr;              // owned_api_, or one given to UseCheckedApi
  NodeReach* nodes_ = nullptr;
  std::optional<std::vector<OtherNode>> other_nodes_;
};

// The first service of `services` (`docker service inspect`'s array, or the Engine API's
// GET /services) that joins the network `network_id` (or one named "proxy") and publishes
// container port 443; its published ports for 443 and 80. Parts of an unexpected shape are
// passed over. (SwarmRuntime::FindProxy; here for its unit tests.)
std::optional<Runtime::ProxyEntry> ProxyAmong(const nlohmann::json& services, const std::string& network_id);

}  // namespace harness
