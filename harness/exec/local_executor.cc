#include "exec/local_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

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

Status PipeError() { return Status::Infra(std::string("pipe: ") + strerror(errno)); }

// The parent's side of a child: its pid, when it was started, and the parent's ends of its
// pipes (-1 once closed), which are closed when this goes. Reaping is the caller's.
struct Child {
  pid_t pid = -1;
  Clock::time_point started{};
  int in_w = -1, out_r = -1, err_r = -1;

  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { CloseFd(in_w), CloseFd(out_r), CloseFd(err_r); }
};

// Makes the child's stdin, stdout and stderr pipes (close-on-exec): the parent's ends go to
// *child, the child's ends to ends[0..2]. On failure nothing is left open.
Status OpenPipes(Child* child, int ends[3]) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return PipeError();
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]);
    return PipeError();
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    return PipeError();
  }
  child->in_w = in[1], child->out_r = out[0], child->err_r = err[0];
  ends[0] = in[0], ends[1] = out[1], ends[2] = err[1];
  return Status::Ok();
}

// Reads the child's report of a failed exec (an errno) from `report_r` and closes it; the
// pipe closes without one when the exec succeeded. A failed child is reaped here.
Status CheckExec(const Command& cmd, pid_t pid, int report_r) {
  int exec_errno = 0;
  ssize_t got = read(report_r, &exec_errno, sizeof exec_errno);
  close(report_r);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    int st;
    waitpid(pid, &st, 0);
    return Status::Infra("cannot start " + cmd.argv[0] + ": " + strerror(exec_errno));
  }
  return Status::Ok();
}

// Starts cmd.argv in a process group of its own that dies with the harness, its stdio on
// pipes whose parent ends are left in *child. Infra when a pipe, the fork or the exec fails.
Status Spawn(const Command& cmd, Child* child) {
  int ends[3];  // the child's stdin, stdout, stderr
  if (Status s = OpenPipes(child, ends); !s.ok()) return s;
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
    close(ends[0]), close(ends[1]), close(ends[2]);
    return PipeError();
  }

  child->started = Clock::now();
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
    dup2(ends[0], 0);
    dup2(ends[1], 1);
    dup2(ends[2], 2);
    execvpe(argv[0], argv.data(), envp.data());
    int e = errno;
    (void)!write(report[1], &e, sizeof e);
    _exit(127);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  close(report[1]);
  close(ends[0]), close(ends[1]), close(ends[2]);
  if (pid < 0) {
    close(report[0]);
    return Status::Infra(std::string("fork: ") + strerror(fork_errno));
  }
  child->pid = pid;
  return CheckExec(cmd, pid, report[0]);
}

// A started command while its input and output are pumped.
struct Running {
  Running(const Command& c, const CancelToken& t) : cmd(c), cancel(t) {}

  const Command& cmd;
  const CancelToken& cancel;
  Child child;
  ProcessResult res;
  size_t written = 0;   // of cmd.stdin_data
  bool exited = false;  // reaped: wstatus says how it ended
  int wstatus = 0;
  bool stopping = false;  // SIGTERM sent (cancelled or timed out); SIGKILL after kTermGrace
  Clock::time_point term_sent{}, exited_at{};
};

void Reap(Running& r, int flags) {
  if (r.exited) return;
  pid_t w = waitpid(r.child.pid, &r.wstatus, flags);
  if (w == r.child.pid) {
    r.exited = true;
    r.exited_at = Clock::now();
  }
}

void StopGroup(const Running& r, int sig) { kill(-r.child.pid, sig); }

// On cancel or past the deadline, TERM to the child's process group; KILL once the group
// has had kTermGrace to go.
void EnforceLimits(Running& r) {
  if (!r.stopping) {
    if (r.cancel.cancelled()) {
      r.res.cancelled = true;
    } else if (r.cmd.deadline.passed()) {
      r.res.timed_out = true;
    }
    if (r.res.cancelled || r.res.timed_out) {
      r.stopping = true;
      r.term_sent = Clock::now();
      StopGroup(r, SIGTERM);
    }
  } else if (!r.exited && Clock::now() - r.term_sent > kTermGrace) {
    StopGroup(r, SIGKILL);
  }
}

