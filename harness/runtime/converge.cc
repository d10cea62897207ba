#include "runtime/converge.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/docker.h"

namespace harness {
namespace {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int Int(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
}

// "tst_app.1" → "tst_app"; "tst_agent.s7e8ap05z2i1" → "tst_agent".
std::string ServiceOfTask(const std::string& task_name) {
  std::string n = task_name;
  if (StartsWith(n, "\\_ ")) n = n.substr(3);
  auto dot = n.rfind('.');
  return dot == std::string::npos ? n : n.substr(0, dot);
}

// A task that ended while its service is meant to keep running: failed, rejected, or
// exited 0 (which a healthcheck-killed container with a SIGTERM trap does).
bool IsFailedState(const std::string& current) {
  return StartsWith(current, "Failed") || StartsWith(current, "Rejected") ||
         StartsWith(current, "Complete");
}

}  // namespace

std::string HealthOf(const std::string& status) {
  if (status.find("(healthy)") != std::string::npos) return "healthy";
  if (status.find("(unhealthy)") != std::string::npos) return "unhealthy";
  if (status.find("(health: starting)") != std::string::npos) return "starting";
  return "";
}

Judgement JudgeConvergence(const ConvergeSnapshot& snap, const std::vector<std::string>& expected,
                           const std::map<std::string, Duration>& running_for, Duration settle) {
  Judgement j;
  std::map<std::string, const ServiceState*> by_name;
  for (const auto& s : snap.services) by_name[s.name] = &s;

  // Failures first: they end the wait at once.
  std::map<std::string, int> failures;
  std::map<std::string, std::string> last_error;
  for (const auto& t : snap.tasks) {
    if (StartsWith(t.current_state, "Rejected")) {
      j.kind = Judgement::Kind::kFailed;
      j.reason = "task " + t.name + " was rejected: " + (t.error.empty() ? "no reason given" : t.error);
      j.evidence.push_back(t.name + ": " + t.current_state + ": " + t.error);
      return j;
    }
    if (IsFailedState(t.current_state)) {
      ++failures[t.service];
      if (last_error[t.service].empty()) last_error[t.service] = t.error;  // newest first
      j.evidence.push_back(t.name + ": " + t.current_state + (t.error.empty() ? "" : ": " + t.error));
    }
  }
  for (const auto& [service, count] : failures) {
    if (count >= kCrashLoopFailures) {
      j.kind = Judgement::Kind::kFailed;
      j.reason = "service " + service + " is crash-looping: " + std::to_string(count) +
                 " tasks failed; last error: " +
                 (last_error[service].empty() ? "(none given)" : last_error[service]);
      return j;
    }
  }
  for (const auto& s : snap.services) {
    const std::string& u = s.update_state;
    if (u == "paused" || StartsWith(u, "rollback")) {
      j.kind = Judgement::Kind::kFailed;
      j.reason = "service " + s.name + " update state is '" + u + "'";
      return j;
    }
  }

  // Then what is still missing. A service's running count is read off its tasks in this
  // snapshot, not off `docker service ls`: that count lags the tasks by up to a second,
  // and it is a separate read (a task may have crashed in between).
  std::map<std::string, bool> healthy_task;  // task id → its container is healthy
  for (const auto& c : snap.containers) {
    if (!c.task_id.empty() && HealthOf(c.status) == "healthy") healthy_task[c.task_id] = true;
  }
  auto running_now = [&](const TaskState& t) {
    return StartsWith(t.current_state, "Running") ||
           (StartsWith(t.current_state, "Starting") && healthy_task.count(t.id) > 0);
  };
  std::map<std::string, int> running_tasks;
  for (const auto& t : snap.tasks) {
    if (t.desired_state == "Running" && running_now(t)) ++running_tasks[t.service];
  }
  std::vector<std::string> pending;
  for (const auto& name : expected) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      pending.push_back(name + " does not exist yet");
      continue;
    }
    const ServiceState& s = *it->second;
    int running = running_tasks[name];
    // `replicas: 0` (a service a scheduler starts) is converged with nothing running; a
    // global service with no task yet is not.
    if ((s.desired == 0 && s.global) || running < s.desired) {
      pending.push_back(name + " " + std::to_string(running) + "/" + std::to_string(s.desired));
    }
    if (s.update_state == "updating") pending.push_back(name + " update in progress");
  }
  for (const auto& c : snap.containers) {
    std::string h = HealthOf(c.status);
    if (h == "starting" || h == "unhealthy") pending.push_back(c.service + " container " + h);
  }
  // Tasks that are meant to run but are not running yet (e.g. a replacement starting).
  for (const auto& t : snap.tasks) {
    if (t.desired_state == "Running" && !running_now(t)) {
      pending.push_back(t.name + " is " + t.current_state.substr(0, t.current_state.find(' ')));
    }
  }
  // Tasks of services without a healthcheck must have stayed up for the settle time.
  std::map<std::string, bool> has_healthcheck;
  for (const auto& c : snap.containers) {
    if (!HealthOf(c.status).empty()) has_healthcheck[c.service] = true;
  }
  if (pending.empty() && settle.count() > 0) {
    for (const auto& t : snap.tasks) {
      if (t.desired_state != "Running" || has_healthcheck[t.service]) continue;
      auto it = running_for.find(t.id);
      Duration up = it == running_for.end() ? Duration(0) : it->second;
      if (up < settle) {
        pending.push_back(t.name + " settling (up " + FormatDuration(up) + " of " + FormatDuration(settle) + ")");
      }
    }
  }
  if (pending.empty()) {
    j.kind = Judgement::Kind::kConverged;
    j.reason = std::to_string(expected.size()) + " service(s) running and healthy";
    j.evidence.clear();
    return j;
  }
  std::ostringstream os;
  for (size_t i = 0; i < pending.size(); ++i) os << (i ? "; " : "") << pending[i];
  j.kind = Judgement::Kind::kPending;
  j.reason = os.str();
  return j;
}

