// SshExecutor's tunnels (exec/ssh_executor.h): a TCP port on the target's side forwarded
// to a local port, and a unix socket on the target served on a private local socket, each
// connection pumped on a pooled SSH connection of its own.
#include <libssh2.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "base/files.h"
#include "exec/ssh_connection.h"
#include "exec/ssh_executor.h"

namespace harness {
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
