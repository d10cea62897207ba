// Cancellation: how SIGINT/SIGTERM reach the work in progress.
//
// InstallSignalHandlers() routes SIGINT and SIGTERM to a process-wide flag and a self-pipe
// (async-signal-safe). Work that may be interrupted takes a `const CancelToken&` and checks
// `cancelled()` or polls `fd()`. Teardown runs with CancelToken::None(), so a signal during
// teardown never abandons it; a second signal only prints a notice.
//
// A CancelSource adds a token of its own, for stopping one piece of work (a superseded
// run) without a signal: its token is cancelled by the source or by a signal.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <atomic>

namespace harness {

class CancelSource;

class CancelToken {
 public:
  // The process-wide token fed by signals.
  static const CancelToken& Signals();
  // A token that is never cancelled (used by teardown).
  static const CancelToken& None();

  bool cancelled() const;
  // The signal number that cancelled the run (SIGINT or SIGTERM), or 0.
  int signal() const;
  // A file descriptor that becomes readable once cancelled; -1 for None().
  int fd() const;

  // For tests: cancels the Signals() token as if `sig` had arrived.
  static void RaiseForTest(int sig);
  // For tests: resets the Signals() token.
  static void ResetForTest();

 private:
  friend class CancelSource;
  explicit CancelToken(bool live, const CancelSource* source = nullptr) : live_(live), source_(source) {}
  bool live_;
  const CancelSource* source_;
};

// Owns a token that Cancel() (or a signal) cancels. At most 64 sources exist at once;
// beyond that a source works without its own descriptor (fd() is the signals' one).
class CancelSource {
 public:
  CancelSource();
  ~CancelSource();
  CancelSource(const CancelSource&) = delete;
  CancelSource& operator=(const CancelSource&) = delete;

  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Valid as long as the source lives.
  const CancelToken& token() const { return token_; }

 private:
  friend class CancelToken;
  std::atomic<bool> cancelled_{false};
  int pipe_[2] = {-1, -1};
  int slot_ = -1;
  CancelToken token_;
};

// Installs handlers for SIGINT and SIGTERM, and ignores SIGPIPE. Call once from main.
void InstallSignalHandlers();

// Marks that teardown is running: further signals print a notice instead of being silent.
void SetTeardownInProgress(bool on);

// 128 + signal for an interrupted process (130 for SIGINT, 143 for SIGTERM).
int ExitCodeForSignal(int sig);

}  // namespace harness
