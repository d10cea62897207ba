#include "base/cancel.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace harness {
namespace {

std::atomic<int> g_signal{0};
std::atomic<int> g_signal_count{0};
std::atomic<bool> g_teardown{false};
int g_pipe[2] = {-1, -1};
// Write ends of the CancelSources' pipes plus one, woken by signals too (0: a free slot).
constexpr int kSlots = 64;
std::atomic<int> g_source_fds[kSlots] = {};

void WakeSources() {
  for (auto& slot : g_source_fds) {
    int fd = slot.load() - 1;
    char c = 1;
    if (fd >= 0) (void)!write(fd, &c, 1);
  }
}

void EnsurePipe() {
  if (g_pipe[0] >= 0) return;
  if (pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    g_pipe[0] = g_pipe[1] = -1;
  }
}

void WriteAll(int fd, const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void OnSignal(int sig) {
  int saved = errno;
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
  int count = ++g_signal_count;
  if (g_pipe[1] >= 0) {
    char c = 1;
    (void)!write(g_pipe[1], &c, 1);
  }
  WakeSources();
  if (count == 1) {
    WriteAll(2, "\nharness: interrupted; tearing down before exit (this can take a while)\n");
  } else if (g_teardown.load()) {
    WriteAll(2, "\nharness: teardown in progress; it will finish before the harness exits\n");
  } else {
    WriteAll(2, "\nharness: already stopping; teardown will run before exit\n");
  }
  errno = saved;
}

}  // namespace

const CancelToken& CancelToken::Signals() {
  static const CancelToken token(true);
  return token;
}

const CancelToken& CancelToken::None() {
  static const CancelToken token(false);
  return token;
}

bool CancelToken::cancelled() const {
  return (live_ && g_signal.load() != 0) || (source_ != nullptr && source_->cancelled());
}

int CancelToken::signal() const { return live_ ? g_signal.load() : 0; }

int CancelToken::fd() const {
  if (source_ != nullptr && source_->pipe_[0] >= 0) return source_->pipe_[0];
  if (!live_) return -1;
  EnsurePipe();
  return g_pipe[0];
}

CancelSource::CancelSource() : token_(true, this) {
  if (pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    pipe_[0] = pipe_[1] = -1;
    return;
  }
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_source_fds[i].compare_exchange_strong(expected, pipe_[1] + 1)) {
      slot_ = i;
      break;
    }
  }
  if (slot_ < 0) {  // no slot: signals would not wake this pipe, so do not hand it out
    close(pipe_[0]);
    close(pipe_[1]);
    pipe_[0] = pipe_[1] = -1;
  } else if (g_signal.load() != 0) {
    char c = 1;
    (void)!write(pipe_[1], &c, 1);
  }
}

CancelSource::~CancelSource() {
  if (slot_ >= 0) g_source_fds[slot_].store(0);
  if (pipe_[0] >= 0) close(pipe_[0]);
  if (pipe_[1] >= 0) close(pipe_[1]);
}

void CancelSource::Cancel() {
  cancelled_.store(true);
  if (pipe_[1] >= 0) {
    char c = 1;
    (void)!write(pipe_[1], &c, 1);
  }
}

void CancelToken::RaiseForTest(int sig) {
  EnsurePipe();
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
  if (g_pipe[1] >= 0) {
    char c = 1;
    (void)!write(g_pipe[1], &c, 1);
  }
  WakeSources();
}

void CancelToken::ResetForTest() {
  g_signal = 0;
  g_signal_count = 0;
  if (g_pipe[0] >= 0) {
    char buf[64];
    while (read(g_pipe[0], buf, sizeof buf) > 0) {
    }
  }
}

void InstallSignalHandlers() {
  EnsurePipe();
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void SetTeardownInProgress(bool on) { g_teardown = on; }

int ExitCodeForSignal(int sig) { return 128 + sig; }

}  // namespace harness
