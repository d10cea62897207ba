// CurlTransfer: the one place that drives libcurl — one HTTP exchange at a time on a
// reusable easy handle.
//
// Callers say everything that varies (method, URL or unix socket, headers, body, timeouts,
// protocols, cancellation, a connect-to rewrite, the CA bundle, a body taken as it
// arrives); everything else is fixed: no signals, no redirects followed, certificates
// verified, response headers parsed into lower-cased names. Perform() resets the handle between exchanges, so connections are
// reused by one CurlTransfer and never between two. A cancellation is seen at once, also
// while the exchange waits for the server (the token's descriptor is polled beside the
// connection).
//
// Thread-safety: one thread at a time per CurlTransfer; different objects may be used on
// different threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"
#include "base/status.h"

namespace harness {

struct TransferRequest {
  std::string method = "GET";    // HEAD asks for no body; others but GET are sent as given
  std::string url;
  std::string unix_socket;       // connect to this socket instead of the URL's host
  std::string protocols = "http";  // CURLOPT_PROTOCOLS_STR: "http" or "http,https"
  std::vector<std::string> headers;  // "Name: value" lines ("Expect:" removes one)
  std::string user_agent;        // "" for none
  std::string body;
  bool send_body = false;        // send `body` (also when empty: Content-Length: 0)
  Duration timeout{0};           // the whole exchange; 0 for none
  std::optional<Duration> connect_timeout;  // libcurl's default when unset
  std::string connect_to;        // CURLOPT_CONNECT_TO "host:port:addr:port"; no reuse then
  // https: the server's certificate is always verified, against this CA bundle ("" for
  // the system's), for the URL's host name.
  std::string ca_file;
  // Only connect (and, for https, shake hands), sending no request; with
  // `read_certificate`, verification is off and the server's certificate is read into
  // TransferResponse::certificate — to show what a server that failed verification
  // offered, never to talk to it.
  bool connect_only = false;
  bool read_certificate = false;
  size_t max_body = std::numeric_limits<size_t>::max();  // the rest is read and dropped
  const CancelToken* cancel = nullptr;  // aborts the exchange when cancelled
  // When set, the body of a 2xx answer is handed here piece by piece as it arrives and is
  // not kept (`body` stays empty); returning false ends the exchange, and Perform() is then
  // ok. The body of another status is kept in `body` as usual. For streams: set no
  // `timeout`, or one that bounds the whole stream.
  std::function<bool(std::string_view)> on_body;
};

struct TransferResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // of the last response
  std::string body;
  Duration elapsed{0};
  bool sent = false;             // the request may have reached the server
  bool unverified = false;       // https: the server's certificate did not verify
  // With read_certificate: the fields of the server's own certificate, as libcurl names
  // them ("Subject", "Issuer", "X509v3 Subject Alternative Name", "Expire date", ...).
  std::vector<std::pair<std::string, std::string>> certificate;
};

class CurlTransfer {
 public:
  CurlTransfer();
  ~CurlTransfer();
  CurlTransfer(const CurlTransfer&) = delete;
  CurlTransfer& operator=(const CurlTransfer&) = delete;

  // Runs one exchange. Ok with any HTTP status (also when `on_body` ended it); otherwise
  // Cancelled ("interrupted"), Timeout ("no answer within <timeout>") or Failed (libcurl's
  // message), with `out` (elapsed, sent) filled as far as the exchange got.
  Status Perform(const TransferRequest& req, TransferResponse* out);

 private:
  void* curl_ = nullptr;   // CURL*
  void* multi_ = nullptr;  // CURLM*: drives curl_ and keeps its connections between exchanges
};

}  // namespace harness
