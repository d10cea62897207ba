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

DockerApi::DockerApi(std::string socket_path) : socket_(std::move(socket_path)) {}

DockerApi::~DockerApi() = default;

std::string DockerApi::Filters(const std::string& key, const std::vector<std::string>& values) {
  std::string json = JsonText(nlohmann::json{{key, values}});
  std::string out;
  for (unsigned char c : json) {
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

Result<std::string> DockerApi::Get(const std::string& path, Deadline deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  TransferRequest req;
  req.url = "http://docker" + path;
  req.unix_socket = socket_;
  req.protocols = "http";
  long ms = deadline.never() ? 30000L : std::max<long>(1, static_cast<long>(deadline.remaining().count()));
  req.timeout = Duration(ms);
  TransferResponse resp;
  Status s = transfer_.Perform(req, &resp);
  if (s.code() == Status::Code::kTimeout) {
    return Status::Timeout("Docker API " + path.substr(0, path.find('?')) + " timed out after " +
                           FormatDuration(Duration(ms)));
  }
  if (!s.ok()) {
    return Status::Infra("Docker API " + path.substr(0, path.find('?')) + " on " + socket_ + ": " + s.message());
  }
  const std::string& body = resp.body;
  long code = resp.status;
  if (code < 200 || code >= 300) {
    std::string message = body;
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) message = j["message"];
    return Status::Infra("Docker API " + path.substr(0, path.find('?')) + " answered " + std::to_string(code) +
                         ": " + message);
  }
  return body;
}

}  // namespace harness
