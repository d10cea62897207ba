// SshExecutor (exec/ssh_executor.h): the pool of connections, commands on channels and
// shared folders. A new connection is made in ssh_connection.cc, tunnels in ssh_forward.cc.
#include "exec/ssh_executor.h"

#include <libssh2.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "base/files.h"
#include "exec/ssh_connection.h"

namespace harness {
namespace {

constexpr const char* kStagePrefix = "/tmp/recipe-harness-stage.";

void InitLibssh2() {
  static std::once_flag once;
  std::call_once(once, [] { libssh2_init(0); });
}

int SignalNumber(const std::string& name) {
  static const std::map<std::string, int> kSignals = {
      {"HUP", 1}, {"INT", 2}, {"QUIT", 3}, {"ILL", 4}, {"ABRT", 6}, {"FPE", 8},
      {"KILL", 9}, {"SEGV", 11}, {"PIPE", 13}, {"ALRM", 14}, {"TERM", 15}, {"USR1", 10}, {"USR2", 12}};
  auto it = kSignals.find(name);
  return it == kSignals.end() ? 1 : it->second;
}

std::string CommandName(const std::vector<std::string>& argv) {
  std::string s = argv.empty() ? "" : argv[0];
  if (argv.size() > 1) s += " " + argv[1];
  if (argv.size() > 2) s += " " + argv[2];
  return s;
}

// The line for the remote shell: the command's environment through env(1), then its words.
std::string RemoteLine(const Command& cmd) {
  std::vector<std::string> words;
  if (!cmd.env.empty()) {
    words.push_back("env");
    for (const auto& [k, v] : cmd.env) words.push_back(k + "=" + v);
  }
  words.insert(words.end(), cmd.argv.begin(), cmd.argv.end());
  return QuoteArgv(words);
}

// Opens a session channel on `conn` and starts `line` on it. 0 once the command runs; *ch
// is whatever channel was opened (freed with the session if the connection is discarded).
int ExecOnChannel(const SshExecutor::Connection& conn, const std::string& line, Deadline deadline,
                  const CancelToken& cancel, LIBSSH2_CHANNEL** ch) {
  for (;;) {
    *ch = libssh2_channel_open_session(conn.session);
    if (*ch != nullptr || libssh2_session_last_errno(conn.session) != LIBSSH2_ERROR_EAGAIN) break;
    if (cancel.cancelled() || deadline.passed()) break;
    conn.Wait(std::min(deadline.remaining(), Duration(100)));
  }
  if (*ch == nullptr) return -1;
  return conn.Await(deadline, cancel, [&] { return libssh2_channel_exec(*ch, line.c_str()); });
}

// Sends what the channel takes of `data` from *off, then EOF once all of it is sent (or the
// command stopped reading). True when something was sent.
bool SendInput(LIBSSH2_CHANNEL* ch, const std::string& data, size_t* off, bool* eof_sent) {
  bool progressed = false;
  if (*off < data.size()) {
    ssize_t n = libssh2_channel_write(ch, data.data() + *off, data.size() - *off);
    if (n > 0) {
      *off += n;
      progressed = true;
    } else if (n != LIBSSH2_ERROR_EAGAIN) {
      *off = data.size();  // the command stopped reading its input
    }
  }
  if (*off >= data.size() && !*eof_sent) {
    *eof_sent = libssh2_channel_send_eof(ch) != LIBSSH2_ERROR_EAGAIN;
  }
  return progressed;
}

// Reads stdout, then stderr, until each would block: kept up to max_output and passed to
// on_output. True when something arrived; *lost says why the connection failed, if it did.
bool ReadOutput(const SshExecutor::Connection& conn, LIBSSH2_CHANNEL* ch, const Command& cmd,
                ProcessResult* res, std::string* lost) {
  char buf[32768];
  bool progressed = false;
  for (int stream : {0, SSH_EXTENDED_DATA_STDERR}) {
    std::string& sink = stream == 0 ? res->out : res->err;
    for (;;) {
      ssize_t n = libssh2_channel_read_ex(ch, stream, buf, sizeof buf);
      if (n > 0) {
        size_t room = cmd.max_output > sink.size() ? cmd.max_output - sink.size() : 0;
        sink.append(buf, std::min<size_t>(room, n));
        if (cmd.on_output) {
          cmd.on_output(stream == 0 ? 1 : 2, std::string_view(buf, static_cast<size_t>(n)));
        }
        progressed = true;
        continue;
      }
      if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) *lost = conn.LastError();
      break;
    }
  }
  return progressed;
}

// The remote command's exit status, or the signal that ended it (exit_code -1 then).
void ReadExitStatus(const SshExecutor::Connection& conn, LIBSSH2_CHANNEL* ch, ProcessResult* res) {
  res->exit_code = libssh2_channel_get_exit_status(ch);
  char* signame = nullptr;
  size_t signame_len = 0;
  libssh2_channel_get_exit_signal(ch, &signame, &signame_len, nullptr, nullptr, nullptr, nullptr);
  if (signame != nullptr) {
    res->term_signal = SignalNumber(std::string(signame, signame_len));
    res->exit_code = -1;
    libssh2_free(conn.session, signame);
  }
}

}  // namespace

