// DockerApi: reads the Docker Engine API through the daemon's unix socket (libcurl), for
// a target on this machine.
//
// A convergence observation through the docker CLI is three processes; through the
// socket it is three requests on one kept-alive connection, a few milliseconds in all.
// Used only when the target is this machine, and only once it has shown to be the daemon
// the CLI talks to (SwarmRuntime::UseEngineApi); other targets go through the CLI.
//
// Thread-safety: Call() and what is built on it may be called from several threads (one
// connection, taken in turn). Stream() may run on any thread beside them: each stream is
// a connection of its own.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"
#include "base/status.h"
#include "net/curl_transfer.h"
#include "exec/ssh_executor.h"
#include "runtime/docker.h"

namespace harness {

// Docker's multiplexed stream (the output of exec and logs without a terminal): frames of an
// 8-byte header (stream 0 stdin, 1 stdout, 2 stderr; 3 zero bytes; the size, 4 bytes big
// endian) and their payload, split across reads in any way.
class StreamDemux {
 public:
  void Feed(std::string_view data);
  std::string out;
  std::string err;

 private:
  std::string pending_;
};

class DockerApi {
 public:
  static constexpr Duration kExecSettle{2000};
  // The local daemon's socket: $DOCKER_HOST when it names a unix socket, else
  // /var/run/docker.sock. Null when DOCKER_HOST names another kind of address, or
  // DOCKER_CONTEXT chooses a context (the CLI may then talk to another daemon).
  static std::unique_ptr<DockerApi> ForLocal();
  // ForLocal, kept only when its GET /info shows the daemon ID that `docker info` through
  // `cli` shows (the CLI could be configured to reach another daemon); null otherwise, or
  // when Docker does not answer. One docker process.
  static std::unique_ptr<DockerApi> ForLocalCli(Docker* cli, Deadline deadline);
  // For an SSH target: the target's Docker socket (its DOCKER_HOST when that names a unix
  // socket, else /var/run/docker.sock) served on this machine through the SSH connection
  // (SshExecutor::ForwardSocket), kept only when its GET /info shows the daemon ID that
  // `docker info` on the target shows. Null otherwise, with the reason in `why` (the CLI
  // is used then). One command on the target.
  static std::unique_ptr<DockerApi> ThroughSsh(SshExecutor* ssh, const std::string& docker_binary,
                                               Deadline deadline, std::string* why);
  // Where the requests go: "unix:///var/run/docker.sock", or for an SSH target
  // "ssh://root@host:22 unix:///var/run/docker.sock (direct-streamlocal)".
  const std::string& Describe() const { return description_; }
  // The daemon's ID from GET /info; "" when it cannot be read.
  std::string DaemonId(Deadline deadline);

  explicit DockerApi(std::string socket_path);
  ~DockerApi();
  DockerApi(const DockerApi&) = delete;
  DockerApi& operator=(const DockerApi&) = delete;

