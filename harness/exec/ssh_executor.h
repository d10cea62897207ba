// SshExecutor: runs commands on a Swarm manager over SSH (libssh2).
//
// Open() makes the first connection, which checks the host key against a known_hosts file
// (an unknown key is refused unless accept_new_host_key; a changed key is always refused)
// and authenticates with a key file or ssh-agent; every error names the target and the
// cause. Commands then run on a small pool of connections, each carrying one command at a
// time: a connection is reused by the next command, sends keepalives while a command runs,
// and is replaced — reconnecting with backoff — when it has dropped. A command whose
// connection drops before it started is retried on a new one; a command cut off midway
// fails with an Infra status (its effect is unknown), and later commands (a teardown) go
// through a new connection.
//
// Each command line is built from the argument vector by QuoteArgv(), the one place where
// words are quoted for the remote shell.
//
// Past its deadline or on cancel, a command's channel and connection are closed; libssh2
// 1.10 cannot send a signal, so the remote process ends when it next writes or finishes.
//
// Thread-safety: Run(), Share() and Forward() may be called from several threads at once.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "exec/executor.h"
#include "exec/target.h"

namespace harness {

struct SshOptions {
  // Private key; empty: the ssh-agent at $SSH_AUTH_SOCK, then ~/.ssh/id_ed25519 and
  // ~/.ssh/id_ecdsa. (RSA keys need rsa-sha2 signatures, which libssh2 1.10 lacks.)
  std::string identity_file;
  std::string known_hosts;  // empty: ~/.ssh/known_hosts
  bool accept_new_host_key = false;  // add an unknown host's key to known_hosts
  Duration connect_timeout{10000};
  Duration keepalive{15000};
  int max_connections = 8;
  int reconnect_attempts = 5;  // backoff 0.5 s, 1 s, 2 s, 4 s, 8 s
};

class SshExecutor : public Executor {
 public:
  // Connects once, checking the host key and the credentials. Infra on failure.
  static Result<std::unique_ptr<SshExecutor>> Open(const Target& target, const SshOptions& options);
  ~SshExecutor() override;

  Result<ProcessResult> Run(const Command& cmd, const CancelToken& cancel) override;
  std::string Describe() const override { return target_.Describe(); }
  Result<std::string> Share(const std::string& local_dir, Deadline deadline, const CancelToken& cancel) override;
  void Unshare(const std::string& shared_dir, Deadline deadline) override;
  Result<int> Forward(const std::string& host, int port, Deadline deadline) override;
  // Serves the target's unix socket `remote_path` (Docker's) on a unix socket of this
  // machine, in a folder only this user can enter, until the executor is destroyed: each
  // connection made to it gets a channel of its own (OpenSSH's direct-streamlocal, sshd's
  // AllowStreamLocalForwarding) on a connection of the pool. One channel is opened at once
  // to try: Failed when the target refuses it (the caller keeps the CLI then), Infra when
  // the connection fails. The local socket's path.
  Result<std::string> ForwardSocket(const std::string& remote_path, Deadline deadline);

  // Connections opened so far (reuse keeps this small).
  int connections_opened() const;

  struct Connection;

 private:
  SshExecutor(Target target, SshOptions options);
  // A connection to use alone: an idle one, or a new one (with backoff on failure).
  Result<std::unique_ptr<Connection>> Acquire(Deadline deadline, const CancelToken& cancel);
  void Release(std::unique_ptr<Connection> conn);  // back to the idle pool
  void Discard(std::unique_ptr<Connection> conn);  // broken: close it
  // One new connection (ssh_connection.cc). `retryable` says whether trying again might help.
  Result<std::unique_ptr<Connection>> Dial(Deadline deadline, bool* retryable);
  Status CheckHostKey(Connection& c, bool* retryable);
  Status Authenticate(Connection& c, Deadline deadline, bool* retryable);

  // Run()'s steps, on one command's state.
  struct Running;
  // Starts the command on a channel of a connection of its own; a connection that fails
  // before the command started is replaced, up to reconnect_attempts. True once it runs;
  // false when it was cancelled or timed out first (the result says which).
  Result<bool> Start(Running& r);
  // Sends the input and collects the output until the command ends, is cancelled, passes
  // its deadline or loses its connection.
  static void Exchange(Running& r);
  // Closes the channel, reads the exit status and returns the connection to the pool, or
  // discards it when the command did not end cleanly.
  Result<ProcessResult> Finish(Running& r);
  // Accepts one connection on `listener`, then relays between it and a tunnel channel until
  // both ends are done; then returns the connection to the pool.
  void Pump(Connection* conn, void* channel, int local_fd);
  // Opens a direct-streamlocal channel to `remote_path` on `conn` (libssh2 1.10 has no call
  // for it: the channel request is made by hand). Null with `why` set on failure, and
  // `refused` when the target said no (the session is fine then).
  static void* OpenStreamLocal(Connection& conn, const std::string& remote_path, Deadline deadline,
                               std::string* why, bool* refused);
  // Accepts connections on a forwarded socket's listener until the executor closes.
  void Accept(int listener, std::string remote_path);

  Target target_;
  SshOptions options_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  int opened_total_ = 0;
  int pumps_active_ = 0;
  bool closing_ = false;                 // guarded by mu_: acceptors stop
  std::vector<std::thread> acceptors_;   // one per forwarded socket
  std::vector<std::string> socket_dirs_;  // their folders, removed at the end
};

}  // namespace harness
