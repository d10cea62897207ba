// Target: where a run's commands go — this machine, or a Swarm manager over SSH.
//
// Values; any thread. Spelled "local" or "ssh://user@host:port" (user and port optional).
#pragma once

#include <string>

#include "base/status.h"

namespace harness {

struct Target {
  bool local = true;
  std::string user;   // empty: the local user name
  std::string host;   // a host name, an IPv4 address or an IPv6 address (without brackets)
  int port = 22;

  // "local", or "ssh://user@host:port" with the user and port always spelled out.
  std::string Describe() const;
};

// Parses --target. Host names and user names are checked character by character, so that
// nothing a shell or ssh would interpret can pass.
Result<Target> ParseTarget(const std::string& spec);

}  // namespace harness
