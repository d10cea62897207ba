// TestRegistry: a real image registry (Debian's docker-registry, distribution 2.8) on
// loopback, for tests of image pulls; DelayingProxy: a TCP forwarder in front of it that can
// be slow or answer every request with an error status.
//
// TestRegistry owns its process and a temp folder (config, storage, log): the destructor
// stops the registry (SIGTERM, then SIGKILL), reaps it and removes the folder, and removes
// from the local Docker every image reference under host(), pass or fail. Docker pulls from
// and pushes to plain-HTTP registries on 127.0.0.0/8 without configuration, so references
// are "127.0.0.1:PORT/repo:tag". One test thread.
//
// DelayingProxy owns a listening socket and its threads (one accepting, one per
// connection); the destructor closes the socket, ends every connection and joins every
// thread, and, like TestRegistry's, removes the local image references under its host().
// The setters and connections() may be called from any thread.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/deadline.h"
#include "base/temp_dir.h"

namespace harness::testing {

class TestRegistry {
 public:
  TestRegistry();  // REQUIREs that the registry answers GET /v2/ with 200
  ~TestRegistry();
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // Tags `local_image` as host()/repo_tag, pushes it, and untags it again so that only the
  // registry has that reference. Returns "127.0.0.1:PORT/repo:tag"; REQUIREs success.
  std::string Push(const std::string& local_image, const std::string& repo_tag);
  // The manifest digest ("sha256:...") of "repo:tag" as the registry serves it (schema 2);
  // REQUIREs that the registry has it.
  std::string Digest(const std::string& repo_tag) const;
  // Stops the registry (a registry that is down: connections are refused) and starts it
  // again on the same port with the same storage. REQUIRES: Stop() only while running,
  // Start() only after Stop().
  void Stop();
  void Start();  // REQUIREs that it answers again
  // Removes these references from the local Docker (`docker rmi -f`); references that are
  // not there are ignored.
  static void Forget(const std::vector<std::string>& refs);
  // Removes every local image reference under "<host>/" (tags and digests): what runs pulled
  // from a registry, e.g. the setup's 127.0.0.1:5000 that the bundled canon pulls from.
  static void ForgetUnder(const std::string& host);
  // The registry's log (its stdout and stderr, access log included).
  std::string Log() const;

 private:
  void Launch();
  void Kill();
  TempDir dir_;
  int port_ = 0;
  int pid_ = -1;
};

// A local image of its own: a small layer with `/stamp` holding `stamp` on the test image,
// so that a pull of it has a layer and a config to download and a container can tell
// which one it runs. Removed (with the container that made it) at scope end.
class StampImage {
 public:
  explicit StampImage(const std::string& stamp);
  ~StampImage();
  StampImage(const StampImage&) = delete;
  StampImage& operator=(const StampImage&) = delete;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// At scope end, pass or fail, removes every local image under "<host>/": for tests whose
// runs pull from a registry they did not start (the bundled canon from 127.0.0.1:5000).
class ForgetPulledUnder {
 public:
  explicit ForgetPulledUnder(std::string host) : host_(std::move(host)) {}
  ~ForgetPulledUnder() { TestRegistry::ForgetUnder(host_); }
  ForgetPulledUnder(const ForgetPulledUnder&) = delete;
  ForgetPulledUnder& operator=(const ForgetPulledUnder&) = delete;

 private:
  std::string host_;
};

// The registry scripts/setup starts for the bundled canon.
inline constexpr const char* kSetupRegistry = "127.0.0.1:5000";

class DelayingProxy {
 public:
  // Forwards connections to host:port (an IPv4 address), for Docker references such as
  // "127.0.0.1:<port()>/repo:tag"; REQUIREs that it listens. When host:port refuses, the
  // client's connection is closed (it reads an end of file).
  DelayingProxy(const std::string& host, int port);
  ~DelayingProxy();
  DelayingProxy(const DelayingProxy&) = delete;
  DelayingProxy& operator=(const DelayingProxy&) = delete;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // Each new connection waits this long before anything is forwarded (0: none). A
  // `docker pull` opens several connections one after another (its TLS probe included),
  // so it takes a multiple of this.
  void set_delay(Duration d) { delay_ms_ = d.count(); }
  // Non-zero: the proxy answers every request itself with this HTTP status, a body in the
  // registry API's error format and "Connection: close"; nothing is forwarded. (Docker's
  // TLS probe gets the plain-HTTP server's 400, so Docker falls back to HTTP at once, as
  // with the real registry.) 0: forward.
  void set_fail_status(int status) { fail_status_ = status; }
  // Connections accepted so far.
  int connections() const { return connections_; }

 private:
  void AcceptLoop();
  void Serve(int client);
  bool Track(int fd);  // false once stopping
  void Untrack(int fd);

  std::string target_host_;
  int target_port_ = 0;
  int port_ = 0;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};  // the write end is closed to stop every thread
  std::atomic<long long> delay_ms_{0};
  std::atomic<int> fail_status_{0};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mu_;
  bool stopping_ = false;           // guarded by mu_
  std::vector<std::thread> conns_;  // guarded by mu_
  std::set<int> open_fds_;          // guarded by mu_: sockets of live connections
};

}  // namespace harness::testing
