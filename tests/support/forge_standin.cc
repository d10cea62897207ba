#include "support/forge_standin.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "base/deadline.h"

namespace harness::testing {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Readers never see a half-written file: write a temporary file, then rename it.
bool WriteAtomically(const std::string& path, const std::string& text) {
  static std::atomic<int> counter{0};
  std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(++counter);
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) return false;
  }
  return rename(tmp.c_str(), path.c_str()) == 0;
}

// Waits up to `grace` for the child to exit after SIGTERM, then SIGKILLs it; always reaps.
void Stop(int pid, Duration grace) {
  kill(pid, SIGTERM);
#ifdef SYS_pidfd_open
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, static_cast<int>(grace.count()));
    } while (r < 0 && errno == EINTR);
    if (r == 0) kill(pid, SIGKILL);
    close(pidfd);
  }
#else
  (void)grace;
#endif
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<std::unique_ptr<ForgeStandin>> ForgeStandin::Start(const std::string& dir,
                                                          const nlohmann::json& config) {
  if (!WriteAtomically(dir + "/config.json", config.dump(2))) {
    return Status::Infra("cannot write " + dir + "/config.json");
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Infra("pipe2 failed");

  // Everything the child needs is prepared before fork(): after it, only async-signal-safe
  // calls.
  std::string script = std::string(HARNESS_SOURCE_DIR) + "/tests/support/forge-standin";
  std::vector<std::string> args = {"/usr/bin/python3", script, "--port",    "0",
                                   "--state",          dir,    "--port-fd", "3"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string err_path = dir + "/standin.stderr";
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Status::Infra("fork failed");
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the test process
    if (getppid() != parent) _exit(127);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (in < 0 || err < 0) _exit(127);
    dup2(in, 0);
    dup2(err, 1);
    dup2(err, 2);
    if (fds[1] == 3) {
      fcntl(3, F_SETFD, 0);
    } else {
      dup2(fds[1], 3);  // the duplicate is not close-on-exec
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);

  // The script writes "<port>\n" to fd 3 once it listens, then closes it.
  std::string got;
  Deadline up = Deadline::In(Duration(10000));
  while (got.find('\n') == std::string::npos && !up.passed()) {
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(up.remaining().count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char buf[64];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // closed without a port: the script failed
    got.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int port = 0;
  try {
    port = std::stoi(got);
  } catch (...) {
    port = 0;
  }
  if (port <= 0 || port > 65535) {
    Stop(pid, Duration(2000));
    return Status::Infra("forge-standin did not start: " + Read(err_path));
  }
  return std::unique_ptr<ForgeStandin>(new ForgeStandin(dir, pid, port));
}

ForgeStandin::~ForgeStandin() {
  if (pid_ > 0) Stop(pid_, Duration(5000));
}

void ForgeStandin::SetConfig(const nlohmann::json& config) {
  WriteAtomically(dir_ + "/config.json", config.dump(2));
}

std::vector<nlohmann::json> ForgeStandin::Calls() const {
  std::vector<nlohmann::json> out;
  std::string text = Read(dir_ + "/calls.jsonl");
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    auto j = nlohmann::json::parse(text.substr(start, end - start), nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::string ForgeStandin::Log() const {
  return Read(dir_ + "/standin.stderr") + Read(dir_ + "/standin.log");
}

}  // namespace harness::testing
