#include "runtime/docker_api.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/json_text.h"
#include "base/wait.h"

namespace harness {
std::unique_ptr<DockerApi> DockerApi::ForLocal() {
  const char* context = std::getenv("DOCKER_CONTEXT");
  if (context != nullptr && *context != '\0' && std::string(context) != "default") return nullptr;
  std::string socket = "/var/run/docker.sock";
  if (const char* host = std::getenv("DOCKER_HOST"); host != nullptr && *host != '\0') {
    std::string h = host;
    if (h.rfind("unix://", 0) != 0) return nullptr;
    socket = h.substr(7);
  }
  return std::make_unique<DockerApi>(socket);
}

std::unique_ptr<DockerApi> DockerApi::ForLocalCli(Docker* cli, Deadline deadline) {
  auto api = ForLocal();
  if (api == nullptr) return nullptr;
  std::vector<std::string> args = {"info", "--format", "{{.ID}}"};
  auto r = cli->Run(args, nullptr, deadline, CancelToken::None());
  if (!r.ok() || !r->ok()) return nullptr;
  std::string id = r->out.substr(0, r->out.find_first_of("\r\n"));
  if (id.empty() || api->DaemonId(deadline) != id) return nullptr;
  return api;
}

std::string DockerApi::DaemonId(Deadline deadline) {
  auto info = Get("/info", deadline);
  if (!info.ok()) return "";
  auto j = nlohmann::json::parse(*info, nullptr, false);
  if (!j.is_object() || !j.contains("ID") || !j["ID"].is_string()) return "";
  return j["ID"].get<std::string>();
}

std::unique_ptr<DockerApi> DockerApi::ThroughSsh(SshExecutor* ssh, const std::string& docker_binary,
                                                 Deadline deadline, std::string* why) {
  // One round trip: the address the target's CLI uses, then the ID of the daemon it reaches.
  Command probe;
  probe.argv = {"sh", "-c",
                "printf '%s|%s\\n' \"${DOCKER_HOST:-}\" \"${DOCKER_CONTEXT:-}\"; \"$0\" info --format '{{.ID}}'",
                docker_binary};
  probe.deadline = deadline;
  auto r = ssh->Run(probe, CancelToken::None());
  if (!r.ok() || !r->ok()) {
    *why = "docker info on the target failed: " + (r.ok() ? r->Describe() + " " + r->err : r.status().message());
    return nullptr;
  }
  std::istringstream lines(r->out);
  std::string env, id;
  std::getline(lines, env);
  std::getline(lines, id);
  const std::string host = env.substr(0, env.find('|')), context = env.substr(env.find('|') + 1);
  if (!context.empty() && context != "default") {
    *why = "the target's CLI uses the Docker context " + context;
    return nullptr;
  }
  std::string remote = "/var/run/docker.sock";
  if (!host.empty()) {
    if (host.rfind("unix://", 0) != 0) {
      *why = "the target's DOCKER_HOST is " + host + ", not a unix socket";
      return nullptr;
    }
    remote = host.substr(7);
  }
  auto local = ssh->ForwardSocket(remote, deadline);
  if (!local.ok()) {
    *why = local.status().message();
    return nullptr;
  }
  auto api = std::make_unique<DockerApi>(*local);
  api->description_ = ssh->Describe() + " unix://" + remote + " (direct-streamlocal)";
  const std::string seen = api->DaemonId(deadline);
  if (id.empty() || seen != id) {
    *why = "the socket " + remote + " on the target is not the daemon its CLI reaches (" +
           (seen.empty() ? "no answer" : seen) + " vs " + (id.empty() ? "?" : id) + ")";
    return nullptr;
  }
  return api;
}

DockerApi::DockerApi(std::string socket_path)
    : socket_(std::move(socket_path)), description_("unix://" + socket_) {}

DockerApi::~DockerApi() = default;

std::string DockerApi::Filters(const std::string& key, const std::vector<std::string>& values) {
  return Escape(JsonText(nlohmann::json{{key, values}}));
}

std::string DockerApi::Escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string DockerApi::MessageOf(const Answer& a) {
  auto j = nlohmann::json::parse(a.body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"];
  return a.body;
}

TransferRequest DockerApi::RequestFor(const std::string& method, const std::string& path,
                                      const std::string& body) const {
  TransferRequest req;
  req.method = method;
  req.url = "http://docker" + path;
  req.unix_socket = socket_;
  req.protocols = "http";
  if (!body.empty()) {
    req.body = body;
    req.send_body = true;
    req.headers = {"Content-Type: application/json"};
  } else if (method != "GET") {
    req.send_body = true;  // Content-Length: 0
  }
  return req;
}

Result<DockerApi::Answer> DockerApi::Call(const std::string& method, const std::string& path, const std::string& body,
                                          Deadline deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  TransferRequest req = RequestFor(method, path, body);
  long ms = deadline.never() ? 30000L : std::max<long>(1, static_cast<long>(deadline.remaining().count()));
  req.timeout = Duration(ms);
  TransferResponse resp;
  Status s = transfer_.Perform(req, &resp);
  const std::string what = "Docker API " + method + " " + path.substr(0, path.find('?'));
  if (s.code() == Status::Code::kTimeout) {
    return Status::Timeout(what + " timed out after " + FormatDuration(Duration(ms)));
  }
  if (!s.ok()) return Status::Infra(what + " on " + socket_ + ": " + s.message());
  return Answer{resp.status, std::move(resp.body)};
}

Result<std::string> DockerApi::Get(const std::string& path, Deadline deadline) {
  auto a = Call("GET", path, "", deadline);
  if (!a.ok()) return a.status();
  if (a->status < 200 || a->status >= 300) {
    return Status::Infra("Docker API " + path.substr(0, path.find('?')) + " answered " + std::to_string(a->status) +
                         ": " + MessageOf(*a));
  }
  return std::move(a->body);
}

Status DockerApi::Stream(const std::string& method, const std::string& path, const std::string& body,
                         Deadline deadline, const CancelToken& cancel,
                         const std::function<bool(std::string_view)>& on_data) const {
  TransferRequest req = RequestFor(method, path, body);
  req.connect_timeout = Duration(10000);
  if (!deadline.never()) req.timeout = Duration(std::max<long>(1, static_cast<long>(deadline.remaining().count())));
  req.cancel = &cancel;
  req.on_body = on_data;
  CurlTransfer transfer;
  TransferResponse resp;
  Status s = transfer.Perform(req, &resp);
  const std::string what = "Docker API stream " + path.substr(0, path.find('?'));
  if (s.code() == Status::Code::kTimeout || s.code() == Status::Code::kCancelled) return s.Prefixed(what);
  if (!s.ok()) return Status::Infra(what + " on " + socket_ + ": " + s.message());
  if (resp.status < 200 || resp.status >= 300) {
    return Status::Infra(what + " answered " + std::to_string(resp.status) + ": " +
                         MessageOf(Answer{resp.status, resp.body}));
  }
  return Status::Ok();
}

void StreamDemux::Feed(std::string_view data) {
  pending_.append(data);
  size_t at = 0;
  while (pending_.size() - at >= 8) {
    const auto* h = reinterpret_cast<const unsigned char*>(pending_.data() + at);
    const size_t size = (size_t{h[4]} << 24) | (size_t{h[5]} << 16) | (size_t{h[6]} << 8) | size_t{h[7]};
    if (pending_.size() - at - 8 < size) break;
    (h[0] == 2 ? err : out).append(pending_, at + 8, size);
    at += 8 + size;
  }
  pending_.erase(0, at);
}

Result<ProcessResult> DockerApi::Exec(const std::string& container, const std::vector<std::string>& argv,
                                      Deadline deadline, const CancelToken& cancel) {
  const auto started = std::chrono::steady_clock::now();
  ProcessResult r;
  auto done = [&]() -> Result<ProcessResult> {
    r.elapsed = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started);
    return std::move(r);
  };
  const nlohmann::json create = {{"AttachStdin", false}, {"AttachStdout", true}, {"AttachStderr", true},
                                 {"Tty", false}, {"Cmd", argv}};
  auto made = Call("POST", "/containers/" + Escape(container) + "/exec", JsonText(create), deadline);
  if (!made.ok()) return made.status();
  if (made->status == 404 || made->status == 409) {  // no such container; not running
    r.exit_code = 1;
    r.err = "Error response from daemon: " + MessageOf(*made) + "\n";
    return done();
  }
  auto id = nlohmann::json::parse(made->body, nullptr, false);
  if (made->status != 201 || !id.is_object() || !id.contains("Id") || !id["Id"].is_string()) {
    return Status::Infra("Docker API POST /containers/<id>/exec answered " + std::to_string(made->status) + ": " +
                         MessageOf(*made));
  }
  const std::string exec = "/exec/" + Escape(id["Id"].get<std::string>());
  StreamDemux demux;
  Status s = Stream("POST", exec + "/start", R"({"Detach":false,"Tty":false})", deadline, cancel,
                    [&](std::string_view data) {
                      demux.Feed(data);
                      return true;
                    });
  r.out = std::move(demux.out);
  r.err = std::move(demux.err);
  if (s.code() == Status::Code::kTimeout) r.timed_out = true;
  if (s.code() == Status::Code::kCancelled) r.cancelled = true;
  if (r.timed_out || r.cancelled) return done();
  if (!s.ok()) return s;
  // The output ends with the process, whose exit code Docker records a moment later. An
  // output that ended while the process still runs was cut on the way (a connection lost):
  // the command's effect is unknown. (Docker then records 126 once it ends.)
  const Deadline settle = Deadline::In(kExecSettle);
  for (;;) {
    auto info = Get(exec + "/json", Deadline::In(Duration(10000)));
    if (!info.ok()) return info.status();
    auto j = nlohmann::json::parse(*info, nullptr, false);
    if (j.is_object() && j.contains("ExitCode") && j["ExitCode"].is_number_integer() &&
        !(j.contains("Running") && j["Running"] == true)) {
      r.exit_code = j["ExitCode"].get<int>();
      break;
    }
    if (settle.passed()) {
      return Status::Infra("connection lost while running `docker exec " + container + " " + QuoteArgv(argv) +
                           "` (its output ended while it still ran, " + Describe() + ")");
    }
    if (!WaitFor(Duration(20), cancel)) {
      r.cancelled = true;
      return done();
    }
  }
  // Docker reports a command it could not start on the output stream; the CLI on stderr.
  if ((r.exit_code == 126 || r.exit_code == 127) && r.err.empty()) std::swap(r.out, r.err);
  return done();
}

Result<std::string> DockerApi::ServiceLogs(const std::string& service, int tail, Deadline deadline,
                                           const CancelToken& cancel) {
  StreamDemux demux;
  Status s = Stream("GET", "/services/" + Escape(service) + "/logs?stdout=1&stderr=1&tail=" + std::to_string(tail),
                    "", deadline, cancel, [&](std::string_view data) {
                      demux.Feed(data);
                      return true;
                    });
  if (!s.ok()) return s;
  return demux.out + demux.err;
}

namespace {

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

}  // namespace

Status DockerApi::CreateSecret(const std::string& name, const std::string& value,
                               const std::map<std::string, std::string>& labels, Deadline deadline) {
  const nlohmann::json spec = {{"Name", name}, {"Labels", labels}, {"Data", Base64(value)}};
  auto a = Call("POST", "/secrets/create", JsonText(spec), deadline);
  if (!a.ok()) return a.status();
  if (a->status >= 200 && a->status < 300) return Status::Ok();
  return Status::Infra("Docker API POST /secrets/create (" + name + ") answered " + std::to_string(a->status) +
                       ": " + MessageOf(*a));
}

Status DockerApi::Delete(const std::string& path, Deadline deadline) {
  auto a = Call("DELETE", path, "", deadline);
  if (!a.ok()) return a.status();
  if ((a->status >= 200 && a->status < 300) || a->status == 404) return Status::Ok();
  return Status::Infra("Docker API DELETE " + path.substr(0, path.find('?')) + " answered " +
                       std::to_string(a->status) + ": " + MessageOf(*a));
}

DockerApi* DockerApiSource::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!opened_) {
    opened_ = true;
    api_ = open_(&why_);
    open_ = nullptr;
  }
  return api_.get();
}

std::string DockerApiSource::Describe() {
  DockerApi* api = Get();
  std::lock_guard<std::mutex> lock(mu_);
  return api != nullptr ? api->Describe() : "docker-cli: " + why_;
}

}  // namespace harness
