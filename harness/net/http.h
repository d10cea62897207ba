// HTTP requests and responses as the Lua API sees them, and the HttpClient seam.
//
// CurlHttpClient (libcurl) is the real implementation. Thread-safety: a client may be used
// from one thread at a time; create one per run.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"
#include "base/status.h"

namespace harness {

class Executor;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  // http://host:port/path with the host resolved to an address; or, with `connect`, a URL
  // by name (http or https) whose host name is sent as SNI and Host, and verified.
  std::string url;
  Headers headers;
  std::string body;
  Duration timeout{10000};
  size_t max_body = 16 << 20;
  // Connect from this executor's machine (Executor::Forward): the address is one that
  // machine sees. Null: the client's own default.
  Executor* via = nullptr;
  // "address:port" to connect to instead of the URL's host (a proxy), as `via` sees it.
  std::string connect;
  // https: the CA bundle the server's certificate must verify against ("" for the
  // system's). It is always verified; one that does not is a failure that names what the
  // server offered (subject, issuer, names).
  std::string ca_file;
};

struct HttpResponse {
  long status = 0;
  Headers headers;          // names lower-cased, in arrival order
  std::string body;
  Duration elapsed{0};
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // A non-ok Status for transport failures (refused, timeout, reset); any HTTP status is ok.
  virtual Result<HttpResponse> Send(const HttpRequest& req, const CancelToken& cancel) = 0;
};

// `via`: connections go through the executor's target (Executor::Forward), so that
// addresses are reached as the target sees them; null or a local executor: directly.
std::unique_ptr<HttpClient> NewCurlHttpClient(Executor* via = nullptr);

// Splits "http://host:port/path?q" or "https://..." into its parts. The port defaults to
// the scheme's (80, 443).
struct UrlParts {
  std::string scheme = "http";
  std::string host;
  int port = 80;
  std::string path = "/";
};
Result<UrlParts> ParseHttpUrl(const std::string& url);

}  // namespace harness
