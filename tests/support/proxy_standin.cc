#include "support/proxy_standin.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "exec/local_executor.h"
#include "support/child.h"
#include "support/e2e.h"

namespace harness::testing {
namespace {

ProcessResult Run(const std::vector<std::string>& argv, Duration timeout) {
  LocalExecutor exec;
  Command c;
  c.argv = argv;
  c.deadline = Deadline::In(timeout);
  auto r = exec.Run(c, CancelToken::None());
  if (!r.ok()) {
    ProcessResult failed;
    failed.exit_code = -1;
    failed.err = r.status().ToString();
    return failed;
  }
  return *r;
}

// True when the child `pid` exits within `ms` (it is then reaped).
bool ExitsWithin(int pid, int ms) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return true;
  pollfd p{pidfd, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, ms);
  } while (r < 0 && errno == EINTR);
  close(pidfd);
  if (r == 0) return false;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return true;
}

}  // namespace

ProxyStandin::ProxyStandin(const std::string& no_cert) : dir_("proxy-standin") {
  REQUIRE(!dir_.path().empty());
  std::vector<std::string> args = {"/usr/bin/python3", SourceDir() + "/scripts/proxy-standin", "--ca-dir",
                                   dir_.path() + "/ca", "--stack", kStack};
  if (!no_cert.empty()) {
    args.push_back("--no-cert");
    args.push_back(no_cert);
  }
  pid_t pid = SpawnLogged(args, dir_.path() + "/standin.log");
  REQUIRE(pid >= 0);
  pid_ = pid;
  if (!WaitForLog("proxy-standin: ready", 120000)) {
    std::string why = Log();
    Stop();  // FAIL throws: the destructor of a half-made object does not run
    FAIL("the proxy stand-in did not come up within 120 s:\n" << why);
  }
}

ProxyStandin::~ProxyStandin() { Stop(); }

void ProxyStandin::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    if (!ExitsWithin(pid_, 120000)) {
      kill(pid_, SIGKILL);
      ExitsWithin(pid_, 10000);
    }
  }
  // A safety net: the stand-in removes its stack when it stops; a killed one could not.
  if (Run({"docker", "stack", "ls", "--format", "{{.Name}}"}, Duration(30000)).out.find(kStack) !=
      std::string::npos) {
    Run({"docker", "stack", "rm", kStack}, Duration(60000));
  }
  pid_ = -1;
}

std::string ProxyStandin::Log() const {
  std::ifstream in(dir_.path() + "/standin.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool ProxyStandin::WaitForLog(const std::string& text, int timeout_ms, int times) const {
  Deadline until = Deadline::In(Duration(timeout_ms));
  for (;;) {
    std::string log = Log();
    int seen = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++seen;
    if (seen >= times) return true;
    if (log.find("proxy-standin: stopped") != std::string::npos || until.passed()) return false;
    usleep(100000);  // the log is a file the stand-in appends to; read it again shortly
  }
}

std::string ProxyStandin::Fetch(const std::string& domain, const std::string& path) const {
  auto r = Run({"curl", "-sS", "--max-time", "10", "--cacert", ca_file(), "--connect-to",
                domain + ":443:127.0.0.1:443", "-w", "\n%{http_code}", "https://" + domain + path},
               Duration(20000));
  if (r.exit_code != 0) return "error: " + r.err;
  auto nl = r.out.rfind('\n');
  return r.out.substr(nl + 1) + " " + r.out.substr(0, nl);
}

}  // namespace harness::testing
