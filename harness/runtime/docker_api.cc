#include "runtime/docker_api.h"

#include <curl/curl.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace harness {
namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

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

DockerApi::DockerApi(std::string socket_path) : socket_(std::move(socket_path)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

DockerApi::~DockerApi() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string DockerApi::Filters(const std::string& key, const std::vector<std::string>& values) {
  std::string json = nlohmann::json{{key, values}}.dump();
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
  auto* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Status::Infra("libcurl could not be initialised");
  std::string body;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_reset(curl);
  std::string url = "http://docker" + path;
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  long ms = deadline.never() ? 30000L : std::max<long>(1, static_cast<long>(deadline.remaining().count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Status::Timeout("Docker API " + path.substr(0, path.find('?')) + " timed out after " +
                           FormatDuration(Duration(ms)));
  }
  if (rc != CURLE_OK) {
    return Status::Infra("Docker API " + path.substr(0, path.find('?')) + " on " + socket_ + ": " +
                         (errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc)));
  }
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
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
