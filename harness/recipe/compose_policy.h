// Compose policy: what a recipe's compose files ask of the Swarm that an untrusted source
// (a pull-request head) may not have unless the operator allows it.
//
// CheckComposePolicy reads every compose file a run would deploy, as the deploy reads it
// (merges applied, values interpolated with the run's environment: compose_tree.h), and
// returns each violation as a PolicyFinding naming file, service and key. Refused by
// default, each under a stable rule id (docs/policy.md has the full table):
//   host-bind            a bind mount of a host path (short `/h:/c`, `./x:/c`, `~/x:/c`, or
//                        long `type: bind`), or a top-level volume whose `driver_opts`
//                        mount a host path or device (`o: bind`, `type: none`, `device: /…`)
//   docker-socket        the same, when the path may expose the Docker daemon's socket
//                        (host_path.h: ReachesDockerSocket; a relative path climbing out of
//                        its folder counts); never covered by allowing host-bind
//   privileged           `privileged` not false
//   cap-add              each `cap_add` entry
//   devices              each `devices` entry
//   host-network         `network_mode: host`, or joining the Swarm's `host` network
//   host-pid, host-ipc   `pid: host`, `ipc: host`
//   userns               any `userns_mode`
//   unconfined           `security_opt` with `…unconfined` or `label:disable`
//   sysctls              each `sysctls` entry
//   low-host-port        a port below 1024 published in host mode
//   path-outside-recipe  a file the deploy reads from this machine that is not inside the
//                        recipe folder once `..` and symbolic links are followed: configs'
//                        and secrets' `file:`, `env_file`, `extends.file`, `include`, and
//                        the compose files themselves
//   foreign-object       a secret, config or volume whose Swarm name is not the run's
//                        own (does not start with "<STACK_NAME>_"): another stack's
//   registry             an image from a registry not on the policy's list (when set)
//
// Nothing in the files is trusted. The environment passed in is applied, not judged: values
// are judged after interpolation, so a head's `.env.sample` cannot hide a path behind a
// variable. Host paths of binds are judged lexically (they are paths on the node, not
// here); files read here are judged where they really are.
//
// Values and plain functions. CheckComposePolicy reads the recipe folder and the files it
// names (never writes); LoadComposePolicy reads one file. Any thread.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace harness {

struct PolicyFinding {
  std::string file;     // as the recipe names it: "compose.yml", "overlays/compose.smtp.yml"
  std::string service;  // "" for top-level objects (volumes, configs, secrets, include)
  std::string key;      // "volumes", "cap_add", …; top-level: "volumes.<name>.driver_opts",
                        // "configs.<name>.file", "secrets.<name>.file", "include";
                        // "" for a compose file that is itself outside the recipe
  std::string detail;   // what was asked, interpolated: "/var/run/docker.sock:/sock:ro"
  std::string rule;     // stable id: "docker-socket", …

  // One line for consoles and comments:
  // "compose.yml: service app: volumes: /:/host (host-bind)". Control characters in every
  // part (a service's or an object's name too) are escaped and a long part is shortened.
  std::string Describe() const;
};

bool operator==(const PolicyFinding& a, const PolicyFinding& b);

// The rule ids, in the order of the table above.
const std::vector<std::string>& PolicyRuleIds();

// The operator's policy. The default (no file) allows nothing beyond the defaults and any
// registry.
struct ComposePolicy {
  std::vector<std::string> allowed_registries;  // "docker.io", "127.0.0.1:5000"; empty: any
  // recipe → what is allowed for it: a rule id ("host-bind": for every service and
  // top-level object) or "<service>:<rule id>" (for that service only).
  std::map<std::string, std::set<std::string>> allow;

  // Whether `recipe` may have `finding`.
  bool Allows(const std::string& recipe, const PolicyFinding& finding) const;
};

// Reads the policy file at `path`, YAML:
//
//   registries:              # images only from these registries; absent or []: any
//     - docker.io            # Docker Hub, also for short names ("nginx:1")
//     - 127.0.0.1:5000
//   allow:                   # per recipe (the catalogue's name), rules let through
//     backup-bot:
//       - docker-socket      # for every service of backup-bot
//     monitoring:
//       - node-exporter:host-pid   # for its service node-exporter only
//
// A missing file is the default policy. InvalidArgument naming the file (and the line) for
// one that cannot be read, is not YAML, or has an unknown key, an unknown rule id, or a
// registry that is not a host[:port].
Result<ComposePolicy> LoadComposePolicy(const std::string& path);

// Every violation in `files` (relative to `recipe_dir`, as COMPOSE_FILE names them, in
// order) and in the recipe's files they pull in (`extends`, `include`) that `policy` does
// not allow for `recipe`. Grouped by file in the order read; within a file, service by
// service in document order, then the top-level objects, then ports (judged across files).
// `env` is the environment the files are interpolated with. InvalidArgument naming the
// file when one cannot be read or parsed (compose_tree.h).
// REQUIRES: `env` is everything the deploy interpolates with: a variable the compose uses
// but `env` lacks is judged empty here, while `docker stack deploy` would take the value
// from its own process environment.
// The findings are judged from the files as they are now: the caller checks the same
// folder it then stages, and nothing may change the folder in between.
Result<std::vector<PolicyFinding>> CheckComposePolicy(const std::string& recipe_dir,
                                                      const std::vector<std::string>& files,
                                                      const std::map<std::string, std::string>& env,
                                                      const std::string& recipe,
                                                      const ComposePolicy& policy);

}  // namespace harness
