#include "support/registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "exec/local_executor.h"
#include "support/child.h"

namespace harness::testing {
namespace {

constexpr const char* kRegistryBinary = "/usr/bin/docker-registry";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

ProcessResult Docker(const std::vector<std::string>& args, Duration timeout = Duration(120000)) {
  LocalExecutor exec;
  Command c;
  c.argv = {"docker"};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.deadline = Deadline::In(timeout);
  auto r = exec.Run(c, CancelToken::None());
  if (!r.ok()) {
    ProcessResult failed;
    failed.err = r.status().ToString();
    return failed;
  }
  return *r;
}

void MustDocker(const std::vector<std::string>& args) {
  auto r = Docker(args);
  INFO("docker " << QuoteArgv(args) << ": " << r.Describe() << "\n" << r.out << r.err);
  REQUIRE(r.ok());
}

// `docker rmi -f` of each reference; "No such image" is not an error. Returns the other
// failures, one a line.
std::string RemoveImages(const std::vector<std::string>& refs) {
  std::string failures;
  for (const auto& ref : refs) {
    auto r = Docker({"rmi", "-f", ref}, Duration(60000));
    if (r.ok() || r.err.find("No such image") != std::string::npos) continue;
    failures += ref + ": " + r.Describe() + " " + r.err + "\n";
  }
  return failures;
}

// Lines of `docker images --format FORMAT` that start with `prefix` and name a tag or digest.
std::vector<std::string> LocalImages(const std::string& format, const std::string& prefix) {
  std::vector<std::string> out;
  auto r = Docker({"images", "--digests", "--format", format}, Duration(60000));
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) != 0 || line.find("<none>") != std::string::npos) continue;
    if (std::find(out.begin(), out.end(), line) == out.end()) out.push_back(line);
  }
  return out;
}

// Removes every local image reference under "host/" (tags first: untagging the last tag of
// a repository also drops its digest references).
void ForgetUnderHost(const std::string& host) {
  std::string prefix = host + "/";
  RemoveImages(LocalImages("{{.Repository}}:{{.Tag}}", prefix));
  RemoveImages(LocalImages("{{.Repository}}@{{.Digest}}", prefix));
}

// Waits up to `grace` for the child to exit after SIGTERM, then SIGKILLs it; always reaps.
void StopChild(int pid, Duration grace) {
  kill(pid, SIGTERM);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, static_cast<int>(grace.count()));
    } while (r < 0 && errno == EINTR);
    if (r == 0) kill(pid, SIGKILL);
    close(pidfd);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

// Splits "repo:tag" (the tag after the last '/').
std::pair<std::string, std::string> SplitTag(const std::string& repo_tag) {
  auto colon = repo_tag.rfind(':');
  auto slash = repo_tag.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {repo_tag, ""};
  return {repo_tag.substr(0, colon), repo_tag.substr(colon + 1)};
}

}  // namespace

// --- TestRegistry -------------------------------------------------------------------------

TestRegistry::TestRegistry() : dir_("harness-registry") {
  REQUIRE(!dir_.path().empty());
  port_ = FreePort();
  std::ofstream(dir_.path() + "/config.yml")
      << "version: 0.1\n"
         "log:\n"
         "  level: warn\n"
         "  formatter: text\n"
         "storage:\n"
         "  filesystem:\n"
         "    rootdirectory: " << dir_.path() << "/storage\n"
         "  delete:\n"
         "    enabled: true\n"
         "  redirect:\n"
         "    disable: true\n"
         "  maintenance:\n"
         "    uploadpurging:\n"
         "      enabled: false\n"
         "http:\n"
         "  addr: 127.0.0.1:" << port_ << "\n"
         "  secret: recipe-harness-test-registry\n";
  Launch();
}

TestRegistry::~TestRegistry() {
  Kill();
  ForgetUnderHost(host());  // pass or fail, nothing pulled from this registry stays behind
}

