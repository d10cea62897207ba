// Swarm nodes, and how to reach each one.
//
// Most work goes through the manager (the target), but what lives on one node — a
// container to exec into or to probe, its images, its disk — has to be reached on that
// node. NodeReach gives an executor per node: the target's own for the node it is, and
// for every other node SSH to the node's Swarm address with the target's user, port,
// key and known_hosts (so every node must accept them). With a local target only this
// machine's node is reachable.
//
// Thread-safety: NodeReach::For may be called from several threads; the executors it
// hands out live as long as it does.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "exec/ssh_executor.h"
#include "exec/target.h"
#include "runtime/docker.h"
#include "runtime/docker_api.h"

namespace harness {

struct SwarmNode {
  std::string id;
  std::string hostname;
  std::string address;       // Status.Addr: where the Swarm reaches it
  std::string role;          // "manager", "worker"
  std::string state;         // "ready", "down", …
  std::string availability;  // "active", "pause", "drain"
  bool self = false;         // the node the target's Docker is
};

// The Swarm's nodes, by host name. REQUIRES: the target is a manager.
Result<std::vector<SwarmNode>> ListNodes(Docker* docker, Deadline deadline);
// The same through the Engine API of the target's node.
Result<std::vector<SwarmNode>> ListNodes(DockerApi* api, Deadline deadline);

class NodeReach {
 public:
  // `ssh`: the target when it is reached over SSH; nullopt for this machine.
  NodeReach(Executor* target, std::optional<Target> ssh, SshOptions options)
      : target_(target), ssh_(std::move(ssh)), options_(std::move(options)) {}

  // The executor for `node`, or why it cannot be reached.
  Result<Executor*> For(const SwarmNode& node);
  // ListNodes through `docker` (the target's), or through the API given to set_api,
  // remembered for kNodesFresh: the runs of one process ask once, not each.
  Result<std::vector<SwarmNode>> Nodes(Docker* docker, Deadline deadline);
  // The target's Engine API (checked to reach the CLI's daemon; opened on first use); it
  // outlives this NodeReach. Set before the first Nodes().
  void set_api(DockerApiSource* api) { api_ = api; }
  static constexpr Duration kNodesFresh{30000};

 private:
  Executor* target_;
  DockerApiSource* api_ = nullptr;
  std::optional<Target> ssh_;
  SshOptions options_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Executor>> opened_;  // node id → executor
  std::optional<std::vector<SwarmNode>> nodes_;
  Clock::time_point nodes_at_{};
};

}  // namespace harness
