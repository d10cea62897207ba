#include "net/curl_transfer.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

#include "base/scope_guard.h"
#include "base/strings.h"

namespace harness {
namespace {

struct Sink {
  TransferResponse* resp;
  size_t max_body;
  const CancelToken* cancel;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  size_t room = s->max_body > s->resp->body.size() ? s->max_body - s->resp->body.size() : 0;
  s->resp->body.append(data, std::min(room, len));
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  std::string line(data, len);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    s->resp->headers.clear();  // a new response (after 100-continue or a redirect)
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) return len;
  std::string value = line.substr(colon + 1);
  value.erase(0, value.find_first_not_of(" \t"));
  s->resp->headers.emplace_back(Lower(line.substr(0, colon)), std::move(value));
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Sink*>(user)->cancel->cancelled() ? 1 : 0;
}

}  // namespace

CurlTransfer::CurlTransfer() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

CurlTransfer::~CurlTransfer() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Status CurlTransfer::Perform(const TransferRequest& req, TransferResponse* out) {
  auto* h = static_cast<CURL*>(curl_);
  if (h == nullptr) return Status::Infra("libcurl could not be initialised");
  *out = TransferResponse();
  Sink sink{out, req.max_body, req.cancel};
  curl_easy_reset(h);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  if (!req.unix_socket.empty()) curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, req.unix_socket.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, req.protocols.c_str());
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  if (req.connect_timeout) {
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout->count()));
  }
  if (!req.user_agent.empty()) curl_easy_setopt(h, CURLOPT_USERAGENT, req.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  if (req.cancel != nullptr) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &sink);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (req.send_body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.c_str());
  }
  curl_slist* connect_to = nullptr;
  if (!req.connect_to.empty()) {
    connect_to = curl_slist_append(nullptr, req.connect_to.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);  // each forward carries one connection
  }
  ScopeGuard free_connect_to([&] { curl_slist_free_all(connect_to); });
  curl_slist* headers = nullptr;
  for (const std::string& line : req.headers) headers = curl_slist_append(headers, line.c_str());
  ScopeGuard free_headers([&] { curl_slist_free_all(headers); });
  if (headers != nullptr) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

  auto started = Clock::now();
  CURLcode rc = curl_easy_perform(h);
  out->elapsed = std::chrono::duration_cast<Duration>(Clock::now() - started);
  curl_off_t pretransfer = 0;
  curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  out->sent = pretransfer > 0;
  if (rc == CURLE_ABORTED_BY_CALLBACK) return Status::Cancelled("interrupted");
  if (rc == CURLE_OPERATION_TIMEDOUT) return Status::Timeout("no answer within " + FormatDuration(req.timeout));
  if (rc != CURLE_OK) return Status::Failed(errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc));
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
  return Status::Ok();
}

}  // namespace harness
