// The command line's shared parts: the global options every command reads, and the
// Context a command runs in — where commands run (here, or the target over SSH), the Docker
// CLI there, the Swarm's other nodes, progress on the console, and the options every run
// of this process starts from.
//
// main() parses the options, then OpenContext() builds the Context once for the command
// chosen; the Context owns everything it points to and outlives the command. Commands
// print their results on stdout and their progress through `progress`.
//
// Thread-safety: a Context is built and destroyed by main's thread; `progress` and
// `events` may be used from the runs' threads, `docker` and `reach` as their own
// contracts say.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "doctor/doctor.h"
#include "events/events.h"
#include "exec/executor.h"
#include "exec/ssh_executor.h"
#include "exec/target.h"
#include "ledger/ledger.h"
#include "run/run.h"
#include "runtime/abra.h"
#include "runtime/docker.h"
#include "runtime/nodes.h"

namespace harness {

struct GlobalOptions {
  std::string recipes = "recipes";
  std::string artifacts = "artifacts";
  std::string docker = "docker";
  std::string domain_suffix = "harness.localhost";
  std::string proxy;      // --proxy host:port (the proxy's https entry as the target sees it)
  std::string proxy_ca;   // --proxy-ca FILE
  std::string state = DefaultStateDir();
  bool json = false;
  bool quiet = false;
  bool plain = false;
  std::string target = "local";
  SshOptions ssh;
  std::string runtime = "swarm";
  std::string pull;  // "" the recipe's pull policy
  size_t script_memory_mib = ScriptLimits::kDefaultMemory >> 20;  // per recipe script
  AbraOptions abra;
  std::string compose_policy;  // the operator's compose policy file ("" the default policy)
};

// Registers the options before the command's name (--recipes, --target, --json, …).
void AddGlobalOptions(CLI::App* app, GlobalOptions* g);

struct Context {
  GlobalOptions g;
  Target target;
  std::unique_ptr<Executor> exec;
  // Set when the target could not be reached and the command reports that itself (doctor);
  // `exec` is null then.
  std::optional<Status> target_error;
  // What is known about the target's connection, for doctor.
  std::vector<Finding> target_findings;
  std::unique_ptr<Docker> docker;
  // The target's Engine API (DockerApi::ForLocalCli, or ThroughSsh for an SSH target),
  // opened on first use; it gives null when the API does not reach the CLI's daemon. Null
  // when the CLI is chosen (--docker) or no target is needed.
  std::unique_ptr<DockerApiSource> api;
  std::unique_ptr<NodeReach> reach;
  EventBus events;
  std::unique_ptr<EventSink> console;
  ProgressFn progress;
  // The options every run of this process starts from.
  RunOptions base;
};

// What OpenContext must provide.
struct ContextNeeds {
  bool target = true;              // false: commands run here whatever --target says
  bool tolerate_no_target = false;  // an unreachable target is the command's to report
};

// Validates the global options, connects to the target (once, up front, so that a bad host
// key, key or address is reported before anything starts) and starts the console.
// InvalidArgument for bad options, Infra for a target that cannot be reached.
Result<std::unique_ptr<Context>> OpenContext(const GlobalOptions& g, ContextNeeds needs);

// The recipes of the folder and its catalogue; a bad catalogue is reported and lists none.
std::vector<std::string> ListRecipes(const GlobalOptions& g);

// Opens the ledger of the state folder (Infra when it cannot be opened).
Result<std::unique_ptr<Ledger>> OpenLedger(const GlobalOptions& g);

}  // namespace harness
