// TwoNodeSwarm: a Swarm of two nodes on this machine, apart from the machine's own Swarm,
// for the multi-node tests.
//
// Each node is a dockerd in its own network namespace (ip netns, a veth on a bridge
// 10.231.0.1/24 of this machine), mount namespace (a sysfs of its own, the cgroup mounts
// kept) and UTS namespace (host name node-a, node-b), with its own --data-root and
// --exec-root; node-a (10.231.0.2) is the manager, node-b (10.231.0.3) a worker. An sshd
// runs beside each dockerd in its namespace, on the same port, with the same host key and
// the same authorised client key, its sessions' DOCKER_HOST pointing at that node's
// dockerd: the way a remote Swarm looks from a CI box. The test image is loaded on node-a
// only. The destructor removes everything (containers, Swarm state, daemons, relays,
// namespaces, bridge, firewall rule), pass or fail. One per process at a time; one test
// thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/leftover_check.h"
#include "support/sshd.h"

namespace harness::testing {

class TwoNodeSwarm {
 public:
  TwoNodeSwarm();  // REQUIREs that the Swarm comes up
  ~TwoNodeSwarm();
  TwoNodeSwarm(const TwoNodeSwarm&) = delete;
  TwoNodeSwarm& operator=(const TwoNodeSwarm&) = delete;

  // The manager as an SSH target, with the key and known_hosts that every node accepts.
  std::string target() const { return manager_ssh_->target(); }
  std::string client_key() const { return manager_ssh_->client_key(); }
  std::string known_hosts() const { return known_hosts_; }
  // `docker -H <socket>` of a node ("a" or "b").
  static std::string Socket(const std::string& node);
  // Every node a test may leave something on while the Swarm is up, for ScanFor: this
  // machine's own, node-a (the manager) and node-b (a worker).
  static std::vector<DockerNode> Nodes();
  // Runs `docker -H <node> <args>`; returns stdout, REQUIREs success.
  static std::string Docker(const std::string& node, const std::vector<std::string>& args);
  // Makes 127.0.0.1:<port> in each node's network namespace reach this machine's
  // 127.0.0.1:<port> (a TestRegistry, say): the same image reference then works on every
  // node, and each node's Docker treats it as a loopback registry that needs no TLS. Two
  // socat relays per port: node loopback -> 10.231.0.1 (the bridge) -> this machine's
  // loopback; they stop with the Swarm. REQUIREs that they listen.
  void ReachRegistry(int port);

 private:
  void Down();
  std::vector<int> relay_pids_;  // socat relays, each the leader of its process group
  std::unique_ptr<TestSshd> manager_ssh_;
  std::unique_ptr<TestSshd> worker_ssh_;
  std::string known_hosts_;
};

}  // namespace harness::testing
