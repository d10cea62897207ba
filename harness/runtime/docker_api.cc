#include "runtime/docker_api.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/json_text.h"

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

DockerApi::DockerApi(std::string socket_path) : socket_(std::move(socket_path)) {}

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

Result<DockerApi::Answer> DockerApi::Call(const std::string& method, const std::string& path, const std::string& body,
                                          Deadline deadline) {
  std::lock_guard<std::mutex> lock(mu_);
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

Status DockerApi::Stream(const std::string& path, Deadline deadline, const CancelToken& cancel,
                         const std::function<bool(std::string_view)>& on_data) const {
  TransferRequest req;
  req.url = "http://docker" + path;
  req.unix_socket = socket_;
  req.protocols = "http";
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

Status DockerApi::Delete(const std::string& path, Deadline deadline) {
  auto a = Call("DELETE", path, "", deadline);
  if (!a.ok()) return a.status();
  if ((a->status >= 200 && a->status < 300) || a->status == 404) return Status::Ok();
  return Status::Infra("Docker API DELETE " + path.substr(0, path.find('?')) + " answered " +
                       std::to_string(a->status) + ": " + MessageOf(*a));
}

}  // namespace harness
