// SshExecutor::Connection: one TCP socket and the libssh2 session on it, in non-blocking
// mode, with the waits every libssh2 call on it goes through.
//
// SshExecutor::Dial() makes one (ssh_connection.cc: resolve, connect, handshake, host key,
// authentication, keepalives); the executor's pool (ssh_executor.cc) owns the idle ones and
// hands each to one command or tunnel at a time, through a unique_ptr. Destroying it ends
// the session and closes the socket. Not a public interface: only SshExecutor's own .cc
// files include it. A Connection is used by one thread at a time, whichever holds it.
#pragma once

#include <libssh2.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "base/cancel.h"
#include "base/deadline.h"
#include "exec/ssh_executor.h"

namespace harness {

struct SshExecutor::Connection {
  // What Await() returns when the deadline or the cancel token comes first.
  static constexpr int kTimedOut = -10000;
  static constexpr int kCancelled = -10001;

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

namespace ssh_connection {

// $HOME, or /root when it is unset or empty.
std::string Home();

}  // namespace ssh_connection
}  // namespace harness
