// SshExecutor (exec/ssh_executor.h): the pool of connections, commands on channels, shared
// folders and tunnels. A new connection is made in ssh_connection.cc.
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

Result<int> SshExecutor::Forward(const std::string& host, int port, Deadline deadline) {
  const std::string who = target_.Describe();
  auto c = Acquire(deadline, CancelToken::None());
  if (!c.ok()) return c.status();
  std::unique_ptr<Connection> conn = std::move(*c);
  LIBSSH2_CHANNEL* ch = nullptr;
  for (;;) {
    ch = libssh2_channel_direct_tcpip_ex(conn->session, host.c_str(), port, "127.0.0.1", 0);
    if (ch != nullptr) break;
    int err = libssh2_session_last_errno(conn->session);
    if (err == LIBSSH2_ERROR_EAGAIN && !deadline.passed()) {
      conn->Wait(std::min(deadline.remaining(), Duration(100)));
      continue;
    }
    std::string why = conn->LastError();
    if (err == LIBSSH2_ERROR_CHANNEL_FAILURE) {
      Release(std::move(conn));  // the target could not connect; the session is fine
      return Status::Failed("cannot connect to " + host + ":" + std::to_string(port) + " from " + who + ": " + why);
    }
    Discard(std::move(conn));
    return Status::Infra(who + ": cannot open a tunnel to " + host + ":" + std::to_string(port) + ": " + why);
  }
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t addr_len = sizeof addr;
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 1) != 0 || getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
    std::string why = std::strerror(errno);
    if (listener >= 0) close(listener);
    Discard(std::move(conn));
    return Status::Infra("cannot listen on loopback for a tunnel: " + why);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++pumps_active_;
  }
  std::thread([this, raw = conn.release(), ch, listener] {
    pollfd waiting{listener, POLLIN, 0};
    int local_fd = poll(&waiting, 1, 10000) == 1 ? accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK) : -1;
    close(listener);
    Pump(raw, ch, local_fd);
  }).detach();
  return static_cast<int>(ntohs(addr.sin_port));
}

void* SshExecutor::OpenStreamLocal(Connection& conn, const std::string& remote_path, Deadline deadline,
                                   std::string* why, bool* refused) {
  // The request's own fields (RFC 4254 7.2 style, OpenSSH PROTOCOL 2.4): the socket path,
  // a reserved string and a reserved uint32.
  std::string message;
  auto put32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) message += static_cast<char>((v >> shift) & 0xff);
  };
  put32(static_cast<uint32_t>(remote_path.size()));
  message += remote_path;
  put32(0);
  put32(0);
  static constexpr char kType[] = "direct-streamlocal@openssh.com";
  for (;;) {
    LIBSSH2_CHANNEL* ch = libssh2_channel_open_ex(
        conn.session, kType, sizeof kType - 1, LIBSSH2_CHANNEL_WINDOW_DEFAULT, LIBSSH2_CHANNEL_PACKET_DEFAULT,
        message.data(), static_cast<unsigned int>(message.size()));
    if (ch != nullptr) return ch;
    int err = libssh2_session_last_errno(conn.session);
    if (err == LIBSSH2_ERROR_EAGAIN && !deadline.passed()) {
      conn.Wait(std::min(deadline.remaining(), Duration(100)));
      continue;
    }
    *why = err == LIBSSH2_ERROR_EAGAIN ? "no answer in time" : conn.LastError();
    *refused = err == LIBSSH2_ERROR_CHANNEL_FAILURE;
    return nullptr;
  }
}

Result<std::string> SshExecutor::ForwardSocket(const std::string& remote_path, Deadline deadline) {
  const std::string who = target_.Describe();
  {  // One channel now, so that a target refusing it is known before anything relies on it.
    auto c = Acquire(deadline, CancelToken::None());
    if (!c.ok()) return c.status();
    std::string why;
    bool refused = false;
    auto* ch = static_cast<LIBSSH2_CHANNEL*>(OpenStreamLocal(**c, remote_path, deadline, &why, &refused));
    if (ch == nullptr) {
      if (refused) {
        Release(std::move(*c));
        return Status::Failed(who + " does not forward " + remote_path + ": " + why);
      }
      Discard(std::move(*c));
      return Status::Infra(who + ": cannot open a channel to " + remote_path + ": " + why);
    }
    Deadline closing = Deadline::In(Duration(5000));
    if ((*c)->Await(closing, CancelToken::None(), [&] { return libssh2_channel_close(ch); }) == 0 &&
        (*c)->Await(closing, CancelToken::None(), [&] { return libssh2_channel_free(ch); }) == 0) {
      Release(std::move(*c));
    } else {
      Discard(std::move(*c));
    }
  }
  char tmpl[] = "/tmp/harness-ssh-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::Infra(std::string("cannot make a folder for a socket: ") + std::strerror(errno));
  const std::string dir = tmpl, path = dir + "/docker.sock";
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 16) != 0) {
    std::string why = std::strerror(errno);
    if (listener >= 0) close(listener);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return Status::Infra("cannot listen on " + path + ": " + why);
  }
  std::lock_guard<std::mutex> lock(mu_);
  socket_dirs_.push_back(dir);
  acceptors_.emplace_back(&SshExecutor::Accept, this, listener, remote_path);
  return path;
}

