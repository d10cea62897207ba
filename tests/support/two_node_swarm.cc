#include "support/two_node_swarm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
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

// Starts argv in the background, in a process group of its own, killed if this process dies;
// its output goes to `log`. Returns the pid, or -1.
int Spawn(std::vector<std::string> args, const std::string& log) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test process
  if (getppid() != parent) _exit(127);
  setpgid(0, 0);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (in < 0 || out < 0) _exit(127);
  dup2(in, 0);
  dup2(out, 1);
  dup2(out, 2);
  execv(argv[0], argv.data());
  _exit(127);
}

// SIGTERM to the process group, SIGKILL after a few seconds; reaps the leader.
void StopGroup(int pid) {
  kill(-pid, SIGTERM);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, 5000);
    } while (r < 0 && errno == EINTR);
    if (r == 0) kill(-pid, SIGKILL);
    close(pidfd);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  kill(-pid, SIGKILL);  // a relay's per-connection children, if any are left
}

// Whether address:port accepts a TCP connection, seen from network namespace `netns` (ip
// netns) or from this one ("").
bool Accepts(const std::string& netns, const std::string& address, int port) {
  bool ok = false;
  auto attempt = [&] {
    if (!netns.empty()) {
      int ns = open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0) return;
      int r = setns(ns, CLONE_NEWNET);  // this thread only
      close(ns);
      if (r != 0) return;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
  };
  std::thread(attempt).join();
  return ok;
}

}  // namespace

std::string TwoNodeSwarm::Socket(const std::string& node) {
  return "unix:///run/harness-node-" + node + "/docker.sock";
}

std::vector<DockerNode> TwoNodeSwarm::Nodes() {
  return {ThisMachine(), {"node-a", {"-H", Socket("a")}, true}, {"node-b", {"-H", Socket("b")}, false}};
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

void TwoNodeSwarm::ReachRegistry(int port) {
  std::string p = std::to_string(port);
  std::string logs = "/run/harness-node-a/relay-" + p + ".log";  // removed by Down()
  struct Relay {
    std::string netns;  // where it listens ("" for this machine)
    std::string address;
    int pid;
  };
  std::vector<Relay> relays;
  relays.push_back({"", "10.231.0.1",
                    Spawn({"/usr/bin/socat", "TCP-LISTEN:" + p + ",bind=10.231.0.1,fork,reuseaddr",
                           "TCP:127.0.0.1:" + p},
                          logs)});
  for (const auto& n : kNodes) {
    relays.push_back({"hn-" + n.name, "127.0.0.1",
                      Spawn({"/usr/bin/nsenter", "--net=/var/run/netns/hn-" + n.name, "/usr/bin/socat",
                             "TCP-LISTEN:" + p + ",bind=127.0.0.1,fork,reuseaddr", "TCP:10.231.0.1:" + p},
                            logs)});
  }
  for (const auto& r : relays) {
    REQUIRE(r.pid > 0);
    relay_pids_.push_back(r.pid);
  }
  for (const auto& r : relays) {
    Deadline up = Deadline::In(Duration(10000));
    Duration pause(5);
    while (!Accepts(r.netns, r.address, port)) {
      int st = 0;
      std::ifstream log(logs);
      std::stringstream text;
      text << log.rdbuf();
      INFO("relay on " << (r.netns.empty() ? "this machine" : r.netns) << " " << r.address << ":" << port
                       << "\n" << text.str());
      REQUIRE(waitpid(r.pid, &st, WNOHANG) == 0);
      REQUIRE(!up.passed());
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, Duration(200));
    }
  }
}

TwoNodeSwarm::~TwoNodeSwarm() {
  worker_ssh_.reset();
  manager_ssh_.reset();
  Down();
}

void TwoNodeSwarm::Down() {
  for (int pid : relay_pids_) StopGroup(pid);
  relay_pids_.clear();
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
