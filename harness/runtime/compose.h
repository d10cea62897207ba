// Compose staging: prepares a recipe's compose files for one run's namespace.
//
// Reads each compose file of the recipe, adds the harness labels (harness.run,
// harness.namespace) to every service (service and container labels) and to every network,
// volume, config and secret the stack will create, and writes the result into the run's
// private staging folder (never into the recipe), together with a copy of each file that
// a config or secret is made from (`file: ./configs-<key>`), so that the folder is
// complete on its own and can be copied to a remote target.
// The staged files are interpolated: every value holding a `$` is written as the string
// the run's environment makes of it (its `$` doubled), so the deploy needs no environment
// of its own and cannot take a value from the process that runs it.
// It also reports the names the stack will derive, so that their lengths can be checked
// before anything is created.
//
// Writes only into the staging folder the caller owns; the results are values. Any thread,
// one staging folder per call.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace harness {

// What a service shows to the rest of the Swarm: the names it answers to on networks it
// shares with other stacks, the ports it publishes, and the domains its router labels
// claim. Collision checks compare these with what is already running.
struct ServiceFootprint {
  std::string service;                                        // short name
  std::map<std::string, std::vector<std::string>> external_aliases;  // network → DNS names
  std::vector<int> published_ports;
  std::vector<std::string> domains;                           // from Host(`…`) rules
};

struct ComposeObjects {
  std::vector<std::string> services;             // short names, e.g. "app"
  std::map<std::string, std::string> secrets;    // key → Swarm name after interpolation
  std::map<std::string, std::string> configs;    // key → Swarm name after interpolation
  std::vector<std::string> external_secrets;     // keys declared `external: true`
  std::vector<std::string> volumes;
  std::vector<std::string> networks;
  std::vector<std::string> images;               // after interpolation
  std::map<std::string, std::string> external_networks;  // key → Swarm network name
  std::vector<ServiceFootprint> footprints;
  // Each service's deploy labels as the recipe wrote them, after interpolation
  // (service → key → value): "coop-cloud.<ns>.version", "….timeout", Traefik's.
  std::map<std::string, std::map<std::string, std::string>> deploy_labels;
  // With unique shared names: service → the key it was deployed under.
  std::map<std::string, std::string> renamed;
};

struct StageOptions {
  // Services on a shared (external) network are deployed as "<namespace>-<service>", so
  // that on that network they answer to a name no other stack uses; inside the stack they
  // keep answering to their own name (an alias on its own networks). For long-lived
  // deploys beside live services (the warm canon).
  bool unique_shared_names = false;
};

struct StagedCompose {
  std::vector<std::string> files;  // absolute paths of the staged files, in order
  ComposeObjects objects;
};

// REQUIRES: `stage_dir` exists and belongs to this run.
Result<StagedCompose> StageCompose(const std::string& recipe_dir,
                                   const std::vector<std::string>& files,
                                   const std::map<std::string, std::string>& labels,
                                   const std::map<std::string, std::string>& env,
                                   const std::string& namespace_name,
                                   const std::string& stage_dir, const StageOptions& options = {});

// Rewrites the `image` of every service of the staged files whose image (after
// interpolation with `env`) is a key of `pinned` to its value, e.g. the digest-pinned
// reference the run pulled. REQUIRES: `staged` came from StageCompose with `env`.
Status PinImages(const StagedCompose& staged, const std::map<std::string, std::string>& env,
                 const std::map<std::string, std::string>& pinned);

// The Swarm service name of a recipe's service: "<namespace>_<key>".
std::string SwarmServiceName(const std::string& ns, const ComposeObjects& objects, const std::string& service);

// The domains of router rules in a label value: Host(`a`) || HostSNI(`b`) → {a, b}.
std::vector<std::string> HostRuleDomains(const std::string& value);
// The names an HTTP router rule routes: every name of each Host(`a`) or Host(`a`, `b`)
// (not HostSNI, HostRegexp or HostHeader), each a host name (letters, digits, '.', '-';
// others are left out), in order, without repeats.
std::vector<std::string> RouterHosts(const std::string& rule);

// Compose's interpolation, as `docker stack deploy` does it: `$$`, `$VAR`, `${VAR}`,
// `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}` and
// `${VAR+alt}` (defaults and alternatives may nest). Interpolate leaves out an expression
// that demands a missing value or is malformed; InterpolateStrictly refuses it
// (InvalidArgument naming the expression and the variable), as the deploy would.
std::string Interpolate(const std::string& text, const std::map<std::string, std::string>& env);
Result<std::string> InterpolateStrictly(const std::string& text, const std::map<std::string, std::string>& env);

// The same, but nullopt once the result grows past `limit` bytes (a short text can name a
// long variable many times): for text from untrusted files.
std::optional<std::string> InterpolateAtMost(const std::string& text,
                                             const std::map<std::string, std::string>& env,
                                             size_t limit);

// Reads KEY=VALUE lines (comments and blank lines skipped, optional quotes removed).
std::map<std::string, std::string> ParseEnvFile(const std::string& content);

}  // namespace harness
