#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "exec/local_executor.h"
#include "support/e2e.h"

#include <catch2/catch.hpp>

extern char** environ;

namespace harness::testing {
namespace {

std::string ParseNamespace(const std::string& err) {
  static const std::regex re("namespace ([a-z0-9-]+), artifacts in ([^\\s\"]+)");
  std::smatch m;
  if (std::regex_search(err, m, re)) return m[1];
  return "";
}

std::string ParseArtifacts(const std::string& err) {
  static const std::regex re("namespace ([a-z0-9-]+), artifacts in ([^\\s\"]+)");
  std::smatch m;
  if (std::regex_search(err, m, re)) return m[2];
  return "";
}

}  // namespace

std::string SourceDir() { return HARNESS_SOURCE_DIR; }

std::string SweepDir(const std::string& artifacts) {
  std::string dir;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(artifacts, ec)) {
    if (e.path().filename().string().rfind("sweep-", 0) == 0) dir = e.path().string();
  }
  return dir;
}
std::string HarnessBinary() { return HARNESS_BINARY; }
std::string FixtureRecipes() { return SourceDir() + "/tests/fixtures/recipes"; }

HarnessResult RunHarness(const std::vector<std::string>& args, Duration timeout) {
  LocalExecutor exec;
  Command cmd;
  cmd.argv.push_back(HarnessBinary());
  cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
  cmd.deadline = Deadline::In(timeout);
  auto r = exec.Run(cmd, CancelToken::None());
  HarnessResult h;
  if (!r.ok()) return h;
  h.exit_code = r->timed_out ? -1 : r->exit_code;
  h.out = r->out;
  h.err = r->err;
  h.namespace_name = ParseNamespace(h.err);
  h.artifacts = ParseArtifacts(h.err);
  return h;
}

HarnessProcess::HarnessProcess(const std::vector<std::string>& args) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> all = {HarnessBinary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  fd_ = p[0];
}

HarnessProcess::~HarnessProcess() {
  if (pid_ > 0 && exit_code_ < 0) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
  }
  if (fd_ >= 0) close(fd_);
  if (!ns_.empty() && !forget_) CleanUp(ns_);
}

void HarnessProcess::ReadSome(int timeout_ms) {
  if (fd_ < 0) return;
  pollfd pfd{fd_, POLLIN, 0};
  if (poll(&pfd, 1, timeout_ms) <= 0) return;
  char buf[4096];
  ssize_t n = read(fd_, buf, sizeof buf);
  if (n <= 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  err_.append(buf, static_cast<size_t>(n));
  if (ns_.empty()) ns_ = ParseNamespace(err_);
}

bool HarnessProcess::WaitForLine(const std::string& text, Duration timeout) {
  Deadline d = Deadline::In(timeout);
  while (!d.passed()) {
    if (err_.find(text, scanned_) != std::string::npos) return true;
    if (fd_ < 0) return false;
    ReadSome(100);
  }
  return err_.find(text, scanned_) != std::string::npos;
}

void HarnessProcess::ReadFor(Duration d) {
  Deadline until = Deadline::In(d);
  while (!until.passed() && fd_ >= 0) ReadSome(static_cast<int>(std::min<long long>(until.remaining().count() + 1, 100)));
}

void HarnessProcess::Signal(int sig) {
  if (pid_ > 0 && exit_code_ < 0) kill(pid_, sig);
}

int HarnessProcess::Wait(Duration timeout) {
  Deadline d = Deadline::In(timeout);
  while (exit_code_ < 0 && !d.passed()) {
    ReadSome(50);
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
  }
  while (fd_ >= 0) ReadSome(200);  // the rest of stderr
  return exit_code_;
}

LeftoverScan LeftoversOf(const std::string& ns) { return ScanFor(Namespace(ns)); }

std::vector<std::string> NamespacesOfRuns(const std::string& artifacts) {
  std::vector<std::string> namespaces;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(artifacts, ec)) {
    std::ifstream f(e.path() / "summary.json");
    if (!f) continue;
    auto j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_object() && j.contains("namespace") && j["namespace"].is_string()) namespaces.push_back(j["namespace"]);
  }
  std::sort(namespaces.begin(), namespaces.end());
  return namespaces;
}

