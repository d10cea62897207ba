// Making writes fail for real, for tests of what the harness does when its disk refuses them.
//
//   DiskFull      while it lives, this process cannot write any regular file past its first
//                 byte (RLIMIT_FSIZE; SIGXFSZ ignored): what SQLite and WriteFileAtomic see
//                 on a full disk, through files already open too. Works as root.
//   Unprivileged  while it lives, the process's effective user is `nobody` when it was root
//                 (permissions do not stop root), so that a folder made read-only refuses
//                 writes; nothing changes for another user. ok() is false when root could
//                 not drop its rights (no CAP_SETUID): the test says so and skips.
//
// Both change the whole process: only for single-threaded tests, and nothing may be checked
// (CHECK, REQUIRE) while a DiskFull lives, since the reporter may write to a file.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace harness::testing {

class DiskFull {
 public:
  DiskFull() {
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old_);
    rlimit tiny = old_;
    tiny.rlim_cur = 1;
    ok_ = setrlimit(RLIMIT_FSIZE, &tiny) == 0;
  }
  ~DiskFull() {
    setrlimit(RLIMIT_FSIZE, &old_);
    signal(SIGXFSZ, old_handler_);
  }
  DiskFull(const DiskFull&) = delete;
  DiskFull& operator=(const DiskFull&) = delete;
  bool ok() const { return ok_; }

 private:
  rlimit old_{};
  sighandler_t old_handler_ = SIG_DFL;
  bool ok_ = false;
};

class Unprivileged {
 public:
  static constexpr uid_t kNobody = 65534;

  // `folder` (empty, made by the test) becomes the unprivileged user's, so that it may
  // create files there; its parent must let that user through (see Reach).
  explicit Unprivileged(const std::string& folder) {
    if (geteuid() != 0) {
      ok_ = true;
      return;
    }
    ok_ = chown(folder.c_str(), kNobody, kNobody) == 0 && seteuid(kNobody) == 0;
    dropped_ = ok_;
  }
  ~Unprivileged() {
    if (dropped_) (void)!seteuid(0);  // the saved uid is root's: this cannot fail
  }
  Unprivileged(const Unprivileged&) = delete;
  Unprivileged& operator=(const Unprivileged&) = delete;
  bool ok() const { return ok_; }
  // Lets others through `folder` (a test's private temporary folder) to what is inside.
  static bool Reach(const std::string& folder) { return chmod(folder.c_str(), 0711) == 0; }

 private:
  bool ok_ = false;
  bool dropped_ = false;
};

}  // namespace harness::testing
