#include "exec/ssh_executor.h"

#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "base/files.h"
#include "base/scope_guard.h"

namespace harness {
namespace {

constexpr int kTimedOut = -10000;
constexpr int kCancelled = -10001;
constexpr const char* kStagePrefix = "/tmp/recipe-harness-stage.";

void InitLibssh2() {
  static std::once_flag once;
  std::call_once(once, [] { libssh2_init(0); });
}

std::string Base64(const unsigned char* data, size_t len) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = data[i] << 16;
    if (i + 1 < len) v |= data[i + 1] << 8;
    if (i + 2 < len) v |= data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (i + 1 < len) out += kAlphabet[(v >> 6) & 63];
    if (i + 2 < len) out += kAlphabet[v & 63];
  }
  return out;  // unpadded, as ssh-keygen prints fingerprints
}

std::string Home() {
  const char* h = std::getenv("HOME");
  return h != nullptr && *h != '\0' ? h : "/root";
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

}  // namespace

struct SshExecutor::Connection {
  int fd = -1;
  LIBSSH2_SESSION* session = nullptr;

  ~Connection() {
    if (session != nullptr) {
      libssh2_session_set_blocking(session, 1);
      libssh2_session_set_timeout(session, 2000);
      libssh2_session_disconnect(session, "closing");
      libssh2_session_free(session);
    }
    if (fd >= 0) close(fd);
  }

  // Waits until the socket is ready in the direction libssh2 is blocked on, at most `slice`.
  void Wait(Duration slice) const {
    int dir = libssh2_session_block_directions(session);
    pollfd p{fd, 0, 0};
    if (dir & LIBSSH2_SESSION_BLOCK_INBOUND) p.events |= POLLIN;
    if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) p.events |= POLLOUT;
    if (p.events == 0) p.events = POLLIN;
    poll(&p, 1, static_cast<int>(std::max<long long>(1, slice.count())));
  }

  // Calls `f` until it stops saying EAGAIN; kTimedOut or kCancelled when those come first.
  template <typename F>
  int Await(Deadline deadline, const CancelToken& cancel, F f) const {
    for (;;) {
      int rc = f();
      if (rc != LIBSSH2_ERROR_EAGAIN) return rc;
      if (cancel.cancelled()) return kCancelled;
      if (deadline.passed()) return kTimedOut;
      Wait(std::min(deadline.remaining(), Duration(100)));
    }
  }

  std::string LastError() const {
    char* msg = nullptr;
    int len = 0;
    libssh2_session_last_error(session, &msg, &len, 0);
    return msg != nullptr && len > 0 ? std::string(msg, len) : "unknown SSH error";
  }
};

SshExecutor::SshExecutor(Target target, SshOptions options)
    : target_(std::move(target)), options_(std::move(options)) {
  InitLibssh2();
  if (options_.known_hosts.empty()) options_.known_hosts = Home() + "/.ssh/known_hosts";
}