void CleanUp(const std::string& ns) {
  if (ns.empty() || LeftoversOf(ns).empty()) return;
  LocalExecutor exec;
  Docker docker(&exec, "docker");
  SwarmRuntime swarm(&docker);
  // A cleanup after a test's own checks: what it could not remove is said, not failed on.
  if (Status s = swarm.Teardown(ns, nullptr, Deadline::In(Duration(120000))); !s.ok()) {
    WARN("cleanup of " << ns << " left something behind: " << s.message());
  }
  // What the product's teardown does not see, the checker may: removed by raw docker.
  LeftoverScan left = LeftoversOf(ns);
  if (left.objects.empty()) return;
  WARN("cleanup of " << ns << ": after the product's teardown, " << left.ToString());
  for (const auto& failed : RemoveFound(left, {ThisMachine()})) WARN("cleanup of " << ns << ": " << failed);
}

ProcessResult DockerCli(const std::vector<std::string>& args, Duration timeout) {
  LocalExecutor exec;
  Command c;
  c.argv = {"docker"};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.deadline = Deadline::In(timeout);
  auto r = exec.Run(c, CancelToken::None());
  REQUIRE(r.ok());
  return *r;
}

std::vector<std::string> SharedNetworksLeft() {
  Ownership shared;
  shared.labels = {"harness.shared-network"};
  LeftoverScan scan = ScanFor(shared);
  std::vector<std::string> names = scan.Names("network");
  for (const auto& p : scan.problems) names.push_back("(could not list: " + p + ")");
  return names;
}

void CleanUpSharedNetworks() {
  Ownership shared;
  shared.labels = {"harness.shared-network"};
  // Best effort; SharedNetworksLeft() is what the tests check afterwards.
  for (const auto& failed : RemoveFound(ScanFor(shared), {ThisMachine()})) WARN("shared network: " << failed);
}

bool StackExists(const std::string& ns) {
  LocalExecutor exec;
  Command cmd;
  cmd.argv = {"docker", "stack", "ls", "--format", "{{.Name}}"};
  cmd.deadline = Deadline::In(Duration(20000));
  auto r = exec.Run(cmd, CancelToken::None());
  if (!r.ok()) return false;
  return ("\n" + r->out).find("\n" + ns + "\n") != std::string::npos;
}

}  // namespace harness::testing

namespace harness::testing {
namespace {

bool Sh(const std::string& script, Duration timeout, std::string* out = nullptr) {
  LocalExecutor exec;
  Command cmd;
  cmd.argv = {"sh", "-c", script};
  cmd.deadline = Deadline::In(timeout);
  auto r = exec.Run(cmd, CancelToken::None());
  if (out && r.ok()) *out = r->out;
  return r.ok() && r->ok();
}

bool SwarmReady() {
  std::string out;
  return Sh("docker info --format '{{.Swarm.LocalNodeState}}' && docker node ls --format '{{.Status}}'",
            Duration(10000), &out) &&
         out.find("active") != std::string::npos && out.find("Ready") != std::string::npos;
}

}  // namespace

bool EnsureDockerd(Duration timeout) {
  Deadline d = Deadline::In(timeout);
  if (!Sh("docker info >/dev/null 2>&1", Duration(10000))) {
    Sh("rm -f /var/run/docker.pid; setsid nohup dockerd >>/var/log/harness-dockerd.log 2>&1 </dev/null &",
       Duration(10000));
  }
  while (!d.passed()) {
    if (SwarmReady()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

bool RestartDockerd(Duration timeout) {
  Deadline d = Deadline::In(timeout);
  std::string pid;
  if (!Sh("cat /var/run/docker.pid", Duration(5000), &pid)) return false;
  pid = pid.substr(0, pid.find_first_not_of("0123456789"));
  if (pid.empty()) return false;
  Sh("kill -TERM " + pid, Duration(5000));
  while (!d.passed() && Sh("kill -0 " + pid + " 2>/dev/null", Duration(5000))) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return EnsureDockerd(d.remaining());
}

}  // namespace harness::testing
