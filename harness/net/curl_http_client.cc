#include <algorithm>
#include <cctype>

#include "exec/executor.h"
#include "net/curl_transfer.h"
#include "net/http.h"

namespace harness {
namespace {

class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(Executor* via) : via_(via) {}

  Result<HttpResponse> Send(const HttpRequest& req, const CancelToken& cancel) override {
    TransferRequest t;
    t.method = req.method;
    t.url = req.url;
    t.protocols = "http";
    t.timeout = req.timeout;
    t.connect_timeout = std::min(req.timeout, Duration(5000));
    t.max_body = req.max_body;
    t.cancel = &cancel;
    t.body = req.body;
    t.send_body = !req.body.empty() || req.method == "POST" || req.method == "PUT";
    for (const auto& [k, v] : req.headers) t.headers.push_back(k + ": " + v);
    // Through the target: the request's host:port is reached by a forward on loopback,
    // while the URL (and so the Host header) stays as the script wrote it.
    if (Executor* via = req.via != nullptr ? req.via : via_; via != nullptr) {
      auto url = ParseHttpUrl(req.url);
      if (!url.ok()) return url.status();
      auto local_port = via->Forward(url->host, url->port, Deadline::In(req.timeout));
      if (!local_port.ok()) return local_port.status();
      if (*local_port > 0) {
        t.connect_to = url->host + ":" + std::to_string(url->port) + ":127.0.0.1:" + std::to_string(*local_port);
      }
    }
    TransferResponse out;
    Status s = transfer_.Perform(t, &out);
    if (s.code() == Status::Code::kCancelled) return Status::Cancelled("HTTP request interrupted");
    if (!s.ok()) return s;
    HttpResponse resp;
    resp.status = out.status;
    resp.headers = std::move(out.headers);
    resp.body = std::move(out.body);
    resp.elapsed = out.elapsed;
    return resp;
  }

 private:
  Executor* via_ = nullptr;
  CurlTransfer transfer_;
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