// One command from its start to its end, on the connection it holds alone.
struct SshExecutor::Running {
  Running(const Command& c, const CancelToken& t) : cmd(c), cancel(t), line(RemoteLine(c)) {}
  Duration elapsed() const { return std::chrono::duration_cast<Duration>(Clock::now() - started); }

  const Command& cmd;
  const CancelToken& cancel;
  const std::string line;  // for the remote shell
  const Clock::time_point started = Clock::now();
  std::unique_ptr<Connection> conn;
  LIBSSH2_CHANNEL* ch = nullptr;  // the command's channel, once it runs
  ProcessResult res;
  size_t in_off = 0;  // of cmd.stdin_data, sent
  bool eof_sent = false;
  std::string lost;  // why the connection failed midway; "" while it holds
};

SshExecutor::SshExecutor(Target target, SshOptions options)
    : target_(std::move(target)), options_(std::move(options)) {
  InitLibssh2();
  if (options_.known_hosts.empty()) {
    options_.known_hosts = ssh_connection::Home() + "/.ssh/known_hosts";
  }
}

SshExecutor::~SshExecutor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  for (auto& t : acceptors_) t.join();
  std::unique_lock<std::mutex> lock(mu_);
  freed_.wait(lock, [&] { return pumps_active_ == 0; });
  idle_.clear();
  std::error_code ec;
  for (const auto& dir : socket_dirs_) std::filesystem::remove_all(dir, ec);
}

Result<std::unique_ptr<SshExecutor>> SshExecutor::Open(const Target& target, const SshOptions& options) {
  if (target.local) return Status::InvalidArgument("SshExecutor needs an ssh:// target");
  std::unique_ptr<SshExecutor> e(new SshExecutor(target, options));
  bool retryable = false;
  auto c = e->Dial(Deadline::In(options.connect_timeout), &retryable);
  if (!c.ok()) return c.status();
  {
    std::lock_guard<std::mutex> lock(e->mu_);
    ++e->open_;
    ++e->opened_total_;
  }
  e->Release(std::move(*c));
  return e;
}

int SshExecutor::connections_opened() const {
  std::lock_guard<std::mutex> lock(mu_);
  return opened_total_;
}

