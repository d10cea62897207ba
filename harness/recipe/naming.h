// Names: validation of names that come from outside, and the per-run namespace.
//
// Recipe names, versions and domains can come from untrusted pull requests; every one is
// validated here before it reaches a command. A cold run's namespace is short, unique and
// keeps every derived Swarm name within Docker's limits (service names ≤ 63 characters,
// secret and config names ≤ 64, both including the "<namespace>_" prefix).
//
// Pure functions (the namespace generator reads the clock and randomness); any thread.
#pragma once

#include <string>

#include "base/status.h"
#include "runtime/compose.h"

namespace harness {

constexpr size_t kMaxServiceName = 63;
constexpr size_t kMaxSecretName = 64;
constexpr size_t kNamespacePrefix = 12;  // characters of the recipe name kept in a namespace

// Lower-case letters, digits and '-', starting with a letter or digit, at most 40 long.
Status ValidateRecipeName(const std::string& name);
// A DNS name: labels of letters, digits and '-', separated by dots.
Status ValidateDomain(const std::string& domain);

// "<up to 12 characters of the recipe>-<6 random base-36 characters>", e.g. "web-k3x9a2".
std::string NewNamespace(const std::string& recipe);

// A run's id: "<UTC stamp>-<namespace>", e.g. "20261206T051200-web-k3x9a2". A namespace
// that is not new for this run (a warm deploy's, which every promotion reuses) gets four
// random characters more, so that two runs within one second never share an id.
std::string NewRunId(const std::string& ns, bool namespace_is_new);

// Checks every Swarm name the stack will derive; lists all offenders in one message.
Status CheckDerivedNames(const std::string& ns, const ComposeObjects& objects);

// A random secret of `length` characters from the charset ("alnum" or "hex").
std::string GenerateSecret(int length, const std::string& charset);

}  // namespace harness
