// Doctor: checks that this machine can run the harness, each finding with a fix hint.
//
// Docker answers; this node is a Swarm manager and every node is ready; the
// docker_gwbridge network exists (services are reached through it); the images the
// recipes need are present; free disk; the clock agrees with Docker's; the state folder
// and the ledger work; and no leftovers of dead runs wait to be reaped.
//
// RunDoctor() borrows the runtime and Docker it is given and owns nothing past the call.
// Thread-safety: one caller at a time; the rest are pure functions of the findings.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/swarm.h"

namespace harness {

struct Finding {
  enum class Level { kOk, kWarn, kFail };
  std::string check;
  Level level = Level::kOk;
  std::string detail;
  std::string fix;   // what to do about it (empty when ok)
};

class NodeReach;

struct DoctorOptions {
  std::string recipes_dir;
  std::string state_dir;
  std::string artifacts_dir;
  NodeReach* nodes = nullptr;  // when set, every other node of the Swarm is checked too
};

std::vector<Finding> RunDoctor(const DoctorOptions& opts, SwarmRuntime* swarm, Docker* docker);
// 0 when nothing failed (warnings allowed), 3 otherwise.
int DoctorExitCode(const std::vector<Finding>& findings);
std::string DoctorText(const std::vector<Finding>& findings);
nlohmann::json DoctorJson(const std::vector<Finding>& findings);

}  // namespace harness