// Writes what the (non-blocking) stdin pipe takes; closes it once all is written or the
// child stopped reading.
void WriteInput(Running& r) {
  const std::string& data = r.cmd.stdin_data;
  int& fd = r.child.in_w;
  ssize_t w = write(fd, data.data() + r.written, data.size() - r.written);
  if (w > 0) r.written += static_cast<size_t>(w);
  if (w < 0 && errno != EAGAIN) CloseFd(fd);
  if (r.written >= data.size()) CloseFd(fd);
}

// One read of stdout (stream 1) or stderr (2), kept up to max_output and passed to
// on_output; the pipe is closed at its end or on an error.
void ReadOutput(Running& r, int stream) {
  int& fd = stream == 1 ? r.child.out_r : r.child.err_r;
  std::string& sink = stream == 1 ? r.res.out : r.res.err;
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0) {
    size_t room = r.cmd.max_output > sink.size() ? r.cmd.max_output - sink.size() : 0;
    sink.append(buf, std::min(room, static_cast<size_t>(n)));
    if (r.cmd.on_output) r.cmd.on_output(stream, std::string_view(buf, static_cast<size_t>(n)));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    CloseFd(fd);
  }
}

// Waits up to 50 ms (less before the deadline) for the open pipes, or for the cancel
// token's descriptor, and serves those that are ready. False when poll() itself failed.
bool PollOnce(Running& r) {
  enum Role { kStdout, kStderr, kStdin, kCancel };
  std::vector<pollfd> fds;
  std::vector<Role> roles;
  auto watch = [&](int fd, short events, Role role) {
    fds.push_back({fd, events, 0});
    roles.push_back(role);
  };
  if (r.child.out_r >= 0) watch(r.child.out_r, POLLIN, kStdout);
  if (r.child.err_r >= 0) watch(r.child.err_r, POLLIN, kStderr);
  if (r.child.in_w >= 0) watch(r.child.in_w, POLLOUT, kStdin);
  int cfd = r.stopping ? -1 : r.cancel.fd();
  if (cfd >= 0) watch(cfd, POLLIN, kCancel);  // only wakes the loop; EnforceLimits reads it
  long wait_ms = 50;
  if (!r.stopping && !r.cmd.deadline.never()) {
    wait_ms = std::min<long>(wait_ms, r.cmd.deadline.remaining().count() + 1);
  }
  int n = poll(fds.data(), fds.size(), static_cast<int>(wait_ms));
  if (n < 0 && errno != EINTR) return false;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    switch (roles[i]) {
      case kStdout: ReadOutput(r, 1); break;
      case kStderr: ReadOutput(r, 2); break;
      case kStdin: WriteInput(r); break;
      case kCancel: break;
    }
  }
  return true;
}

// Pumps until the child has exited and closed its output, or kDrainGrace after its exit
// when a grandchild still holds the pipes open.
void Pump(Running& r) {
  while (true) {
    Reap(r, WNOHANG);
    bool pipes_open = r.child.out_r >= 0 || r.child.err_r >= 0;
    if (r.exited && (!pipes_open || Clock::now() - r.exited_at > kDrainGrace)) break;
    EnforceLimits(r);
    if (!PollOnce(r)) break;
  }
}

// Kills and reaps a child still running (poll failed), and fills in how it ended.
ProcessResult Finish(Running& r) {
  if (!r.exited) {
    StopGroup(r, SIGKILL);
    Reap(r, 0);
  }
  r.res.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - r.child.started);
  if (WIFEXITED(r.wstatus)) r.res.exit_code = WEXITSTATUS(r.wstatus);
  if (WIFSIGNALED(r.wstatus)) r.res.term_signal = WTERMSIG(r.wstatus);
  return std::move(r.res);
}

}  // namespace

Result<ProcessResult> LocalExecutor::Run(const Command& cmd, const CancelToken& cancel) {
  if (cmd.argv.empty()) return Status::InvalidArgument("empty command");
  Running r(cmd, cancel);
  if (Status s = Spawn(cmd, &r.child); !s.ok()) return s;
  if (cmd.stdin_data.empty()) CloseFd(r.child.in_w);
  else fcntl(r.child.in_w, F_SETFL, O_NONBLOCK);
  Pump(r);
  return Finish(r);
}

}  // namespace harness