  struct Answer {
    long status = 0;
    std::string body;
  };
  // One request: `method` ("GET", "POST", "DELETE") of `path` (with its query), with a
  // JSON `body` when not empty. Any HTTP status is an answer; a transport failure is Infra
  // (Timeout when the deadline passed), naming the path.
  Result<Answer> Call(const std::string& method, const std::string& path, const std::string& body,
                      Deadline deadline);
  // GET `path` (with its query, e.g. "/services?filters=..."): the body of a 2xx answer;
  // Infra naming the path for a transport failure or another status.
  Result<std::string> Get(const std::string& path, Deadline deadline);
  // GET `path` (e.g. "/events?since=...") as a stream: each piece of a 2xx answer's body
  // goes to `on_data` as it arrives, nothing of it is kept. Ok when Docker ended the answer
  // or `on_data` returned false; Cancelled when `cancel` fired, Timeout when `deadline`
  // passed (Never: no limit); Infra naming the path for a transport failure or another
  // status. On a connection of its own, never the one Call() uses, so requests go on while
  // a stream is open.
  Status Stream(const std::string& path, Deadline deadline, const CancelToken& cancel,
                const std::function<bool(std::string_view)>& on_data) const {
    return Stream("GET", path, "", deadline, cancel, on_data);
  }
  // As above, for any method, with a JSON `body` when not empty (POST /exec/<id>/start).
  Status Stream(const std::string& method, const std::string& path, const std::string& body, Deadline deadline,
                const CancelToken& cancel, const std::function<bool(std::string_view)>& on_data) const;
  // Runs `argv` in `container` as `docker exec` does, without a terminal or input: creates
  // the exec (POST /containers/<id>/exec), reads its output as it runs (POST
  // /exec/<id>/start, on a connection of its own) and then its exit code (GET
  // /exec/<id>/json). A command the container cannot start exits 126 or 127 with Docker's
  // message on stderr, as with the CLI; a container that is not there is exit 1 with
  // Docker's message. Past the deadline or on cancel, the result says timed_out or
  // cancelled with the output so far (the process in the container is not stopped, as with
  // the CLI). Infra for a transport failure, and when the output ended while the process
  // still ran kExecSettle later (a connection lost on the way: the effect is unknown).
  Result<ProcessResult> Exec(const std::string& container, const std::vector<std::string>& argv, Deadline deadline,
                             const CancelToken& cancel);
  // The last `tail` lines of a service's output, stdout then stderr (GET
  // /services/<name>/logs), as `docker service logs --raw --no-task-ids` gives them.
  Result<std::string> ServiceLogs(const std::string& service, int tail, Deadline deadline, const CancelToken& cancel);
  // Creates a secret (POST /secrets/create) holding `value`, with `labels`. Infra with
  // Docker's message when it refuses (409: the name is taken).
  Status CreateSecret(const std::string& name, const std::string& value,
                      const std::map<std::string, std::string>& labels, Deadline deadline);
  // DELETE `path`: Ok when Docker removed it or it was not there (404); otherwise Infra
  // with Docker's message (409: in use).
  Status Delete(const std::string& path, Deadline deadline);
  // Docker's message of an error answer (its JSON "message"), or the body.
  static std::string MessageOf(const Answer& a);
  // `s` as one path segment (percent-encoded).
  static std::string Escape(const std::string& s);
  const std::string& socket_path() const { return socket_; }

  // `filters` query value: {"<key>":["<value>", ...]}, URL-encoded.
  static std::string Filters(const std::string& key, const std::vector<std::string>& values);

 private:
  // `method` of `path` on the socket, with a JSON `body` when not empty.
  TransferRequest RequestFor(const std::string& method, const std::string& path, const std::string& body) const;

  std::string socket_;
  std::string description_;
  std::mutex mu_;
  CurlTransfer transfer_;  // guarded by mu_; keeps the connection to the daemon open
};

// DockerApiSource: the target's Engine API, opened on first use. Opening asks the target
// (`docker info`, for an SSH target a channel too), so it waits until a command has checked
// its input and has work for the target: a refused command reaches nothing.
//
// Thread-safety: Get() and Describe() may be called from several threads; the first opens.
class DockerApiSource {
 public:
  // `open` makes the API or returns null, saying why in its argument.
  using Opener = std::function<std::unique_ptr<DockerApi>(std::string* why)>;
  explicit DockerApiSource(Opener open) : open_(std::move(open)) {}
  // The API, or null when it cannot be used (the CLI is used then). Opens on the first call.
  DockerApi* Get();
  // Where the API reaches Docker (DockerApi::Describe), or "docker-cli: <why>". Opens too.
  std::string Describe();

 private:
  std::mutex mu_;
  bool opened_ = false;  // guarded by mu_
  Opener open_;
  std::unique_ptr<DockerApi> api_;
  std::string why_;
};

}  // namespace harness
