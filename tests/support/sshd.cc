#include "support/sshd.h"

#include <dirent.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "exec/local_executor.h"

extern char** environ;

namespace harness::testing {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

bool Accepts(const std::string& address, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

void Keygen(const std::string& path) {
  LocalExecutor exec;
  Command c;
  c.argv = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "recipe-harness-test", "-f", path};
  c.deadline = Deadline::In(Duration(20000));
  auto r = exec.Run(c, CancelToken::None());
  REQUIRE(r.ok());
  REQUIRE(r->ok());
}

// pid → (parent pid, command name), from /proc.
std::map<int, std::pair<int, std::string>> Processes() {
  std::map<int, std::pair<int, std::string>> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::string stat = Read("/proc/" + std::to_string(pid) + "/stat");
    auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    out[pid] = {ppid, stat.substr(open + 1, close - open - 1)};
  }
  closedir(d);
  return out;
}

// One SetEnv line (sshd takes the first of a keyword): each variable the options set.
std::string SetEnv(const TestSshdOptions& options) {
  std::string vars;
  if (!options.docker_host.empty()) vars += " DOCKER_HOST=" + options.docker_host;
  if (!options.path.empty()) vars += " PATH=" + options.path;
  return vars.empty() ? "" : "SetEnv" + vars + "\n";
}

}  // namespace

TestSshd::TestSshd(const TestSshdOptions& options) : dir_("harness-sshd"), address_(options.address) {
  mkdir("/run/sshd", 0755);  // sshd's privilege-separation folder
  for (const char* key : {"host_ed25519", "client_ed25519", "stranger_ed25519", "impostor_ed25519"}) {
    if (options.keys_from.empty()) {
      Keygen(dir() + "/" + key);
      continue;
    }
    for (const std::string suffix : {"", ".pub"}) {
      Write(dir() + "/" + key + suffix, Read(options.keys_from + "/" + key + suffix));
    }
    chmod((dir() + "/" + key).c_str(), 0600);
  }
  port_ = options.port > 0 ? options.port : FreePort();
  Write(dir() + "/authorized_keys", Read(client_key() + ".pub"));
  auto host_line = [&](const std::string& pub) {
    std::istringstream in(Read(pub));
    std::string type, key;
    in >> type >> key;
    return "[" + address_ + "]:" + std::to_string(port_) + " " + type + " " + key + "\n";
  };
  Write(known_hosts(), host_line(dir() + "/host_ed25519.pub"));
  Write(wrong_known_hosts(), host_line(dir() + "/impostor_ed25519.pub"));
  chmod(known_hosts().c_str(), 0600);
  Write(dir() + "/sshd_config",
        "Port " + std::to_string(port_) + "\n"
        "ListenAddress " + address_ + "\n"
        "HostKey " + dir() + "/host_ed25519\n"
        "PidFile " + dir() + "/sshd.pid\n"
        "AuthorizedKeysFile " + dir() + "/authorized_keys\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "AllowTcpForwarding yes\n"
        "MaxStartups 100\n"
        "MaxSessions 50\n"
        "LogLevel DEBUG1\n"
        "AllowStreamLocalForwarding " + (options.stream_local ? "yes" : "no") + "\n" +
        SetEnv(options));
  std::string log = dir() + "/sshd.log";
  std::vector<std::string> args = {"/usr/sbin/sshd", "-D", "-e", "-f", dir() + "/sshd_config", "-E", log};
  if (!options.netns.empty()) {
    args.insert(args.begin(), {"/usr/bin/nsenter", "--net=/var/run/netns/" + options.netns});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  Deadline up = Deadline::In(Duration(20000));
  while (!Accepts(address_, port_) && !up.passed()) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("sshd exited at start: " << Log());
    }
    usleep(20000);
  }
  REQUIRE(Accepts(address_, port_));
}

TestSshd::~TestSshd() {
  if (pid_ <= 0) return;
  KillSessions();
  kill(pid_, SIGTERM);
  int st = 0;
  waitpid(pid_, &st, 0);
}

int TestSshd::KillSessions() {
  auto procs = Processes();
  std::vector<int> parents = {pid_};
  int killed = 0;
  while (!parents.empty()) {
    int parent = parents.back();
    parents.pop_back();
    for (const auto& [pid, info] : procs) {
      if (info.first != parent || info.second != "sshd") continue;
      parents.push_back(pid);
      if (kill(pid, SIGKILL) == 0) ++killed;
    }
  }
  return killed;
}

std::string TestSshd::Log() const { return Read(dir() + "/sshd.log"); }

}  // namespace harness::testing
