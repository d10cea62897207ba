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
  std::string url;          // http://host:port/path, host already resolved to an address
  Headers headers;
  std::string body;
  Duration timeout{10000};
  size_t max_body = 16 << 20;
  // Connect from this executor's machine (Executor::Forward): the address is one that
  // machine sees. Null: the client's own default.
  Executor* via = nullptr;
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

// Splits "http://host:port/path?q" into its parts. Port defaults to 80.
struct UrlParts {
  std::string host;
  int port = 80;
  std::string path = "/";
};
Result<UrlParts> ParseHttpUrl(const std::string& url);

}  // namespace harness