void SshExecutor::Accept(int listener, std::string remote_path) {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) break;
    }
    pollfd waiting{listener, POLLIN, 0};
    if (poll(&waiting, 1, 100) != 1) continue;
    int local_fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (local_fd < 0) continue;
    Deadline opening = Deadline::In(options_.connect_timeout);
    auto c = Acquire(opening, CancelToken::None());
    if (!c.ok()) {
      close(local_fd);  // the client sees the connection end: its request fails and says so
      continue;
    }
    std::string why;
    bool refused = false;
    void* ch = OpenStreamLocal(**c, remote_path, opening, &why, &refused);
    if (ch == nullptr) {
      close(local_fd);
      if (refused) {
        Release(std::move(*c));
      } else {
        Discard(std::move(*c));
      }
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++pumps_active_;
    }
    std::thread(&SshExecutor::Pump, this, c->release(), ch, local_fd).detach();
  }
  close(listener);
}

void SshExecutor::Pump(Connection* raw, void* channel, int local_fd) {
  std::unique_ptr<Connection> conn(raw);
  auto* ch = static_cast<LIBSSH2_CHANNEL*>(channel);
  std::string to_remote, to_local;
  bool local_eof = local_fd < 0, remote_eof = local_fd < 0, eof_sent = false, broken = false;
  Deadline linger = Deadline::Never();  // once the local side is done, the remote gets a while to finish
  char buf[16384];
  while (!broken) {
    if (local_eof && linger.never()) linger = Deadline::In(Duration(5000));
    if (linger.passed()) break;
    bool progressed = false;
    if (!local_eof && to_remote.size() < sizeof buf) {
      ssize_t n = read(local_fd, buf, sizeof buf);
      if (n > 0) {
        to_remote.append(buf, n);
        progressed = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        local_eof = true;
      }
    }
    if (!to_remote.empty()) {
      ssize_t n = libssh2_channel_write(ch, to_remote.data(), to_remote.size());
      if (n > 0) {
        to_remote.erase(0, n);
        progressed = true;
      } else if (n != LIBSSH2_ERROR_EAGAIN) {
        broken = true;
      }
    }
    if (local_eof && to_remote.empty() && !eof_sent) {
      eof_sent = libssh2_channel_send_eof(ch) != LIBSSH2_ERROR_EAGAIN;
    }
    if (!remote_eof && to_local.size() < sizeof buf) {
      ssize_t n = libssh2_channel_read(ch, buf, sizeof buf);
      if (n > 0) {
        to_local.append(buf, n);
        progressed = true;
      } else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
        broken = true;
      } else if (libssh2_channel_eof(ch)) {
        remote_eof = true;
      }
    }
    if (!to_local.empty()) {
      ssize_t n = write(local_fd, to_local.data(), to_local.size());
      if (n > 0) {
        to_local.erase(0, n);
        progressed = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        local_eof = true;  // the reader went away
        to_local.clear();
        remote_eof = true;
      }
    }
    if (local_fd < 0) break;  // nobody came
    if (remote_eof && to_local.empty()) shutdown(local_fd, SHUT_WR);
    if (local_eof && remote_eof && to_local.empty() && (eof_sent || broken)) break;
    if (!progressed) {
      pollfd p[2] = {{local_fd, static_cast<short>(local_eof ? 0 : POLLIN), 0}, {conn->fd, POLLIN, 0}};
      if (!to_local.empty()) p[0].events |= POLLOUT;
      if (libssh2_session_block_directions(conn->session) & LIBSSH2_SESSION_BLOCK_OUTBOUND) p[1].events |= POLLOUT;
      poll(p, 2, 100);
    }
  }
  if (local_fd >= 0) close(local_fd);
  Deadline closing = Deadline::In(Duration(5000));
  const CancelToken& none = CancelToken::None();
  if (!broken && conn->Await(closing, none, [&] { return libssh2_channel_close(ch); }) == 0 &&
      conn->Await(closing, none, [&] { return libssh2_channel_free(ch); }) == 0) {
    Release(std::move(conn));
  } else {
    Discard(std::move(conn));
  }
  std::lock_guard<std::mutex> lock(mu_);
  --pumps_active_;
  freed_.notify_all();
}

}  // namespace harness
