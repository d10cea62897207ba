#include "net/curl_transfer.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "base/scope_guard.h"
#include "base/strings.h"

namespace harness {
namespace {

struct Sink {
  TransferResponse* resp;
  const TransferRequest* req;
  long status = 0;       // of the response being read
  bool stopped = false;  // on_body ended the exchange
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  if (s->req->on_body && s->status >= 200 && s->status < 300) {
    if (s->req->on_body(std::string_view(data, len))) return len;
    s->stopped = true;
    return 0;  // libcurl ends the exchange with CURLE_WRITE_ERROR
  }
  size_t max_body = s->req->max_body;
  size_t room = max_body > s->resp->body.size() ? max_body - s->resp->body.size() : 0;
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
    auto space = line.find(' ');
    s->status = space == std::string::npos ? 0 : std::atol(line.c_str() + space + 1);
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
  return static_cast<Sink*>(user)->req->cancel->cancelled() ? 1 : 0;
}

// curl_easy_perform, but waiting on the cancel token's descriptor beside the connection,
// so that a cancellation ends an exchange that is waiting for the server at once.
CURLcode Drive(CURLM* multi, CURL* h, const CancelToken* cancel) {
  if (curl_multi_add_handle(multi, h) != CURLM_OK) return CURLE_FAILED_INIT;
  ScopeGuard remove([&] { curl_multi_remove_handle(multi, h); });
  int cancel_fd = cancel != nullptr ? cancel->fd() : -1;
  while (true) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) return CURLE_FAILED_INIT;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) return msg->data.result;
    }
    if (cancel != nullptr && cancel->cancelled()) return CURLE_ABORTED_BY_CALLBACK;
    curl_waitfd extra{cancel_fd, CURL_WAIT_POLLIN, 0};
    if (curl_multi_poll(multi, &extra, cancel_fd >= 0 ? 1 : 0, 1000, nullptr) != CURLM_OK) {
      return CURLE_FAILED_INIT;
    }
  }
}

// The fields of the first certificate of the chain libcurl read (CURLOPT_CERTINFO): the
// server's own.
std::vector<std::pair<std::string, std::string>> LeafCertificate(CURL* h) {
  std::vector<std::pair<std::string, std::string>> fields;
  curl_certinfo* info = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &info) != CURLE_OK || info == nullptr || info->num_of_certs < 1) {
    return fields;
  }
  for (curl_slist* f = info->certinfo[0]; f != nullptr; f = f->next) {
    std::string line = f->data;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    fields.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return fields;
}

}  // namespace

CurlTransfer::CurlTransfer() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
  multi_ = curl_multi_init();
}

CurlTransfer::~CurlTransfer() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

Status CurlTransfer::Perform(const TransferRequest& req, TransferResponse* out) {
  auto* h = static_cast<CURL*>(curl_);
  auto* multi = static_cast<CURLM*>(multi_);
  if (h == nullptr || multi == nullptr) return Status::Infra("libcurl could not be initialised");
  *out = TransferResponse();
  Sink sink{out, &req};
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
  if (!req.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, req.ca_file.c_str());
  if (req.connect_only) curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  if (req.read_certificate) {
    curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
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
  CURLcode rc = Drive(multi, h, req.cancel);
  out->elapsed = std::chrono::duration_cast<Duration>(Clock::now() - started);
  curl_off_t pretransfer = 0;
  curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  out->sent = pretransfer > 0;
  if (rc == CURLE_WRITE_ERROR && sink.stopped) rc = CURLE_OK;
  out->unverified = rc == CURLE_PEER_FAILED_VERIFICATION;
  if (req.read_certificate && rc == CURLE_OK) out->certificate = LeafCertificate(h);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return Status::Cancelled("interrupted");
  if (rc == CURLE_OPERATION_TIMEDOUT) return Status::Timeout("no answer within " + FormatDuration(req.timeout));
  if (rc != CURLE_OK) return Status::Failed(errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc));
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
  return Status::Ok();
}

}  // namespace harness
