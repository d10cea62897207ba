#include "exec/local_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "base/scope_guard.h"

extern char** environ;

namespace harness {
namespace {

constexpr Duration kTermGrace{2000};   // SIGTERM → SIGKILL
constexpr Duration kDrainGrace{500};   // exited child, pipes still held open by a grandchild

std::vector<std::string> BuildEnv(const Command& cmd) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : cmd.env) merged[k] = v;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [k, v] : merged) out.push_back(k + "=" + v);
  return out;
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

Result<ProcessResult> LocalExecutor::Run(const Command& cmd, const CancelToken& cancel) {
  if (cmd.argv.empty()) return Status::InvalidArgument("empty command");
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Status::Infra(std::string("pipe: ") + strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]);
    return Status::Infra(std::string("pipe: ") + strerror(errno));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    return Status::Infra(std::string("pipe: ") + strerror(errno));
  }
  int in_w = in[1], out_r = out[0], err_r = err[0];
  ScopeGuard close_parent([&] { CloseFd(in_w), CloseFd(out_r), CloseFd(err_r); });

  std::vector<char*> argv;
  for (const auto& a : cmd.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env = BuildEnv(cmd);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  // Reports a failed exec from the child: the errno, through a close-on-exec pipe.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    close(in[0]), close(out[1]), close(err[1]);
    return Status::Infra(std::string("pipe: ") + strerror(errno));
  }

  auto started = Clock::now();
  pid_t parent = getpid();
  // vfork: the child borrows the harness's memory until it execs, instead of copying its
  // page tables (a fork per docker command is most of the harness's own CPU time). The
  // child touches nothing but its own descriptors and dispositions, and signals are held
  // off until it has reset their handlers.
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  pid_t pid = vfork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    setpgid(0, 0);                      // its own process group: a terminal's Ctrl-C is ours
    prctl(PR_SET_PDEATHSIG, SIGKILL);   // dies with the harness, even when it is SIGKILLed
    if (getppid() != parent) _exit(127);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, nullptr);
    sigaction(SIGTERM, &dfl, nullptr);
    sigaction(SIGPIPE, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execvpe(argv[0], argv.data(), envp.data());
    int e = errno;
    (void)!write(report[1], &e, sizeof e);
    _exit(127);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  errno = fork_errno;
  close(report[1]);
  close(in[0]), close(out[1]), close(err[1]);
  if (pid < 0) {
    close(report[0]);
    return Status::Infra(std::string("fork: ") + strerror(errno));
  }
  int exec_errno = 0;
  ssize_t got = read(report[0], &exec_errno, sizeof exec_errno);
  close(report[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    int st;
    waitpid(pid, &st, 0);
    return Status::Infra("cannot start " + cmd.argv[0] + ": " + strerror(exec_errno));
  }

  ProcessResult res;
  size_t written = 0;
  if (cmd.stdin_data.empty()) CloseFd(in_w);
  else fcntl(in_w, F_SETFL, O_NONBLOCK);

  bool exited = false;
  int wstatus = 0;
  bool stopping = false;
  Clock::time_point term_sent{}, exited_at{};
  auto reap = [&](int flags) {
    if (exited) return;
    pid_t w = waitpid(pid, &wstatus, flags);
    if (w == pid) {
      exited = true;
      exited_at = Clock::now();
    }
  };
  auto stop_group = [&](int sig) { kill(-pid, sig); };

  char buf[65536];
  while (true) {
    reap(WNOHANG);
    bool pipes_open = out_r >= 0 || err_r >= 0;
    if (exited && (!pipes_open || Clock::now() - exited_at > kDrainGrace)) break;
    if (!stopping) {
      if (cancel.cancelled()) {
        res.cancelled = true;
      } else if (cmd.deadline.passed()) {
        res.timed_out = true;
      }
      if (res.cancelled || res.timed_out) {
        stopping = true;
        term_sent = Clock::now();
        stop_group(SIGTERM);
      }
    } else if (!exited && Clock::now() - term_sent > kTermGrace) {
      stop_group(SIGKILL);
    }
    std::vector<pollfd> fds;
    if (out_r >= 0) fds.push_back({out_r, POLLIN, 0});
    if (err_r >= 0) fds.push_back({err_r, POLLIN, 0});
    if (in_w >= 0) fds.push_back({in_w, POLLOUT, 0});
    int cfd = stopping ? -1 : cancel.fd();
    if (cfd >= 0) fds.push_back({cfd, POLLIN, 0});
    long wait_ms = 50;
    if (!stopping && !cmd.deadline.never()) {
      wait_ms = std::min<long>(wait_ms, cmd.deadline.remaining().count() + 1);
    }
    int n = poll(fds.data(), fds.size(), static_cast<int>(wait_ms));
    if (n < 0 && errno != EINTR) break;
    for (const auto& p : fds) {
      if (p.revents == 0 || p.fd == cfd) continue;
      if (p.fd == in_w) {
        ssize_t w = write(in_w, cmd.stdin_data.data() + written, cmd.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) CloseFd(in_w);
        if (written >= cmd.stdin_data.size()) CloseFd(in_w);
        continue;
      }
      int& fd = p.fd == out_r ? out_r : err_r;
      std::string& sink = p.fd == out_r ? res.out : res.err;
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        size_t room = cmd.max_output > sink.size() ? cmd.max_output - sink.size() : 0;
        sink.append(buf, std::min(room, static_cast<size_t>(r)));
        if (cmd.on_output) cmd.on_output(p.fd == out_r ? 1 : 2, std::string_view(buf, static_cast<size_t>(r)));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        CloseFd(fd);
      }
    }
  }
  if (!exited) {
    stop_group(SIGKILL);
    reap(0);
  }
  res.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - started);
  if (WIFEXITED(wstatus)) res.exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) res.term_signal = WTERMSIG(wstatus);
  return res;
}

}  // namespace harness
