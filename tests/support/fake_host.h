// FakeHost: a ScriptHost for unit tests. Answers come from tables the test fills in;
// every call is recorded.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "script/host.h"

namespace harness::testing {

class FakeHost : public ScriptHost {
 public:
  std::map<std::string, HttpResponse> http_answers;   // keyed by URL
  std::map<std::string, std::string> secrets;
  std::map<std::string, std::string> artifacts;
  std::vector<std::string> printed;
  std::vector<std::string> calls;
  ProcessResult exec_answer;
  std::string logs_answer;
  int http_failures_before_success = 0;

  Result<HttpResponse> Http(HttpRequest req, Deadline) override {
    calls.push_back("http " + req.method + " " + req.url);
    if (http_failures_before_success > 0) {
      --http_failures_before_success;
      return Status::Failed("Connection refused");
    }
    auto it = http_answers.find(req.url);
    if (it == http_answers.end()) return Status::Failed("no such service in the fake");
    return it->second;
  }
  Status serves_answer;
  Status Serves(const std::string& name, const std::string& path, Deadline) override {
    calls.push_back("serves " + name + path);
    return serves_answer;
  }
  Result<ProcessResult> Exec(const std::string& service, const std::vector<std::string>& argv,
                             Deadline) override {
    calls.push_back("exec " + service + " " + QuoteArgv(argv));
    return exec_answer;
  }
  Result<std::string> Logs(const std::string& service, int tail, Deadline) override {
    calls.push_back("logs " + service + " " + std::to_string(tail));
    return logs_answer;
  }
  Result<std::string> Secret(const std::string& name) override {
    auto it = secrets.find(name);
    if (it == secrets.end()) return Status::NotFound("no secret named '" + name + "'");
    return it->second;
  }
  Status Artifact(const std::string& name, const std::string& content) override {
    artifacts[name] = content;
    return Status::Ok();
  }
  void Print(const std::string& line) override { printed.push_back(line); }
  const CancelToken& cancel() override { return CancelToken::Signals(); }
};

}  // namespace harness::testing
