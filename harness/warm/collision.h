// Warm-canon namespaces, and the check that one can never collide with a live service.
//
// A warm-canon deploy outlives runs, beside the operator's live shared services. Before
// anything is created it is checked against the reserved-names policy (`warm/reserved.yaml`:
// what the harness must never touch or shadow) and against what actually runs on the
// Swarm: stack names, service names, the names services answer to on shared (external)
// networks, published ports and router domains. Parsing and judging are pure functions;
// ReadInventory() asks Docker.
//
// Thread-safety: the parsers and FindCollisions are pure; ReadInventory borrows Docker for
// the call. Any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/compose.h"
#include "runtime/docker.h"

namespace harness {

// warm/reserved.yaml. Patterns may use `*` (any run of characters).
struct ReservedPolicy {
  std::string namespace_prefix = "wc";            // warm-canon namespaces: <prefix>-<recipe>-<hash>
  std::string domain_suffix = "warm.harness.localhost";
  std::vector<std::string> stacks;                // stack names of live services
  std::vector<std::string> services;              // full Swarm service names
  std::vector<std::string> aliases;               // names on shared networks
  std::vector<std::string> domains;
  std::vector<int> ports;
};

// Reads the policy; a missing file is the default policy (nothing reserved). Unknown keys
// and wrong types are refused with the file and line.
Result<ReservedPolicy> LoadReservedPolicy(const std::string& path);

// "<prefix>-<up to 12 characters of the recipe>-<4 hex digits of a hash of the recipe>",
// e.g. "wc-keycloak-3f2a": the same for a recipe on every machine and every run, and
// unlike any name a person gives a live deploy (`warm-keycloak`, `keycloak`).
std::string WarmNamespace(const std::string& recipe, const std::string& prefix);
std::string WarmDomain(const std::string& ns, const ReservedPolicy& policy);

bool GlobMatch(const std::string& pattern, const std::string& text);

// What runs on the Swarm, as far as collisions go.
struct LiveService {
  std::string name;                                           // full Swarm name
  std::string stack;                                          // "" when not deployed as a stack
  std::map<std::string, std::vector<std::string>> aliases;    // network name → names it answers to
  std::vector<int> published_ports;
  std::vector<std::string> domains;
  std::map<std::string, std::string> labels;
};

struct Inventory {
  std::vector<LiveService> services;
  std::vector<std::string> stacks;
  std::vector<std::string> networks;                          // names
};

// From `docker service inspect` (a JSON array) and `docker network ls --format '{{json .}}'`.
Result<Inventory> ParseInventory(const std::string& services_json, const std::string& networks_lines);
Result<Inventory> ReadInventory(Docker* docker, PhaseLog* log, Deadline deadline);

// What a warm deploy would create and claim.
struct WarmPlan {
  std::string recipe;
  std::string version;
  std::string namespace_name;
  std::string domain;
  ComposeObjects objects;
};

struct Collision {
  std::string kind;     // reserved | stack | service | alias | port | domain | network
  std::string what;     // what of ours would collide
  std::string with;     // the live thing or the policy entry
  std::string message() const;
};

// Every collision of `plan` with the policy and the Swarm; empty when it is safe. The
// warm deploy's own services (stack == namespace) never collide with themselves.
std::vector<Collision> FindCollisions(const WarmPlan& plan, const Inventory& live, const ReservedPolicy& policy);

// One InvalidArgument naming every collision, or Ok.
Status CollisionStatus(const WarmPlan& plan, const std::vector<Collision>& collisions);

}  // namespace harness
