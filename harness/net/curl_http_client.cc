#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "base/scope_guard.h"
#include "exec/executor.h"
#include "net/http.h"

namespace harness {
namespace {

struct Transfer {
  HttpResponse* resp;
  size_t max_body;
  const CancelToken* cancel;
};



size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  size_t room = t->max_body > t->resp->body.size() ? t->max_body - t->resp->body.size() : 0;
  t->resp->body.append(data, std::min(room, len));
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  std::string line(data, len);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();  // a new response (after 100-continue or a redirect)
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) return len;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string value = line.substr(colon + 1);
  value.erase(0, value.find_first_not_of(" \t"));
  t->resp->headers.emplace_back(std::move(name), std::move(value));
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->cancel->cancelled() ? 1 : 0;
}

class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(Executor* via) : via_(via) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_ = curl_easy_init();
  }
  ~CurlHttpClient() override {
    if (curl_) curl_easy_cleanup(curl_);
  }

  Result<HttpResponse> Send(const HttpRequest& req, const CancelToken& cancel) override {
    if (!curl_) return Status::Infra("libcurl could not be initialised");
    HttpResponse resp;
    Transfer t{&resp, req.max_body, &cancel};
    curl_easy_reset(curl_);
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl_, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<long long>(req.timeout.count(), 5000)));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    if (req.method == "HEAD") {
      curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
    } else if (req.method != "GET") {
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, req.body.c_str());
    }
    // Through the target: the request's host:port is reached by a forward on loopback,
    // while the URL (and so the Host header) stays as the script wrote it.
    curl_slist* connect_to = nullptr;
    if (Executor* via = req.via != nullptr ? req.via : via_; via != nullptr) {
      auto url = ParseHttpUrl(req.url);
      if (!url.ok()) return url.status();
      auto local_port = via->Forward(url->host, url->port, Deadline::In(req.timeout));
      if (!local_port.ok()) return local_port.status();
      if (*local_port > 0) {
        connect_to = curl_slist_append(nullptr, (url->host + ":" + std::to_string(url->port) + ":127.0.0.1:" +
                                                 std::to_string(*local_port)).c_str());
        curl_easy_setopt(curl_, CURLOPT_CONNECT_TO, connect_to);
        curl_easy_setopt(curl_, CURLOPT_FORBID_REUSE, 1L);  // each forward carries one connection
      }
    }
    ScopeGuard free_connect_to([&] { curl_slist_free_all(connect_to); });
    curl_slist* list = nullptr;
    for (const auto& [k, v] : req.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
    if (list) curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    auto started = Clock::now();
    CURLcode rc = curl_easy_perform(curl_);
    if (list) curl_slist_free_all(list);
    resp.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - started);
    if (rc == CURLE_ABORTED_BY_CALLBACK) return Status::Cancelled("HTTP request interrupted");
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return Status::Timeout("no answer within " + FormatDuration(req.timeout));
    }
    if (rc != CURLE_OK) {
      return Status::Failed(errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc));
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &resp.status);
    return resp;
  }

 private:
  Executor* via_ = nullptr;
  CURL* curl_ = nullptr;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(Executor* via) { return std::make_unique<CurlHttpClient>(via); }

Result<UrlParts> ParseHttpUrl(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    return Status::InvalidArgument("URL must start with http:// (got '" + url + "')");
  }
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  UrlParts parts;
  if (slash != std::string::npos) {
    parts.path = rest.substr(slash);
    if (parts.path[0] == '?') parts.path = "/" + parts.path;
  }
  if (authority.find('@') != std::string::npos) {
    return Status::InvalidArgument("credentials in URLs are not supported: '" + url + "'");
  }
  auto colon = authority.rfind(':');
  if (colon != std::string::npos) {
    std::string port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return Status::InvalidArgument("bad port in URL '" + url + "'");
    }
    parts.port = std::stoi(port);
    if (parts.port < 1 || parts.port > 65535) {
      return Status::InvalidArgument("bad port in URL '" + url + "'");
    }
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return Status::InvalidArgument("no host in URL '" + url + "'");
  parts.host = authority;
  return parts;
}

}  // namespace harness
