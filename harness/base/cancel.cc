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

bool CancelToken::cancelled() const { return live_ && g_signal.load() != 0; }

int CancelToken::signal() const { return live_ ? g_signal.load() : 0; }

int CancelToken::fd() const {
  if (!live_) return -1;
  EnsurePipe();
  return g_pipe[0];
}

void CancelToken::RaiseForTest(int sig) {
  EnsurePipe();
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
  if (g_pipe[1] >= 0) {
    char c = 1;
    (void)!write(g_pipe[1], &c, 1);
  }
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