StampImage::StampImage(const std::string& stamp) {
  static int counter = 0;
  std::string id = std::to_string(getpid()) + "-" + std::to_string(++counter);
  name_ = "harness-registry-test/stamp:" + id;
  std::string container = "harness-registry-stamp-" + id;
  Docker({"rm", "-f", container});
  MustDocker({"run", "--name", container, "--network", "none", "recipe-harness/busybox:1", "sh", "-c",
              "printf '%s\\n' \"$1\" > /stamp", "sh", stamp});
  auto committed = Docker({"commit", container, name_});
  Docker({"rm", "-f", container});
  INFO(committed.err);
  REQUIRE(committed.ok());
}

StampImage::~StampImage() { TestRegistry::Forget({name_}); }

void TestRegistry::ForgetUnder(const std::string& host) { ForgetUnderHost(host); }

void TestRegistry::Launch() {
  std::string config = dir_.path() + "/config.yml";
  std::string log = dir_.path() + "/registry.log";
  pid_t pid = SpawnLogged({kRegistryBinary, "serve", config}, log);
  REQUIRE(pid >= 0);
  pid_ = pid;

  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(0, 200000);
  client.set_read_timeout(2, 0);
  Deadline up = Deadline::In(Duration(20000));
  Duration pause(5);
  for (;;) {
    auto res = client.Get("/v2/");
    if (res && res->status == 200) return;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("docker-registry exited at start: " << Log());
    }
    if (up.passed()) {
      Kill();
      FAIL("docker-registry did not answer GET /v2/ within 20s: " << Log());
    }
    usleep(static_cast<useconds_t>(pause.count() * 1000));
    pause = std::min(pause * 2, Duration(200));
  }
}

void TestRegistry::Kill() {
  if (pid_ <= 0) return;
  StopChild(pid_, Duration(5000));
  pid_ = -1;
}

void TestRegistry::Stop() {
  REQUIRE(pid_ > 0);
  Kill();
}

void TestRegistry::Start() {
  REQUIRE(pid_ <= 0);
  Launch();
}

std::string TestRegistry::Push(const std::string& local_image, const std::string& repo_tag) {
  std::string ref = host() + "/" + repo_tag;
  MustDocker({"tag", local_image, ref});
  MustDocker({"push", ref});
  MustDocker({"rmi", ref});
  return ref;
}

std::string TestRegistry::Digest(const std::string& repo_tag) const {
  auto [repo, tag] = SplitTag(repo_tag);
  REQUIRE(!tag.empty());
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(10, 0);
  auto res = client.Head("/v2/" + repo + "/manifests/" + tag,
                         {{"Accept", "application/vnd.docker.distribution.manifest.v2+json"}});
  INFO("HEAD /v2/" << repo << "/manifests/" << tag << " on " << host());
  REQUIRE(res);
  REQUIRE(res->status == 200);
  std::string digest = res->get_header_value("Docker-Content-Digest");
  REQUIRE(digest.rfind("sha256:", 0) == 0);
  return digest;
}

void TestRegistry::Forget(const std::vector<std::string>& refs) {
  std::string failures = RemoveImages(refs);
  INFO(failures);
  CHECK(failures.empty());
}

std::string TestRegistry::Log() const { return Read(dir_.path() + "/registry.log"); }

// --- DelayingProxy ------------------------------------------------------------------------

namespace {

const char* Reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

// The registry API's error code for a status (distribution's errcode), for the body.
const char* ErrorCode(int status) {
  switch (status) {
    case 401: return "UNAUTHORIZED";
    case 403: return "DENIED";
    case 429: return "TOOMANYREQUESTS";
    case 503: return "UNAVAILABLE";
    default: return "UNKNOWN";
  }
}

bool SendAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Waits until `fd` is readable or the stop pipe closes; false when stopping.
bool WaitReadable(int fd, int stop_fd, int timeout_ms) {
  pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  int r;
  do {
    r = poll(p, 2, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r > 0 && p[1].revents == 0;
}

}  // namespace

DelayingProxy::DelayingProxy(const std::string& host, int port) : target_host_(host), target_port_(port) {
  REQUIRE(pipe2(stop_pipe_, O_CLOEXEC) == 0);
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listen_fd_ >= 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(listen_fd_, 128) == 0);
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread(&DelayingProxy::AcceptLoop, this);
}

DelayingProxy::~DelayingProxy() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);  // unblocks a send() in progress
  }
  close(stop_pipe_[1]);  // every poll() on the read end wakes up
  acceptor_.join();
  std::vector<std::thread> conns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    conns.swap(conns_);
  }
  for (auto& t : conns) t.join();
  close(listen_fd_);
  close(stop_pipe_[0]);
  ForgetUnderHost(host());
}

