// TestSshd: a real OpenSSH server (Debian's openssh-server) on loopback for the SSH tests.
//
// Everything it uses lives in its own temp folder: sshd_config, an ed25519 host key, a
// client key it accepts (authorized_keys), a second client key it does not, and a
// known_hosts file that records its host key. The destructor stops the server and every
// session it started. One test thread.
#pragma once

#include <string>

#include "base/temp_dir.h"

namespace harness::testing {

struct TestSshdOptions {
  std::string netns;                 // run in this network namespace (ip netns), if set
  std::string address = "127.0.0.1";
  int port = 0;                      // 0: a free port
  std::string docker_host;           // DOCKER_HOST for the sessions (sshd SetEnv), if set
  std::string path;                  // PATH for the sessions (sshd SetEnv), if set
  bool stream_local = true;          // AllowStreamLocalForwarding (unix socket channels)
  std::string keys_from;             // reuse the host and client keys of this folder
};

class TestSshd {
 public:
  // Fails the current test (Catch REQUIRE) if sshd does not come up.
  explicit TestSshd(const TestSshdOptions& options = {});
  ~TestSshd();
  TestSshd(const TestSshd&) = delete;
  TestSshd& operator=(const TestSshd&) = delete;

  int port() const { return port_; }
  std::string target() const { return "ssh://root@" + address_ + ":" + std::to_string(port_); }
  std::string dir() const { return dir_.path(); }
  std::string client_key() const { return dir() + "/client_ed25519"; }
  std::string stranger_key() const { return dir() + "/stranger_ed25519"; }  // not authorised
  std::string known_hosts() const { return dir() + "/known_hosts"; }
  // A known_hosts file that records a different key for this server.
  std::string wrong_known_hosts() const { return dir() + "/known_hosts.wrong"; }
  // Kills the per-connection sshd processes: every open connection drops at once, while the
  // server keeps accepting new ones. Returns how many were killed.
  int KillSessions();
  // The server's log (sshd -e).
  std::string Log() const;

 private:
  TempDir dir_;
  std::string address_;
  int port_ = 0;
  int pid_ = -1;
};

}  // namespace harness::testing