Result<std::unique_ptr<SshExecutor::Connection>> SshExecutor::Acquire(Deadline deadline, const CancelToken& cancel) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      if (open_ < options_.max_connections) {
        ++open_;
        break;
      }
      if (cancel.cancelled()) return Status::Cancelled("interrupted");
      if (deadline.passed()) return Status::Timeout(target_.Describe() + ": no SSH connection became free");
      freed_.wait_for(lock, std::min(deadline.remaining(), Duration(100)));
    }
  }
  Status last = Status::Infra(target_.Describe() + ": cannot connect");
  Duration backoff(500);
  for (int attempt = 0; attempt < std::max(1, options_.reconnect_attempts); ++attempt) {
    bool retryable = true;
    auto c = Dial(deadline, &retryable);
    if (c.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++opened_total_;
      return c;
    }
    last = c.status();
    if (!retryable || attempt + 1 == options_.reconnect_attempts) break;
    Deadline wake = Deadline::In(backoff);
    while (!wake.passed() && !cancel.cancelled() && !deadline.passed()) {
      std::unique_lock<std::mutex> lock(mu_);
      freed_.wait_for(lock, std::min(wake.remaining(), Duration(100)));
    }
    if (cancel.cancelled() || deadline.passed()) break;
    backoff *= 2;
  }
  std::lock_guard<std::mutex> lock(mu_);
  --open_;
  freed_.notify_all();
  return last;
}

void SshExecutor::Release(std::unique_ptr<Connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(conn));
  freed_.notify_all();
}

void SshExecutor::Discard(std::unique_ptr<Connection> conn) {
  conn.reset();
  std::lock_guard<std::mutex> lock(mu_);
  --open_;
  freed_.notify_all();
}

Result<ProcessResult> SshExecutor::Run(const Command& cmd, const CancelToken& cancel) {
  if (cmd.argv.empty()) return Status::InvalidArgument("empty command");
  Running r(cmd, cancel);
  Result<bool> started = Start(r);
  if (!started.ok()) return started.status();
  if (!*started) return std::move(r.res);  // cancelled or timed out before it started
  Exchange(r);
  return Finish(r);
}

Result<bool> SshExecutor::Start(Running& r) {
  for (int attempt = 0;; ++attempt) {
    auto c = Acquire(r.cmd.deadline, r.cancel);
    if (!c.ok()) {
      if (c.status().code() == Status::Code::kCancelled) {
        r.res.cancelled = true;
        r.res.elapsed = r.elapsed();
        return false;
      }
      return c.status();
    }
    r.conn = std::move(*c);
    if (ExecOnChannel(*r.conn, r.line, r.cmd.deadline, r.cancel, &r.ch) == 0) return true;
    std::string why = r.conn->LastError();
    Discard(std::move(r.conn));  // frees the channel with the session
    r.ch = nullptr;
    r.res.elapsed = r.elapsed();
    if (r.cancel.cancelled()) {
      r.res.cancelled = true;
      return false;
    }
    if (r.cmd.deadline.passed()) {
      r.res.timed_out = true;
      return false;
    }
    // The command never started: the connection had dropped or was refused. A new one.
    if (attempt + 1 >= std::max(1, options_.reconnect_attempts)) {
      return Status::Infra(target_.Describe() + ": cannot start `" + CommandName(r.cmd.argv) +
                           "`: " + why);
    }
  }
}

void SshExecutor::Exchange(Running& r) {
  for (;;) {
    if (r.cancel.cancelled()) {
      r.res.cancelled = true;
      break;
    }
    if (r.cmd.deadline.passed()) {
      r.res.timed_out = true;
      break;
    }
    bool sent = SendInput(r.ch, r.cmd.stdin_data, &r.in_off, &r.eof_sent);
    bool received = ReadOutput(*r.conn, r.ch, r.cmd, &r.res, &r.lost);
    if (!r.lost.empty()) break;
    if (libssh2_channel_eof(r.ch)) break;
    int next = 0;
    if (libssh2_keepalive_send(r.conn->session, &next) != 0) {
      r.lost = r.conn->LastError();
      break;
    }
    if (!sent && !received) r.conn->Wait(std::min(r.cmd.deadline.remaining(), Duration(100)));
  }
  r.res.elapsed = r.elapsed();
}

