#include "ledger/liveness.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/wait.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

std::string LockPath(const std::string& state_dir, const std::string& ns) {
  return state_dir + "/locks/" + ns + ".lock";
}

std::string HostName() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot.
std::string StartTime(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return "";
  auto close = line.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return "";
  }
  return field;
}

}  // namespace

Result<RunLock> RunLock::Acquire(const std::string& state_dir, const std::string& ns) {
  std::error_code ec;
  fs::create_directories(state_dir + "/locks", ec);
  if (ec) return Status::Infra("cannot create " + state_dir + "/locks: " + ec.message());
  std::string path = LockPath(state_dir, ns);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Infra("cannot open " + path + ": " + strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return Status::Infra("namespace " + ns + " is locked by another harness process");
  }
  std::string owner = ThisProcessOwner() + "\n";
  // The owner is for people reading the file; liveness is the flock alone.
  (void)!ftruncate(fd, 0);
  (void)!write(fd, owner.data(), owner.size());
  return RunLock(fd, path);
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  // Remove the file while still holding the lock, so nobody sees a stale free lock.
  unlink(path_.c_str());
  close(fd_);
}

namespace {

// "<lock folder>/recipe-harness-<kind>-<target>[-<name>].lock": one per Swarm (target
// "local", "ssh://user@host:port"), across harness processes whatever their state folders.
std::string SharedLockPath(const std::string& kind, const std::string& target, const std::string& name) {
  std::string dir;
  if (const char* d = std::getenv("HARNESS_LOCK_DIR"); d && *d) {
    dir = d;
  } else if (access("/run/lock", W_OK) == 0) {
    dir = "/run/lock";
  } else {
    std::error_code ec;
    dir = fs::temp_directory_path(ec).string();  // TMPDIR, when it names a folder
    if (ec) dir = "/tmp";
  }
  std::string key = target + (name.empty() ? "" : "-" + name);
  for (char& c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '@') c = '_';
  }
  return dir + "/recipe-harness-" + kind + "-" + key + ".lock";
}

Result<int> OpenNetworkLock(const std::string& target, const std::string& network, int op) {
  std::string path = SharedLockPath("network", target, network);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Infra("cannot open " + path + ": " + strerror(errno));
  while (flock(fd, op) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) return Status::Failed("the network " + network + " is in use by a run of ours");
    return Status::Infra("cannot lock " + path + ": " + strerror(err));
  }
  return fd;
}

}  // namespace

Result<NetworkLock> NetworkLock::Share(const std::string& target, const std::string& network) {
  auto fd = OpenNetworkLock(target, network, LOCK_SH);
  if (!fd.ok()) return fd.status();
  return NetworkLock(*fd);
}

Result<NetworkLock> NetworkLock::Exclusive(const std::string& target, const std::string& network) {
  auto fd = OpenNetworkLock(target, network, LOCK_EX | LOCK_NB);
  if (!fd.ok()) return fd.status();
  return NetworkLock(*fd);
}

bool NetworkLock::TryExclusive() { return fd_ >= 0 && flock(fd_, LOCK_EX | LOCK_NB) == 0; }

NetworkLock::~NetworkLock() {
  if (fd_ >= 0) close(fd_);
}

Result<SwarmLock> SwarmLock::Take(const std::string& target, Mode mode, bool wait,
                                  const CancelToken& cancel, const std::function<void()>& on_wait) {
  std::string path = SharedLockPath("swarm", target, "");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Infra("cannot open " + path + ": " + strerror(errno));
  int op = (mode == Mode::kShared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  bool told = false;
  int pause_ms = 50;
  while (flock(fd, op) != 0) {
    if (errno != EWOULDBLOCK) {
      close(fd);
      return Status::Infra("cannot lock " + path + ": " + strerror(errno));
    }
    if (!wait) {
      close(fd);
      return Status::Infra(mode == Mode::kExclusive
                               ? "other harness runs are active on this Swarm; isolation refused"
                               : "an isolated harness run holds this Swarm");
    }
    if (cancel.cancelled()) {
      close(fd);
      return Status::Cancelled("interrupted while waiting for the Swarm lock");
    }
    if (!told && on_wait) on_wait();
    told = true;
    WaitFor(Duration(pause_ms), cancel);
    pause_ms = std::min(pause_ms * 2, 500);
  }
  return SwarmLock(fd);
}

SwarmLock::~SwarmLock() {
  if (fd_ >= 0) close(fd_);
}

Liveness LockLiveness(const std::string& state_dir, const std::string& ns) {
  std::string path = LockPath(state_dir, ns);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Liveness::kUnknown;
  Liveness l = Liveness::kDead;
  if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
    l = errno == EWOULDBLOCK ? Liveness::kLive : Liveness::kUnknown;
  }
  close(fd);
  return l;
}

void RemoveDeadLock(const std::string& state_dir, const std::string& ns) {
  std::string path = LockPath(state_dir, ns);
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) unlink(path.c_str());
  close(fd);
}

std::string ThisProcessOwner() {
  long pid = static_cast<long>(getpid());
  return HostName() + "/" + std::to_string(pid) + "/" + StartTime(pid);
}

Liveness OwnerLiveness(const std::string& owner) {
  auto a = owner.find('/');
  auto b = owner.rfind('/');
  if (a == std::string::npos || a == b) return Liveness::kUnknown;
  if (owner.substr(0, a) != HostName()) return Liveness::kUnknown;
  long pid = std::strtol(owner.substr(a + 1, b - a - 1).c_str(), nullptr, 10);
  if (pid <= 0) return Liveness::kUnknown;
  std::string start = StartTime(pid);
  if (start.empty()) return Liveness::kDead;
  return start == owner.substr(b + 1) ? Liveness::kLive : Liveness::kDead;
}

}  // namespace harness
