// Liveness of runs, honest across crashes.
//
// A running run holds an exclusive flock on `<state>/locks/<namespace>.lock` for its whole
// life; the kernel releases it when the process dies in any way (SIGKILL included). A run
// is live while its lock is held. When no lock file exists (the state folder was lost),
// the owner recorded in the objects' `harness.owner` label ("<host>/<pid>/<start time>")
// is checked instead: live while that process still exists with the same start time.
//
// The lock objects own their file descriptor (released on destruction). Thread-safety: the
// liveness queries are any-thread; one lock object per owner thread.
#pragma once

#include <functional>
#include <string>

#include "base/cancel.h"

#include "base/status.h"

namespace harness {

class RunLock {
 public:
  // Takes the lock of `ns`. Fails if another process holds it.
  static Result<RunLock> Acquire(const std::string& state_dir, const std::string& ns);
  RunLock(RunLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }
  RunLock& operator=(RunLock&&) = delete;
  RunLock(const RunLock&) = delete;
  ~RunLock();

 private:
  RunLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// The Swarm-wide lock: every run holds it shared; an isolated run holds it exclusively,
// so that while it runs nothing else of ours deploys or runs on the Swarm — across harness
// processes, whatever their state folders. It lives in $HARNESS_LOCK_DIR, else /run/lock,
// else the temp folder: `recipe-harness-swarm-<target>.lock`.
class SwarmLock {
 public:
  enum class Mode { kShared, kExclusive };
  // Takes the lock; when it is busy, waits (calling `on_wait` once) unless `wait` is false,
  // and stops waiting when `cancel` fires.
  static Result<SwarmLock> Take(const std::string& target, Mode mode, bool wait,
                                const CancelToken& cancel, const std::function<void()>& on_wait);
  SwarmLock(SwarmLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  SwarmLock& operator=(SwarmLock&&) = delete;
  SwarmLock(const SwarmLock&) = delete;
  ~SwarmLock();

 private:
  explicit SwarmLock(int fd) : fd_(fd) {}
  int fd_;
};

// A run's hold on a shared network (an external network such as Traefik's `proxy` that the
// harness may have created for its runs), in the same folder as the Swarm lock: every run
// that joins the network holds it shared from before it looks for the network until its
// teardown is done; the network is removed only by whoever gets it exclusively, i.e. when
// no run of ours (on this machine) still uses it.
class NetworkLock {
 public:
  // Waits while a removal holds it exclusively (moments).
  static Result<NetworkLock> Share(const std::string& target, const std::string& network);
  // Without waiting: the lock exclusively when no other run holds it (a reaper's way).
  static Result<NetworkLock> Exclusive(const std::string& target, const std::string& network);
  // Turns this hold exclusive when no other run holds the lock; false when one does.
  bool TryExclusive();
  NetworkLock(NetworkLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  NetworkLock& operator=(NetworkLock&&) = delete;
  NetworkLock(const NetworkLock&) = delete;
  ~NetworkLock();

 private:
  explicit NetworkLock(int fd) : fd_(fd) {}
  int fd_;
};

enum class Liveness { kLive, kDead, kUnknown };

// kLive when the lock file of `ns` is held by some process, kDead when it exists and is
// free, kUnknown when there is no lock file.
Liveness LockLiveness(const std::string& state_dir, const std::string& ns);

// Removes the lock file of a dead run (only if nobody holds it).
void RemoveDeadLock(const std::string& state_dir, const std::string& ns);

// "<hostname>/<pid>/<start time in clock ticks>" of this process.
std::string ThisProcessOwner();
// kLive when `owner` names a process on this host that still exists with that start time,
// kDead when it names one on this host that does not, kUnknown for other hosts or bad input.
Liveness OwnerLiveness(const std::string& owner);

}  // namespace harness