Result<ProcessResult> SshExecutor::Finish(Running& r) {
  const std::string who = target_.Describe();
  if (r.res.cancelled || r.res.timed_out || !r.lost.empty()) {
    Discard(std::move(r.conn));
    if (!r.lost.empty()) {
      return Status::Infra(who + ": connection lost while running `" + CommandName(r.cmd.argv) +
                           "`: " + r.lost);
    }
    return std::move(r.res);
  }
  Connection& conn = *r.conn;
  LIBSSH2_CHANNEL* ch = r.ch;
  Deadline closing = r.cmd.deadline.Min(Deadline::In(Duration(10000)));
  const CancelToken& none = CancelToken::None();
  int rc = conn.Await(closing, none, [&] { return libssh2_channel_close(ch); });
  if (rc == 0) rc = conn.Await(closing, none, [&] { return libssh2_channel_wait_closed(ch); });
  if (rc != 0) {
    Discard(std::move(r.conn));
    return Status::Infra(who + ": connection lost while ending `" + CommandName(r.cmd.argv) + "`");
  }
  ReadExitStatus(conn, ch, &r.res);
  if (conn.Await(closing, none, [&] { return libssh2_channel_free(ch); }) != 0) {
    Discard(std::move(r.conn));
  } else {
    Release(std::move(r.conn));
  }
  r.res.elapsed = r.elapsed();
  return std::move(r.res);
}

Result<std::string> SshExecutor::Share(const std::string& local_dir, Deadline deadline, const CancelToken& cancel) {
  const std::string who = target_.Describe();
  Command mk;
  mk.argv = {"mktemp", "-d", std::string(kStagePrefix) + "XXXXXXXX"};
  mk.deadline = deadline;
  auto made = Run(mk, cancel);
  if (!made.ok()) return made.status();
  std::string remote = made->out.substr(0, made->out.find('\n'));
  if (!made->ok() || remote.rfind(kStagePrefix, 0) != 0 || remote.find_first_of(" '\"\\$`") != std::string::npos) {
    return Status::Infra(who + ": cannot make a staging folder (" + made->Describe() + "): " + made->err);
  }
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(local_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code look;
    if (!it->is_regular_file(look)) continue;
    std::string rel = std::filesystem::relative(it->path(), local_dir, look).string();
    auto content = look ? Result<std::string>(Status::Infra("cannot read " + it->path().string() + ": " + look.message()))
                        : ReadFile(it->path().string());
    if (!content.ok()) {  // not copied empty: the deploy would run without it
      Unshare(remote, deadline);
      return Status::Infra(who + ": a staged file was not copied to the target: " + content.status().message());
    }
    Command put;
    put.argv = {"sh", "-c", "mkdir -p -- \"$(dirname -- \"$1\")\" && cat > \"$1\"", "sh", remote + "/" + rel};
    put.stdin_data = *content;
    put.deadline = deadline;
    auto r = Run(put, cancel);
    if (!r.ok() || !r->ok()) {
      Unshare(remote, deadline);
      return Status::Infra(who + ": cannot copy " + rel + " to the target: " +
                           (r.ok() ? r->Describe() + " " + r->err : r.status().message()));
    }
  }
  if (ec) {
    Unshare(remote, deadline);
    return Status::Infra("cannot read " + local_dir + ": " + ec.message());
  }
  return remote;
}

void SshExecutor::Unshare(const std::string& shared_dir, Deadline deadline) {
  if (shared_dir.rfind(kStagePrefix, 0) != 0) return;
  Command rm;
  rm.argv = {"rm", "-rf", "--", shared_dir};
  rm.deadline = deadline;
  auto removed = Run(rm, CancelToken::None());
  // Nobody is left to return this to (as for TempDir): a copy left behind is said, not hidden.
  if (!removed.ok() || !removed->ok()) {
    std::cerr << "harness: the staged copy " << shared_dir << " on " << Describe() << " was not removed: "
              << (removed.ok() ? removed->Describe() : removed.status().message()) << "\n";
  }
}

}  // namespace harness
