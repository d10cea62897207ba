// Convergence judging: is a namespace's deploy settled, still settling, or failed?
//
// Pure logic over a snapshot of what Docker reported (services, tasks, container health),
// so that it can be unit-tested from recorded `docker` output. The strict rule: every
// expected service exists and runs N/N tasks, no update or rollback is in progress, every
// container with a healthcheck is healthy. A service whose tasks keep failing
// (kCrashLoopFailures failed tasks) or a rejected task fails at once.
//
// Thread-safety: pure; any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/deadline.h"

#include "base/status.h"

namespace harness {

struct ServiceState {
  std::string name;           // full Swarm name, "<namespace>_<service>"
  int desired = 0;            // replicas asked for (a global service: its tasks meant to run)
  bool global = false;        // mode global: `desired` counts its tasks, so 0 is not yet
  std::string update_state;   // "", "updating", "completed", "paused", "rollback_started", ...
};

struct TaskState {
  std::string id;
  std::string service;        // full Swarm name
  std::string name;           // "<service>.<slot>"
  std::string desired_state;  // "Running", "Shutdown"
  std::string current_state;  // "Running 3 seconds ago", "Failed 1 second ago", ...
  std::string error;
};

struct ContainerState {
  std::string id;
  std::string service;        // full Swarm name (label com.docker.swarm.service.name)
  std::string task_id;        // label com.docker.swarm.task.id
  std::string status;         // "Up 3 seconds (healthy)"
};

struct ConvergeSnapshot {
  std::vector<ServiceState> services;
  std::vector<TaskState> tasks;
  std::vector<ContainerState> containers;
};

struct Judgement {
  enum class Kind { kPending, kConverged, kFailed };
  Kind kind = Kind::kPending;
  std::string reason;                  // one line: what is still missing, or what failed
  std::vector<std::string> evidence;   // task errors and the like
};

constexpr int kCrashLoopFailures = 3;

// A task counts as running when Swarm says Running, or says Starting while its container
// is already healthy (Swarm holds a task with a healthcheck in Starting until healthy, and
// the manager learns of it a few hundred milliseconds after the container's own status).
// `expected` lists the full service names the compose files define. A task of a service
// without a healthcheck counts as settled only once it has been seen running for `settle`
// (`running_for`, by task id, says for how long): a container that starts and crashes a
// second later is not a converged deploy.
Judgement JudgeConvergence(const ConvergeSnapshot& snap, const std::vector<std::string>& expected,
                           const std::map<std::string, Duration>& running_for = {},
                           Duration settle = Duration(0));

// Parsers for the output of the commands SwarmRuntime issues:
//   docker stack ps --no-trunc --format '{{json .}}'
//   docker ps --no-trunc --format '{{json .}}'
Status ParseStackPs(const std::string& out, std::vector<TaskState>* tasks);
//   docker service inspect --format '{{.Spec.Name}}|<replicas or "global">|<update state>'
//   (kServiceInspectFormat), one line per service that exists. A global service's desired
//   count is its tasks meant to run, so parse the tasks first.
extern const char* const kServiceInspectFormat;
void ParseServiceInspect(const std::string& out, const std::vector<TaskState>& tasks,
                         std::vector<ServiceState>* services);
Status ParseDockerPs(const std::string& out, std::vector<ContainerState>* containers);

// The same snapshot from the Engine API's answers (JSON arrays): GET /services, GET /tasks
// (of those services) and GET /containers/json, each filtered to the namespace. Task
// states read as the CLI prints them ("running" → "Running"), tasks are named
// "<service>.<slot>" (or "<service>.<node id>" for a global service), and a global
// service's desired count is its tasks meant to run.
Status ParseApiSnapshot(const std::string& services, const std::string& tasks, const std::string& containers,
                        ConvergeSnapshot* snap);

// "healthy", "unhealthy", "starting" or "" (no healthcheck) from a `docker ps` status.
std::string HealthOf(const std::string& status);

}  // namespace harness
