// The pieces a run hands to others: its log (RunLog) and what its hooks reach (RunHost).
//
// RunLog: every progress line, command and print() of the run, redacted, into run.log
// and (progress lines) to the console; a run.log that cannot be written is said on the
// console and kept as status() for the run's outcome. Thread-safe.
// RunHost: the ScriptHost of a run — HTTP, exec and logs reach the deploy's services
// through the run's Runtime; secrets and artifacts are the run's own. One hook at a time.
#pragma once

#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/redact.h"
#include "run/run.h"
#include "runtime/runtime.h"
#include "script/host.h"

namespace harness {

class RunLog {
 public:
  RunLog(const Redactor* redactor, ProgressFn progress)
      : redactor_(redactor), progress_(std::move(progress)) {}
  // Opens run.log (appending). Infra when it cannot be opened.
  Status Open(const std::string& path);
  // Writes a line to run.log, and to the console when `to_console`. A line that cannot be
  // written to run.log is said on the console, with why, the first time.
  void Line(const std::string& text, bool to_console);
  // Ok, or the first failure to write run.log once it was open.
  Status status();

 private:
  const Redactor* redactor_;
  ProgressFn progress_;
  std::string path_;
  std::ofstream file_;
  Status status_;
  std::mutex mu_;
};

// How requests by domain reach the Swarm's reverse proxy. `https` and `http` are
// "address:port" as the target sees them ("" when not published); `how` says where they
// came from, for messages.
struct ProxyAccess {
  std::string https;
  std::string http;
  std::string ca_file;   // "" for the system's CAs
  std::string how;
};

class RunHost : public ScriptHost {
 public:
  RunHost(Runtime* swarm, HttpClient* http, std::string ns, std::vector<std::string> services,
          std::map<std::string, std::string> secrets, std::string files_dir, RunLog* log,
          const Redactor* redactor, std::map<std::string, std::string> renamed = {});

  // Requests whose host is one of `domains` (the names the recipe's router rules give) go
  // to the proxy, with the name as SNI and Host, the certificate verified. Without a
  // proxy they fail, saying why.
  void RouteDomains(std::vector<std::string> domains, std::optional<ProxyAccess> proxy) {
    domains_ = std::move(domains);
    proxy_ = std::move(proxy);
  }
  bool Routes(const std::string& host) const;

  // The HTTP and exec calls made since the last ClearCalls(), for the proof packet.
  const nlohmann::json& calls() const { return calls_; }
  void ClearCalls() { calls_ = nlohmann::json::array(); }

  Result<HttpResponse> Http(HttpRequest req, Deadline deadline) override;
  Status Serves(const std::string& name, const std::string& path, Deadline deadline) override;  // serving_check.cc
  Result<ProcessResult> Exec(const std::string& service, const std::vector<std::string>& argv,
                             Deadline deadline) override;
  Result<std::string> Logs(const std::string& service, int tail, Deadline deadline) override;
  Result<std::string> Secret(const std::string& name) override;
  Status Artifact(const std::string& name, const std::string& content) override;
  void Print(const std::string& line) override { log_->Line("print: " + line, false); }
  const CancelToken& cancel() override { return CancelToken::Signals(); }
  // The key a service was deployed under (its own name unless staging renamed it).
  std::string Key(const std::string& service) const;

 private:
  Status Known(const std::string& service) const;
  Result<Runtime::Located> Container(const std::string& service, Deadline deadline);
  Result<HttpResponse> ThroughProxy(HttpRequest req, const UrlParts& url, Deadline deadline);
  // Sends `req` within `deadline` and records `call` with its outcome for the packet.
  Result<HttpResponse> Send(HttpRequest req, Deadline deadline, nlohmann::json call);
  void Record(nlohmann::json c);

  Runtime* swarm_;
  HttpClient* http_;
  std::string ns_;
  std::vector<std::string> services_;
  std::map<std::string, std::string> renamed_;
  std::map<std::string, std::string> secrets_;
  std::string files_dir_;
  RunLog* log_;
  const Redactor* redactor_;
  nlohmann::json calls_ = nlohmann::json::array();
  std::vector<std::string> domains_;
  std::optional<ProxyAccess> proxy_;
};

}  // namespace harness