SshExecutor::~SshExecutor() {
  std::unique_lock<std::mutex> lock(mu_);
  freed_.wait(lock, [&] { return pumps_active_ == 0; });
  idle_.clear();
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

Result<std::unique_ptr<SshExecutor::Connection>> SshExecutor::Dial(Deadline deadline, bool* retryable) {
  *retryable = true;
  const std::string who = target_.Describe();
  Deadline d = deadline.Min(Deadline::In(options_.connect_timeout));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  std::string port = std::to_string(target_.port);
  if (int gai = getaddrinfo(target_.host.c_str(), port.c_str(), &hints, &res); gai != 0) {
    *retryable = gai == EAI_AGAIN;
    return Status::Infra(who + ": cannot resolve host '" + target_.host + "': " + gai_strerror(gai));
  }
  int fd = -1;
  std::string why = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int pr = poll(&p, 1, static_cast<int>(d.remaining().count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (pr > 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (pr > 0 && err == 0) break;
      why = pr == 0 ? "no answer within " + FormatDuration(options_.connect_timeout) : std::strerror(err);
    } else if (rc == 0) {
      break;
    } else {
      why = std::strerror(errno);
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return Status::Infra(who + ": cannot reach the host: " + why);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  auto c = std::make_unique<Connection>();
  c->fd = fd;
  c->session = libssh2_session_init();
  if (c->session == nullptr) return Status::Infra(who + ": libssh2 could not start a session");
  libssh2_session_set_blocking(c->session, 0);
  libssh2_session_method_pref(c->session, LIBSSH2_METHOD_HOSTKEY,
                              "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-rsa");
  const CancelToken& none = CancelToken::None();
  int rc = c->Await(d, none, [&] { return libssh2_session_handshake(c->session, fd); });
  if (rc != 0) {
    return Status::Infra(who + ": SSH handshake failed: " +
                         (rc == kTimedOut ? "no answer within " + FormatDuration(options_.connect_timeout)
                                          : c->LastError()));
  }
  if (Status s = CheckHostKey(*c, retryable); !s.ok()) return s;
  if (Status s = Authenticate(*c, d, retryable); !s.ok()) return s;
  libssh2_keepalive_config(c->session, 1,
                           static_cast<unsigned>(std::max<long long>(1, options_.keepalive.count() / 1000)));
  return c;
}

Status SshExecutor::CheckHostKey(Connection& c, bool* retryable) {
  const std::string who = target_.Describe();
  size_t len = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(c.session, &len, &type);
  if (key == nullptr) return Status::Infra(who + ": the server sent no host key");
  int keybit = 0;
  std::string type_name;
  switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: keybit = LIBSSH2_KNOWNHOST_KEY_SSHRSA; type_name = "ssh-rsa"; break;
    case LIBSSH2_HOSTKEY_TYPE_DSS: keybit = LIBSSH2_KNOWNHOST_KEY_SSHDSS; type_name = "ssh-dss"; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: keybit = LIBSSH2_KNOWNHOST_KEY_ECDSA_256; type_name = "ecdsa-sha2-nistp256"; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: keybit = LIBSSH2_KNOWNHOST_KEY_ECDSA_384; type_name = "ecdsa-sha2-nistp384"; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: keybit = LIBSSH2_KNOWNHOST_KEY_ECDSA_521; type_name = "ecdsa-sha2-nistp521"; break;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: keybit = LIBSSH2_KNOWNHOST_KEY_ED25519; type_name = "ssh-ed25519"; break;
    default: return Status::Infra(who + ": unsupported host key type");
  }
  const auto* hash = reinterpret_cast<const unsigned char*>(libssh2_hostkey_hash(c.session, LIBSSH2_HOSTKEY_HASH_SHA256));
  std::string fingerprint = type_name + " SHA256:" + (hash != nullptr ? Base64(hash, 32) : "?");
  std::string pattern = target_.port == 22 ? target_.host : "[" + target_.host + "]:" + std::to_string(target_.port);
  const std::string& file = options_.known_hosts;

  LIBSSH2_KNOWNHOSTS* kh = libssh2_knownhost_init(c.session);
  if (kh == nullptr) return Status::Infra(who + ": libssh2 could not read known hosts");
  ScopeGuard free_kh([&] { libssh2_knownhost_free(kh); });
  bool exists = access(file.c_str(), F_OK) == 0;
  if (exists && libssh2_knownhost_readfile(kh, file.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
    *retryable = false;
    return Status::Infra(who + ": cannot read the known hosts file " + file + ": " + c.LastError());
  }
  libssh2_knownhost* found = nullptr;
  int check = libssh2_knownhost_checkp(kh, target_.host.c_str(), target_.port, key, len,
                                       LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &found);
  switch (check) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
      return Status::Ok();
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
      *retryable = false;
      return Status::Infra(who + ": the host key has CHANGED: the server offers " + fingerprint +
                           ", which differs from the key recorded for " + pattern + " in " + file +
                           ". Someone may be intercepting the connection, or the host was reinstalled; "
                           "if you trust the change, remove the old key (ssh-keygen -R '" + pattern + "' -f " +
                           file + ") and connect again");
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
      break;
    default:
      *retryable = false;
      return Status::Infra(who + ": cannot check the host key against " + file + ": " + c.LastError());
  }
  if (!options_.accept_new_host_key) {
    *retryable = false;
    return Status::Infra(who + ": unknown host key " + fingerprint + " (not in " + file +
                         "); check it with the host's owner and add it (ssh-keyscan -p " +
                         std::to_string(target_.port) + " " + target_.host + " >> " + file +
                         "), or pass --accept-new-host-key");
  }
  libssh2_knownhost* added = nullptr;
  const std::string comment = "added by recipe-harness";
  if (libssh2_knownhost_addc(kh, pattern.c_str(), nullptr, key, len, comment.c_str(), comment.size(),
                             LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &added) != 0) {
    return Status::Infra(who + ": cannot record the new host key: " + c.LastError());
  }
  char line[8192];
  size_t out_len = 0;
  if (libssh2_knownhost_writeline(kh, added, line, sizeof line, &out_len, LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0) {
    return Status::Infra(who + ": cannot record the new host key: " + c.LastError());
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  int fd = open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, line, out_len) != static_cast<ssize_t>(out_len)) {
    if (fd >= 0) close(fd);
    *retryable = false;
    return Status::Infra(who + ": cannot add the host key to " + file + ": " + std::strerror(errno));
  }
  close(fd);
  return Status::Ok();
}

Status SshExecutor::Authenticate(Connection& c, Deadline deadline, bool* retryable) {
  const std::string who = target_.Describe();
  const std::string& user = target_.user;
  const CancelToken& none = CancelToken::None();
  auto try_file = [&](const std::string& key) {
    return c.Await(deadline, none, [&] {
      return libssh2_userauth_publickey_fromfile_ex(c.session, user.c_str(), user.size(), nullptr, key.c_str(),
                                                    nullptr);
    });
  };
  if (!options_.identity_file.empty()) {
    if (access(options_.identity_file.c_str(), R_OK) != 0) {
      *retryable = false;
      return Status::Infra(who + ": cannot read the key file " + options_.identity_file + ": " +
                           std::strerror(errno));
    }
    int rc = try_file(options_.identity_file);
    if (rc == 0) return Status::Ok();
    if (rc == kTimedOut) return Status::Infra(who + ": no answer while authenticating");
    *retryable = false;
    return Status::Infra(who + ": the server did not accept the key " + options_.identity_file + " for user '" +
                         user + "' (" + c.LastError() + ")");
  }
  std::vector<std::string> tried;
  if (const char* sock = std::getenv("SSH_AUTH_SOCK"); sock != nullptr && *sock != '\0') {
    LIBSSH2_AGENT* agent = libssh2_agent_init(c.session);
    if (agent != nullptr) {
      ScopeGuard free_agent([&] {
        libssh2_agent_disconnect(agent);
        libssh2_agent_free(agent);
      });
      int keys = 0;
      if (libssh2_agent_connect(agent) == 0 && libssh2_agent_list_identities(agent) == 0) {
        libssh2_agent_publickey* prev = nullptr;
        libssh2_agent_publickey* id = nullptr;
        while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
          ++keys;
          int rc = c.Await(deadline, none, [&] { return libssh2_agent_userauth(agent, user.c_str(), id); });
          if (rc == 0) return Status::Ok();
          prev = id;
        }
      }
      tried.push_back("ssh-agent (" + std::to_string(keys) + " keys)");
    }
  }
  for (const char* name : {"id_ed25519", "id_ecdsa"}) {
    std::string key = Home() + "/.ssh/" + name;
    if (access(key.c_str(), R_OK) != 0) continue;
    tried.push_back(key);
    if (try_file(key) == 0) return Status::Ok();
  }
  *retryable = false;
  if (tried.empty()) {
    return Status::Infra(who + ": no SSH key to offer: give --ssh-key, or load a key into ssh-agent");
  }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  return Status::Infra(who + ": the server accepted no key for user '" + user + "' (tried " + list + ")");
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
  const std::string who = target_.Describe();
  std::vector<std::string> words;
  if (!cmd.env.empty()) {
    words.push_back("env");
    for (const auto& [k, v] : cmd.env) words.push_back(k + "=" + v);
  }
  words.insert(words.end(), cmd.argv.begin(), cmd.argv.end());
  const std::string line = QuoteArgv(words);

  ProcessResult res;
  const auto started = Clock::now();
  auto elapsed = [&] { return std::chrono::duration_cast<Duration>(Clock::now() - started); };
  std::unique_ptr<Connection> conn;
  LIBSSH2_CHANNEL* ch = nullptr;
  for (int attempt = 0;; ++attempt) {
    auto c = Acquire(cmd.deadline, cancel);
    if (!c.ok()) {
      if (c.status().code() == Status::Code::kCancelled) {
        res.cancelled = true;
        res.elapsed = elapsed();
        return res;
      }
      return c.status();
    }
    conn = std::move(*c);
    for (;;) {
      ch = libssh2_channel_open_session(conn->session);
      if (ch != nullptr || libssh2_session_last_errno(conn->session) != LIBSSH2_ERROR_EAGAIN) break;
      if (cancel.cancelled() || cmd.deadline.passed()) break;
      conn->Wait(std::min(cmd.deadline.remaining(), Duration(100)));
    }
    int rc = -1;
    if (ch != nullptr) {
      rc = conn->Await(cmd.deadline, cancel, [&] { return libssh2_channel_exec(ch, line.c_str()); });
    }
    if (rc == 0) break;
    std::string why = conn->LastError();
    Discard(std::move(conn));  // frees the channel with the session
    ch = nullptr;
    res.elapsed = elapsed();
    if (cancel.cancelled()) {
      res.cancelled = true;
      return res;
    }
    if (cmd.deadline.passed()) {
      res.timed_out = true;
      return res;
    }
    // The command never started: the connection had dropped or was refused. A new one.
    if (attempt + 1 >= std::max(1, options_.reconnect_attempts)) {
      return Status::Infra(who + ": cannot start `" + CommandName(cmd.argv) + "`: " + why);
    }
  }

  size_t in_off = 0;
  bool eof_sent = false;
  std::string lost;
  char buf[32768];
  for (;;) {
    if (cancel.cancelled()) {
      res.cancelled = true;
      break;
    }
    if (cmd.deadline.passed()) {
      res.timed_out = true;
      break;
    }
    bool progressed = false;
    if (in_off < cmd.stdin_data.size()) {
      ssize_t n = libssh2_channel_write(ch, cmd.stdin_data.data() + in_off, cmd.stdin_data.size() - in_off);
      if (n > 0) {
        in_off += n;
        progressed = true;
      } else if (n != LIBSSH2_ERROR_EAGAIN) {
        in_off = cmd.stdin_data.size();  // the command stopped reading its input
      }
    }
    if (in_off >= cmd.stdin_data.size() && !eof_sent) {
      eof_sent = libssh2_channel_send_eof(ch) != LIBSSH2_ERROR_EAGAIN;
    }
    for (int stream : {0, SSH_EXTENDED_DATA_STDERR}) {
      std::string& sink = stream == 0 ? res.out : res.err;
      for (;;) {
        ssize_t n = libssh2_channel_read_ex(ch, stream, buf, sizeof buf);
        if (n > 0) {
          size_t room = cmd.max_output > sink.size() ? cmd.max_output - sink.size() : 0;
          sink.append(buf, std::min<size_t>(room, n));
          if (cmd.on_output) cmd.on_output(stream == 0 ? 1 : 2, std::string_view(buf, static_cast<size_t>(n)));
          progressed = true;
          continue;
        }
        if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) lost = conn->LastError();
        break;
      }
    }
    if (!lost.empty()) break;
    if (libssh2_channel_eof(ch)) break;
    int next = 0;
    if (libssh2_keepalive_send(conn->session, &next) != 0) {
      lost = conn->LastError();
      break;
    }
    if (!progressed) conn->Wait(std::min(cmd.deadline.remaining(), Duration(100)));
  }
  res.elapsed = elapsed();
  if (res.cancelled || res.timed_out || !lost.empty()) {
    Discard(std::move(conn));
    if (!lost.empty()) {
      return Status::Infra(who + ": connection lost while running `" + CommandName(cmd.argv) + "`: " + lost);
    }
    return res;
  }
  Deadline closing = cmd.deadline.Min(Deadline::In(Duration(10000)));
  const CancelToken& none = CancelToken::None();
  int rc = conn->Await(closing, none, [&] { return libssh2_channel_close(ch); });
  if (rc == 0) rc = conn->Await(closing, none, [&] { return libssh2_channel_wait_closed(ch); });
  if (rc != 0) {
    Discard(std::move(conn));
    return Status::Infra(who + ": connection lost while ending `" + CommandName(cmd.argv) + "`");
  }
  res.exit_code = libssh2_channel_get_exit_status(ch);
  char* signame = nullptr;
  size_t signame_len = 0;
  libssh2_channel_get_exit_signal(ch, &signame, &signame_len, nullptr, nullptr, nullptr, nullptr);
  if (signame != nullptr) {
    res.term_signal = SignalNumber(std::string(signame, signame_len));
    res.exit_code = -1;
    libssh2_free(conn->session, signame);
  }
  if (conn->Await(closing, none, [&] { return libssh2_channel_free(ch); }) != 0) {
    Discard(std::move(conn));
  } else {
    Release(std::move(conn));
  }
  res.elapsed = elapsed();
  return res;
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
    if (!it->is_regular_file()) continue;
    std::string rel = std::filesystem::relative(it->path(), local_dir).string();
    auto content = ReadFile(it->path().string());
    Command put;
    put.argv = {"sh", "-c", "mkdir -p -- \"$(dirname -- \"$1\")\" && cat > \"$1\"", "sh", remote + "/" + rel};
    put.stdin_data = content.ok() ? *content : std::string();
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
  (void)Run(rm, CancelToken::None());
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
  std::thread(&SshExecutor::Pump, this, conn.release(), static_cast<void*>(ch), listener).detach();
  return static_cast<int>(ntohs(addr.sin_port));
}

void SshExecutor::Pump(Connection* raw, void* channel, int listener) {
  std::unique_ptr<Connection> conn(raw);
  auto* ch = static_cast<LIBSSH2_CHANNEL*>(channel);
  pollfd waiting{listener, POLLIN, 0};
  int local_fd = poll(&waiting, 1, 10000) == 1 ? accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK) : -1;
  close(listener);
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
