#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "exec/executor.h"
#include "net/curl_transfer.h"
#include "net/http.h"

namespace harness {
namespace {

class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(Executor* via) : via_(via) {}

  Result<HttpResponse> Send(const HttpRequest& req, const CancelToken& cancel) override {
    auto url = ParseHttpUrl(req.url);
    if (!url.ok()) return url.status();
    if (url->scheme == "https" && req.connect.empty()) {
      return Status::InvalidArgument("https is only for names the proxy serves: " + req.url);
    }
    TransferRequest t;
    t.method = req.method;
    t.url = req.url;
    t.protocols = "http,https";
    t.ca_file = req.ca_file;
    t.timeout = req.timeout;
    t.connect_timeout = std::min(req.timeout, Duration(5000));
    t.max_body = req.max_body;
    t.cancel = &cancel;
    t.body = req.body;
    t.send_body = !req.body.empty() || req.method == "POST" || req.method == "PUT";
    for (const auto& [k, v] : req.headers) t.headers.push_back(k + ": " + v);
    auto connect_to = ConnectTo(req, *url);
    if (!connect_to.ok()) return connect_to.status();
    t.connect_to = *connect_to;
    TransferResponse out;
    Status s = transfer_.Perform(t, &out);
    if (s.code() == Status::Code::kCancelled) return Status::Cancelled("HTTP request interrupted");
    if (out.unverified) return Status::Failed(s.message() + "; " + Offered(req, *url, cancel));
    if (!s.ok()) return s;
    HttpResponse resp;
    resp.status = out.status;
    resp.headers = std::move(out.headers);
    resp.body = std::move(out.body);
    resp.elapsed = out.elapsed;
    return resp;
  }

 private:
  // The CURLOPT_CONNECT_TO rewrite that reaches the request's address: the URL's own, or
  // `connect`; through the target (a forward on loopback) when there is one. The URL, and
  // so SNI and the Host header, stays as the script wrote it.
  Result<std::string> ConnectTo(const HttpRequest& req, const UrlParts& url) {
    std::string host = url.host;
    int port = url.port;
    if (!req.connect.empty()) {
      auto colon = req.connect.rfind(':');
      host = req.connect.substr(0, colon);
      port = colon == std::string::npos ? 443 : std::atoi(req.connect.c_str() + colon + 1);
    }
    std::string from = url.host + ":" + std::to_string(url.port) + ":";
    if (Executor* via = req.via != nullptr ? req.via : via_; via != nullptr) {
      auto local_port = via->Forward(host, port, Deadline::In(req.timeout));
      if (!local_port.ok()) return local_port.status();
      if (*local_port > 0) return from + "127.0.0.1:" + std::to_string(*local_port);
    }
    return req.connect.empty() ? std::string() : from + host + ":" + std::to_string(port);
  }

  // What a server whose certificate did not verify offered, read by a second handshake
  // that sends nothing: "the server offered: subject ..., issuer ..., names ...".
  std::string Offered(const HttpRequest& req, const UrlParts& url, const CancelToken& cancel) {
    TransferRequest t;
    t.url = req.url;
    t.protocols = "https";
    t.timeout = std::min(req.timeout, Duration(5000));  // a handshake, after a try that took its time
    t.connect_timeout = t.timeout;
    t.cancel = &cancel;
    t.connect_only = true;
    t.read_certificate = true;
    auto connect_to = ConnectTo(req, url);
    if (!connect_to.ok()) return "what it offered could not be read: " + connect_to.status().message();
    t.connect_to = *connect_to;
    TransferResponse out;
    CurlTransfer transfer;
    if (Status s = transfer.Perform(t, &out); !s.ok() || out.certificate.empty()) {
      return "what it offered could not be read" + (s.ok() ? std::string() : ": " + s.message());
    }
    std::string subject, issuer, names;
    for (const auto& [k, v] : out.certificate) {
      if (k == "Subject") subject = v;
      if (k == "Issuer") issuer = v;
      if (k == "X509v3 Subject Alternative Name") names = v;
    }
    return "the server offered a certificate for subject " + subject + ", issued by " + issuer +
           ", names " + (names.empty() ? std::string("(none)") : names) +
           (req.ca_file.empty() ? ", checked against the system's CAs" : ", checked against " + req.ca_file);
  }

  Executor* via_ = nullptr;
  CurlTransfer transfer_;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(Executor* via) { return std::make_unique<CurlHttpClient>(via); }

Result<UrlParts> ParseHttpUrl(const std::string& url) {
  UrlParts parts;
  if (url.rfind("https://", 0) == 0) {
    parts.scheme = "https";
    parts.port = 443;
  } else if (url.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("URL must start with http:// or https:// (got '" + url + "')");
  }
  std::string rest = url.substr(parts.scheme.size() + 3);
  auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
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