const char* const kServiceInspectFormat =
    "{{.Spec.Name}}|{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}global{{end}}|"
    "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}";

void ParseServiceInspect(const std::string& out, const std::vector<TaskState>& tasks,
                         std::vector<ServiceState>* services) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find('|');
    auto b = a == std::string::npos ? std::string::npos : line.find('|', a + 1);
    if (b == std::string::npos) continue;
    ServiceState s;
    s.name = line.substr(0, a);
    std::string replicas = line.substr(a + 1, b - a - 1);
    s.update_state = line.substr(b + 1);
    if (s.update_state == "<no value>") s.update_state.clear();
    if (replicas == "global") {
      s.global = true;
      for (const auto& t : tasks) {
        if (t.service == s.name && t.desired_state == "Running") ++s.desired;
      }
    } else {
      s.desired = std::atoi(replicas.c_str());
    }
    services->push_back(s);
  }
}

Status ParseApiSnapshot(const std::string& services, const std::string& tasks, const std::string& containers,
                        ConvergeSnapshot* snap) {
  auto s = nlohmann::json::parse(services, nullptr, false);
  auto t = nlohmann::json::parse(tasks, nullptr, false);
  auto c = nlohmann::json::parse(containers, nullptr, false);
  if (!s.is_array() || !t.is_array() || !c.is_array()) return Status::Infra("unreadable Docker API answer");
  auto object = [](const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_object() ? *it : nlohmann::json::object();
  };
  auto capitalised = [](std::string v) {
    if (!v.empty()) v[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(v[0])));
    return v;
  };
  std::map<std::string, std::string> name_of;  // service id → name
  std::vector<bool> global;
  for (const auto& j : s) {
    ServiceState st;
    auto spec = object(j, "Spec");
    st.name = Str(spec, "Name");
    auto mode = object(spec, "Mode");
    auto replicated = object(mode, "Replicated");
    st.desired = Int(replicated, "Replicas");
    st.global = mode.contains("Global");
    global.push_back(st.global);
    st.update_state = Str(object(j, "UpdateStatus"), "State");
    name_of[Str(j, "ID")] = st.name;
    snap->services.push_back(st);
  }
  for (const auto& j : t) {
    TaskState ts;
    ts.id = Str(j, "ID");
    ts.service = name_of.count(Str(j, "ServiceID")) ? name_of[Str(j, "ServiceID")] : Str(j, "ServiceID");
    int slot = Int(j, "Slot");
    ts.name = ts.service + "." + (slot > 0 ? std::to_string(slot) : Str(j, "NodeID"));
    ts.desired_state = capitalised(Str(j, "DesiredState"));
    auto status = object(j, "Status");
    ts.current_state = capitalised(Str(status, "State"));
    ts.error = Str(status, "Err");
    snap->tasks.push_back(ts);
  }
  for (size_t i = 0; i < snap->services.size(); ++i) {
    if (!global[i]) continue;
    for (const auto& ts : snap->tasks) {
      if (ts.service == snap->services[i].name && ts.desired_state == "Running") ++snap->services[i].desired;
    }
  }
  for (const auto& j : c) {
    ContainerState cs;
    cs.id = Str(j, "Id").substr(0, 12);
    cs.status = Str(j, "Status");
    auto labels = object(j, "Labels");
    cs.service = Str(labels, "com.docker.swarm.service.name");
    cs.task_id = Str(labels, "com.docker.swarm.task.id");
    snap->containers.push_back(cs);
  }
  return Status::Ok();
}

Status ParseStackPs(const std::string& out, std::vector<TaskState>* tasks) {
  for (const auto& line : Docker::Lines(out)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return Status::Infra("unreadable docker stack ps output: " + line);
    TaskState t;
    t.id = Str(j, "ID");
    t.name = Str(j, "Name");
    t.service = ServiceOfTask(t.name);
    t.desired_state = Str(j, "DesiredState");
    t.current_state = Str(j, "CurrentState");
    t.error = Str(j, "Error");
    tasks->push_back(t);
  }
  return Status::Ok();
}

Status ParseDockerPs(const std::string& out, std::vector<ContainerState>* containers) {
  for (const auto& line : Docker::Lines(out)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return Status::Infra("unreadable docker ps output: " + line);
    ContainerState c;
    c.id = Str(j, "ID");
    c.status = Str(j, "Status");
    std::string labels = "," + Str(j, "Labels");
    auto label = [&](const std::string& name) {
      const std::string key = "," + name + "=";
      auto at = labels.find(key);
      if (at == std::string::npos) return std::string();
      auto end = labels.find(',', at + key.size());
      return labels.substr(at + key.size(), end == std::string::npos ? std::string::npos : end - at - key.size());
    };
    c.service = label("com.docker.swarm.service.name");
    c.task_id = label("com.docker.swarm.task.id");
    containers->push_back(c);
  }
  return Status::Ok();
}

}  // namespace harness