bool DelayingProxy::Track(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  open_fds_.insert(fd);
  return true;
}

void DelayingProxy::Untrack(int fd) {
  if (fd < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  open_fds_.erase(fd);
  close(fd);  // under the lock, so the destructor never shuts down a reused number
}

void DelayingProxy::AcceptLoop() {
  for (;;) {
    if (!WaitReadable(listen_fd_, stop_pipe_[0], -1)) return;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      close(fd);
      return;
    }
    open_fds_.insert(fd);
    conns_.emplace_back(&DelayingProxy::Serve, this, fd);
  }
}

void DelayingProxy::Serve(int client) {
  int upstream = -1;
  auto done = [&] {
    Untrack(upstream);
    Untrack(client);
  };
  Duration delay(delay_ms_.load());
  if (delay.count() > 0) {
    Deadline until = Deadline::In(delay);
    while (!until.passed()) {
      pollfd p{stop_pipe_[0], POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(until.remaining().count()) + 1);
      if (r > 0) return done();  // stopping
    }
  }

  if (int status = fail_status_.load(); status != 0) {
    // Read the request head, answer it, and close the connection. Docker tries TLS first
    // on a loopback registry and falls back to plain HTTP when that fails: a TLS hello gets
    // at once the answer a plain-HTTP Go server (the registry) gives it.
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < (64 << 10)) {
      if (!head.empty() && head[0] == '\x16') break;  // a TLS handshake record
      if (!WaitReadable(client, stop_pipe_[0], 10000)) return done();
      ssize_t n = recv(client, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return done();
      head.append(buf, static_cast<size_t>(n));
    }
    std::string answer;
    if (head[0] == '\x16') {
      answer = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Connection: close\r\n\r\n400 Bad Request";
    } else {
      // A body in the registry API's error format, as a registry (or Docker Hub) sends it.
      std::string body = std::string("{\"errors\":[{\"code\":\"") + ErrorCode(status) + "\",\"message\":\"" +
                         Reason(status) + " (recipe-harness test proxy)\",\"detail\":null}]}\n";
      answer = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
               "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nDocker-Distribution-Api-Version: registry/2.0\r\nConnection: close\r\n\r\n" +
               (head.rfind("HEAD ", 0) == 0 ? "" : body);
    }
    SendAll(client, answer.data(), answer.size());
    shutdown(client, SHUT_WR);
    return done();
  }

  upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (upstream < 0) return done();
  if (!Track(upstream)) {
    close(upstream);
    upstream = -1;
    return done();
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(target_port_));
  inet_pton(AF_INET, target_host_.c_str(), &a.sin_addr);
  if (connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    // Nothing to forward to: close our side at once, but read what the client sends until
    // it closes too, so that it always sees an end of file (never a reset).
    shutdown(client, SHUT_WR);
    char buf[4096];
    while (WaitReadable(client, stop_pipe_[0], 5000)) {
      ssize_t n = recv(client, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
    }
    return done();
  }

  // Copy both ways; an end of file is passed on as a half close; done when both ended.
  int from[2] = {client, upstream};
  int to[2] = {upstream, client};
  bool open[2] = {true, true};
  std::vector<char> buf(64 << 10);
  while (open[0] || open[1]) {
    pollfd p[3] = {{open[0] ? from[0] : -1, POLLIN, 0}, {open[1] ? from[1] : -1, POLLIN, 0},
                   {stop_pipe_[0], POLLIN, 0}};
    int r = poll(p, 3, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || p[2].revents != 0) break;
    bool failed = false;
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || p[i].revents == 0) continue;
      ssize_t n = recv(from[i], buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failed = true;
      } else if (n == 0) {
        open[i] = false;
        shutdown(to[i], SHUT_WR);
      } else if (!SendAll(to[i], buf.data(), static_cast<size_t>(n))) {
        failed = true;
      }
    }
    if (failed) break;
  }
  done();
}

}  // namespace harness::testing
