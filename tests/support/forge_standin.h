// ForgeStandin: runs tests/support/forge-standin, a stand-in Gitea/Forgejo API on loopback
// that records every call, for tests of the forge client and of serve.
//
// The object owns the child process: the destructor sends SIGTERM and reaps it (SIGKILL if
// it has not gone within a few seconds); the child also gets SIGTERM if the test process
// dies. It does not own `dir` (use a TempDir). The stand-in writes each call to
// DIR/calls.jsonl before answering, so Calls() sees every call whose answer has arrived.
// One test thread; Calls() and SetConfig() may also be called while other threads make
// requests.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace harness::testing {

class ForgeStandin {
 public:
  // Writes `config` (see the script's help for its keys) and starts the stand-in; returns
  // once it listens (at most 10 s). `dir` must exist.
  static Result<std::unique_ptr<ForgeStandin>> Start(const std::string& dir,
                                                     const nlohmann::json& config);
  ~ForgeStandin();
  ForgeStandin(const ForgeStandin&) = delete;
  ForgeStandin& operator=(const ForgeStandin&) = delete;

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // Replaces the configuration (atomically); the next request sees it.
  void SetConfig(const nlohmann::json& config);
  // Every recorded call, oldest first.
  std::vector<nlohmann::json> Calls() const;
  // The script's stderr and request log, for failure messages.
  std::string Log() const;

 private:
  ForgeStandin(std::string dir, int pid, int port) : dir_(std::move(dir)), pid_(pid), port_(port) {}

  std::string dir_;
  int pid_ = -1;
  int port_ = 0;
};

}  // namespace harness::testing
