// Helpers for end-to-end tests: run the real harness binary against fixture recipes on
// the real local Swarm, and check that nothing of a namespace is left (with the
// independent checker of support/leftover_check.h, not the product's FindLeftovers).
#pragma once

#include <string>
#include <vector>

#include "runtime/swarm.h"
#include "support/leftover_check.h"

namespace harness::testing {

std::string SourceDir();
std::string HarnessBinary();
std::string FixtureRecipes();

struct HarnessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::string namespace_name;   // parsed from the progress lines
  std::string artifacts;        // the run's artifact folder
};

// Runs `docker <args>` on this machine to completion (bounded by `timeout`); REQUIREs that
// it could be started. The result says how it ended.
ProcessResult DockerCli(const std::vector<std::string>& args, Duration timeout = Duration(120000));

// Runs `harness <args>` to completion (bounded by `timeout`).
HarnessResult RunHarness(const std::vector<std::string>& args, Duration timeout);

// A harness process started in the background, with its stderr read line by line.
// The destructor kills it (SIGKILL) if it is still running and tears its namespace down,
// so a failing test leaves nothing behind.
class HarnessProcess {
 public:
  explicit HarnessProcess(const std::vector<std::string>& args);
  ~HarnessProcess();
  // Reads stderr until a line contains `text`; false if the process ended or time ran out.
  bool WaitForLine(const std::string& text, Duration timeout);
  // Keeps reading stderr for `d` (the progress lines tell which phase it is in).
  void ReadFor(Duration d);
  void Signal(int sig);
  // Waits for exit; returns the exit code (128+signal when killed by a signal), -1 on timeout.
  int Wait(Duration timeout);
  const std::string& err() const { return err_; }
  const std::string& namespace_name() const { return ns_; }
  // The destructor will not clean the namespace up (the test does it its own way).
  void ForgetNamespace() { forget_ = true; }

 private:
  void ReadSome(int timeout_ms);
  int pid_ = -1;
  int fd_ = -1;
  int exit_code_ = -1;
  std::string err_;
  size_t scanned_ = 0;
  std::string ns_;
  bool forget_ = false;
};

// The sweep folder (sweep-<time>) a sweep wrote under `artifacts`; "" when there is none.
std::string SweepDir(const std::string& artifacts);

// Everything of the namespace on this machine's node, by name and by label, as the
// independent checker sees it: CHECK_THAT(LeftoversOf(ns), NothingLeft()). An empty
// namespace is a problem of the scan, never "nothing left".
LeftoverScan LeftoversOf(const std::string& ns);
// The namespaces of the runs whose artifacts are in `artifacts` (each run folder's
// summary.json), for runs whose namespace the test did not see on stderr.
std::vector<std::string> NamespacesOfRuns(const std::string& artifacts);
// Removes whatever is left of a namespace (a safety net for failing tests): the product's
// teardown, then raw docker removal of anything the checker still finds.
void CleanUp(const std::string& ns);
// Whether `docker stack ls` lists the namespace.
bool StackExists(const std::string& ns);
// The shared networks the harness created that still exist (label harness.shared-network),
// read by the checker; a test that made one removes what is left with CleanUpSharedNetworks.
std::vector<std::string> SharedNetworksLeft();
void CleanUpSharedNetworks();

}  // namespace harness::testing

namespace harness::testing {

// Stops dockerd (SIGTERM, waiting for it to exit) and starts it again the way
// scripts/setup does, then waits until the Swarm node is ready. Returns false if Docker
// did not come back within `timeout`.
bool RestartDockerd(Duration timeout);
// Starts dockerd if it does not answer (a safety net after a failed restart test).
bool EnsureDockerd(Duration timeout);

}  // namespace harness::testing
