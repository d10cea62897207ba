#include "support/two_node_swarm.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "exec/local_executor.h"

namespace harness::testing {
namespace {

constexpr const char* kBridge = "hn-br";

struct Node {
  std::string name;     // "a", "b"
  std::string address;  // on the bridge
};
const Node kNodes[] = {{"a", "10.231.0.2"}, {"b", "10.231.0.3"}};

ProcessResult Sh(const std::string& script, Duration timeout = Duration(60000)) {
  LocalExecutor exec;
  Command c;
  c.argv = {"sh", "-c", script};
  c.deadline = Deadline::In(timeout);
  auto r = exec.Run(c, CancelToken::None());
  return r.ok() ? *r : ProcessResult{};
}

void MustSh(const std::string& script, Duration timeout = Duration(60000)) {
  auto r = Sh(script, timeout);
  INFO(script << "\n" << r.out << r.err);
  REQUIRE(r.ok());
}

}  // namespace

std::string TwoNodeSwarm::Socket(const std::string& node) {
  return "unix:///run/harness-node-" + node + "/docker.sock";
}

std::string TwoNodeSwarm::Docker(const std::string& node, const std::vector<std::string>& args) {
  LocalExecutor exec;
  Command c;
  c.argv = {"docker", "-H", Socket(node)};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.deadline = Deadline::In(Duration(60000));
  auto r = exec.Run(c, CancelToken::None());
  REQUIRE(r.ok());
  INFO(QuoteArgv(c.argv) << ": " << r->err);
  REQUIRE(r->ok());
  return r->out;
}

TwoNodeSwarm::TwoNodeSwarm() {
  Down();  // whatever a killed earlier test left
  MustSh(std::string("ip link add ") + kBridge + " type bridge && ip addr add 10.231.0.1/24 dev " + kBridge +
         " && ip link set " + kBridge + " up && iptables -I FORWARD -i " + kBridge + " -o " + kBridge + " -j ACCEPT");
  for (const auto& n : kNodes) {
    std::string ns = "hn-" + n.name;
    MustSh("ip netns add " + ns + " && ip link add " + ns + "-h type veth peer name " + ns + "-c && ip link set " +
           ns + "-c netns " + ns + " && ip netns exec " + ns + " ip link set " + ns + "-c name eth0 && ip netns exec " +
           ns + " ip addr add " + n.address + "/24 dev eth0 && ip netns exec " + ns + " ip link set eth0 up && " +
           "ip netns exec " + ns + " ip link set lo up && ip netns exec " + ns +
           " ip route add default via 10.231.0.1 && ip link set " + ns + "-h master " + kBridge + " up");
    std::string run = "/run/harness-node-" + n.name;
    // A mount namespace with a sysfs of the network namespace (overlay bridges are set up
    // through /sys/class/net), keeping the cgroup mounts that dockerd needs.
    MustSh("mkdir -p /var/lib/harness-node-" + n.name + " " + run + "/cg && (nsenter --net=/var/run/netns/" + ns +
           " unshare --mount --uts sh -c 'hostname node-" + n.name + " && mount --rbind /sys/fs/cgroup " + run +
           "/cg && mount -t sysfs sysfs /sys && mount --rbind " + run + "/cg /sys/fs/cgroup && exec dockerd" +
           " --data-root /var/lib/harness-node-" + n.name + " --exec-root " + run + "/exec --pidfile " + run +
           "/dockerd.pid -H " + Socket(n.name) + "' >" + run + "/dockerd.log 2>&1 &)");
  }
  for (const auto& n : kNodes) {
    MustSh("for i in $(seq 300); do docker -H " + Socket(n.name) +
           " info >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1");
  }
  Docker("a", {"swarm", "init", "--advertise-addr", kNodes[0].address});
  std::string token = Docker("a", {"swarm", "join-token", "-q", "worker"});
  token = token.substr(0, token.find('\n'));
  Docker("b", {"swarm", "join", "--advertise-addr", kNodes[1].address, "--token", token,
               std::string(kNodes[0].address) + ":2377"});
  MustSh("docker save recipe-harness/busybox:1 | docker -H " + Socket("a") + " load");

  TestSshdOptions manager;
  manager.netns = "hn-a";
  manager.address = kNodes[0].address;
  manager.docker_host = Socket("a");
  manager_ssh_ = std::make_unique<TestSshd>(manager);
  TestSshdOptions worker;
  worker.netns = "hn-b";
  worker.address = kNodes[1].address;
  worker.port = manager_ssh_->port();
  worker.docker_host = Socket("b");
  worker.keys_from = manager_ssh_->dir();
  worker_ssh_ = std::make_unique<TestSshd>(worker);
  known_hosts_ = manager_ssh_->dir() + "/known_hosts.all";
  std::ofstream(known_hosts_) << std::ifstream(manager_ssh_->known_hosts()).rdbuf()
                              << std::ifstream(worker_ssh_->known_hosts()).rdbuf();
}

TwoNodeSwarm::~TwoNodeSwarm() {
  worker_ssh_.reset();
  manager_ssh_.reset();
  Down();
}

void TwoNodeSwarm::Down() {
  for (const auto& n : kNodes) {
    std::string run = "/run/harness-node-" + n.name;
    Sh("docker -H " + Socket(n.name) + " ps -aq | xargs -r docker -H " + Socket(n.name) + " rm -f; "
       "docker -H " + Socket(n.name) + " swarm leave --force; "
       "pid=$(cat " + run + "/dockerd.pid 2>/dev/null) && kill $pid && "
       "for i in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done");
  }
  std::string script;
  for (const auto& n : kNodes) {
    std::string run = "/run/harness-node-" + n.name;
    script += "umount -R " + run + "/cg 2>/dev/null; rm -rf " + run + " /var/lib/harness-node-" + n.name +
              "; ip netns del hn-" + n.name + " 2>/dev/null; ip link del hn-" + n.name + "-h 2>/dev/null; ";
  }
  script += std::string("ip link del ") + kBridge + " 2>/dev/null; while iptables -D FORWARD -i " + kBridge +
            " -o " + kBridge + " -j ACCEPT 2>/dev/null; do :; done; true";
  Sh(script);
}

}  // namespace harness::testing
