#include "run/run_host.h"

#include <strings.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/files.h"
#include "base/strings.h"
#include "base/time.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

}  // namespace

Status RunLog::Open(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  path_ = path;
  errno = 0;
  file_.open(path, std::ios::app);
  if (!file_) {
    return Status::Infra("cannot open the run log " + path + (errno != 0 ? ": " + std::string(std::strerror(errno)) : ""));
  }
  return Status::Ok();
}

void RunLog::Line(const std::string& text, bool to_console) {
  std::string clean = redactor_->Apply(text);
  std::lock_guard<std::mutex> lock(mu_);
  if (file_.is_open() && status_.ok()) {
    errno = 0;
    file_ << IsoTime(std::chrono::system_clock::now()) << " " << clean << "\n" << std::flush;
    if (!file_) {
      status_ = Status::Infra("cannot write the run log " + path_ +
                              (errno != 0 ? ": " + std::string(std::strerror(errno)) : "") +
                              " (later lines are on the console only)");
      if (progress_) progress_(status_.message());
    }
  }
  if (to_console && progress_) progress_(clean);
}

Status RunLog::status() {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

RunHost::RunHost(Runtime* swarm, HttpClient* http, std::string ns,
                 std::vector<std::string> services, std::map<std::string, std::string> secrets,
                 std::string files_dir, RunLog* log, const Redactor* redactor,
                 std::map<std::string, std::string> renamed)
    : swarm_(swarm), http_(http), ns_(std::move(ns)), services_(std::move(services)), renamed_(std::move(renamed)),
      secrets_(std::move(secrets)), files_dir_(std::move(files_dir)), log_(log), redactor_(redactor) {}

bool RunHost::Routes(const std::string& host) const {
  for (const auto& d : domains_) {
    if (strcasecmp(d.c_str(), host.c_str()) == 0) return true;
  }
  return false;
}

Result<HttpResponse> RunHost::Http(HttpRequest req, Deadline deadline) {
  auto url = ParseHttpUrl(req.url);
  if (!url.ok()) return url.status();
  if (Routes(url->host)) return ThroughProxy(std::move(req), *url, deadline);
  if (url->scheme == "https") {
    return Status::InvalidArgument("https:// reaches names the recipe's router rules give, through the proxy; " +
                                   url->host + " is none of them (a service is reached as http://<service>:<port>)");
  }
  auto container = Container(url->host, deadline);
  if (!container.ok()) return container.status();
  auto addr = swarm_->AddressOf(*container, deadline, cancel());
  if (!addr.ok()) return addr.status();
  bool has_host = false;
  for (const auto& [k, v] : req.headers) has_host = has_host || strcasecmp(k.c_str(), "host") == 0;
  if (!has_host) req.headers.emplace_back("Host", url->host + ":" + std::to_string(url->port));
  std::string original = req.url;
  req.url = "http://" + *addr + ":" + std::to_string(url->port) + url->path;
  req.via = container->node;  // the address is the node's own: connect from there
  nlohmann::json call = {{"http", req.method + " " + original}};
  return Send(std::move(req), deadline, std::move(call));
}

Result<HttpResponse> RunHost::Send(HttpRequest req, Deadline deadline, nlohmann::json call) {
  Duration left = deadline.remaining();
  if (left < req.timeout) req.timeout = std::max(left, Duration(1));
  auto r = http_->Send(req, cancel());
  if (r.ok()) {
    call["status"] = r->status;
    call["elapsed_ms"] = r->elapsed.count();
  } else {
    call["error"] = r.status().message();
  }
  Record(std::move(call));
  return r;
}

Result<HttpResponse> RunHost::ThroughProxy(HttpRequest req, const UrlParts& url, Deadline deadline) {
  if (!proxy_) {
    return Status::Infra(url.host + " is reached through the Swarm's proxy, and there is none: no service on the "
                         "`proxy` network publishes port 443 (deploy the proxy, or give --proxy)");
  }
  req.connect = url.scheme == "https" ? proxy_->https : proxy_->http;
  if (req.connect.empty()) {
    return Status::Infra("the proxy (" + proxy_->how + ") publishes no port for " + url.scheme);
  }
  req.ca_file = proxy_->ca_file;
  req.via = swarm_->target();
  nlohmann::json c = {{"http", req.method + " " + req.url}, {"through", "proxy " + req.connect}};
  for (const auto& [k, v] : req.headers) {
    if (strcasecmp(k.c_str(), "host") == 0) c["host"] = v;  // sent instead of the URL's
  }
  return Send(std::move(req), deadline, std::move(c));
}

Result<ProcessResult> RunHost::Exec(const std::string& service, const std::vector<std::string>& argv,
                                    Deadline deadline) {
  auto container = Container(service, deadline);
  if (!container.ok()) return container.status();
  auto r = swarm_->Exec(*container, argv, deadline, cancel());
  nlohmann::json c = {{"exec", service + ": " + QuoteArgv(argv)}};
  if (r.ok()) {
    c["outcome"] = r->Describe();
  } else {
    c["error"] = r.status().message();
  }
  Record(c);
  return r;
}

Result<std::string> RunHost::Logs(const std::string& service, int tail, Deadline deadline) {
  if (Status s = Known(service); !s.ok()) return s;
  return swarm_->Logs(ns_, Key(service), tail, deadline, cancel());
}

Result<std::string> RunHost::Secret(const std::string& name) {
  auto it = secrets_.find(name);
  if (it != secrets_.end()) return it->second;
  std::vector<std::string> known;
  for (const auto& [k, v] : secrets_) known.push_back(k);
  return Status::NotFound("no secret named '" + name + "' (declared: " +
                          (known.empty() ? "none" : Join(known, ", ")) + ")");
}

Status RunHost::Artifact(const std::string& name, const std::string& content) {
  bool ok = !name.empty() && name.size() <= 100 && name[0] != '.';
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_');
  }
  if (!ok) return Status::InvalidArgument("bad artifact name '" + name + "' (letters, digits, . - _)");
  std::error_code ec;
  fs::create_directories(files_dir_, ec);
  if (ec) return Status::Infra("cannot create the artifact folder " + files_dir_ + ": " + ec.message());
  return WriteFileAtomic(files_dir_ + "/" + name, redactor_->Apply(content));
}

Status RunHost::Known(const std::string& service) const {
  for (const auto& s : services_) {
    if (s == service) return Status::Ok();
  }
  return Status::NotFound("'" + service + "' is not a service of this deploy (services: " +
                          Join(services_, ", ") + ")");
}

Result<Runtime::Located> RunHost::Container(const std::string& service, Deadline deadline) {
  if (Status s = Known(service); !s.ok()) return s;
  return swarm_->ContainerOf(ns_, Key(service), deadline, cancel());
}

std::string RunHost::Key(const std::string& service) const {
  auto it = renamed_.find(service);
  return it == renamed_.end() ? service : it->second;
}

void RunHost::Record(nlohmann::json c) {
  if (calls_.size() < 500) calls_.push_back(std::move(c));
}

}  // namespace harness
