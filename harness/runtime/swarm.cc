#include "runtime/swarm.h"

#include <poll.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/json_text.h"
#include "base/scope_guard.h"
#include "base/wait.h"
#include "base/strings.h"
#include "runtime/event_watch.h"
#include "runtime/swarm_steps.h"

namespace harness {

namespace fs = std::filesystem;
using namespace swarm_steps;

bool Leftovers::empty() const {
  return services.empty() && containers.empty() && networks.empty() && secrets.empty() &&
         configs.empty() && volumes.empty();
}

std::string Leftovers::ToString() const {
  std::vector<std::string> parts;
  auto add = [&](const char* kind, const std::vector<std::string>& v) {
    if (!v.empty()) parts.push_back(std::string(kind) + ": " + Join(v, ", "));
  };
  add("services", services);
  add("containers", containers);
  add("networks", networks);
  add("secrets", secrets);
  add("configs", configs);
  add("volumes", volumes);
  return Join(parts, "; ");
}

Status SwarmRuntime::Preflight(PhaseLog* log, Deadline deadline, const CancelToken& cancel) {
  if (api_ != nullptr) {
    if (cancel.cancelled()) return Status::Cancelled("interrupted");
    auto info = api_->Get("/info", Step(deadline));
    if (!info.ok()) return Status::Infra("Docker does not answer (" + info.status().message() + "); is dockerd running?");
    auto j = nlohmann::json::parse(*info, nullptr, false);
    const nlohmann::json swarm = j.is_object() && j.contains("Swarm") ? j["Swarm"] : nlohmann::json::object();
    std::string state = swarm.is_object() ? swarm.value("LocalNodeState", "") : "";
    bool control = swarm.is_object() && swarm.value("ControlAvailable", false);
    if (state != "active" || !control) {
      return Status::Infra("this Docker node is not a Swarm manager (swarm state: '" + state + (control ? " true" : " false") +
                           "'); run `docker swarm init` or point the harness at a manager");
    }
    return Status::Ok();
  }
  std::vector<std::string> args = {"info", "--format",
                                   "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.ID}}"};
  auto r = docker_->Run(args, log, Step(deadline), cancel);
  Status s = Docker::Check(args, r);
  if (!s.ok()) {
    if (s.code() == Status::Code::kCancelled) return s;
    return Status::Infra("Docker does not answer (" + s.message() + "); is dockerd running?");
  }
  auto words = Words(r->out);
  std::string state = words.size() >= 2 ? words[0] + " " + words[1] : (words.empty() ? "" : words[0]);
  daemon_id_ = words.size() >= 3 ? words[2] : "";
  if (state != "active true") {
    return Status::Infra("this Docker node is not a Swarm manager (swarm state: '" + state +
                         "'); run `docker swarm init` or point the harness at a manager");
  }
  return Status::Ok();
}

Status SwarmRuntime::CreateSecret(const std::string& name, const std::string& value,
                                  const std::map<std::string, std::string>& labels, PhaseLog* log,
                                  Deadline deadline, const CancelToken& cancel) {
  if (api_ != nullptr) {
    if (cancel.cancelled()) return Status::Cancelled("interrupted");
    return api_->CreateSecret(name, value, labels, Step(deadline));
  }
  std::vector<std::string> args = {"secret", "create"};
  for (const auto& [k, v] : labels) {
    args.push_back("--label");
    args.push_back(k + "=" + v);
  }
  args.push_back(name);
  args.push_back("-");
  return Docker::Check(args, docker_->Run(args, log, Step(deadline), cancel, value));
}

Result<SwarmRuntime::NetworkState> SwarmRuntime::InspectNetwork(const std::string& name, PhaseLog* log,
                                                                Deadline deadline, const CancelToken& cancel) {
  if (api_ != nullptr) return InspectNetworkThroughApi(name, deadline, cancel);
  std::vector<std::string> args = {"network", "inspect", "--format",
                                   "{{.Driver}}|{{.Scope}}|{{.Attachable}}|{{index .Labels \"harness.shared-network\"}}",
                                   name};
  auto r = docker_->Run(args, log, Step(deadline), cancel);
  NetworkState state;
  if (r.ok() && !r->ok() && !r->cancelled && !r->timed_out &&
      (r->err.find("No such network") != std::string::npos || r->err.find("not found") != std::string::npos)) {
    return state;
  }
  if (Status s = Docker::Check(args, r); !s.ok()) return s;
  std::string line = r->out.substr(0, r->out.find('\n'));
  std::vector<std::string> f;
  std::istringstream in(line);
  for (std::string part; std::getline(in, part, '|');) f.push_back(part);
  f.resize(4);
  state.exists = true;
  state.driver = f[0];
  state.scope = f[1];
  state.attachable = f[2] == "true";
  state.ours = !f[3].empty() && f[3] != "<no value>";
  return state;
}

Status SwarmRuntime::CreateSharedNetwork(const std::string& name, const std::map<std::string, std::string>& labels,
                                         PhaseLog* log, Deadline deadline, const CancelToken& cancel) {
  std::vector<std::string> args = {"network", "create", "--driver", "overlay", "--attachable",
                                   "--label", "harness.shared-network=" + name};
  for (const auto& [k, v] : labels) {
    if (k == "harness.namespace") continue;
    args.push_back("--label");
    args.push_back(k + "=" + v);
  }
  args.push_back(name);
  Deadline step = Step(deadline);
  if (api_ != nullptr) return CreateSharedNetworkThroughApi(name, labels, step, cancel);
  while (true) {
    auto r = docker_->Run(args, log, step, cancel);
    if (r.ok() && !r->ok() && r->err.find("already exists") != std::string::npos) return Status::Ok();
    // A network of that name that was just removed is still in Swarm's store until its
    // allocation is released (moments): the name is free again then.
    bool releasing = r.ok() && !r->ok() && r->err.find("name conflicts with an existing object") != std::string::npos;
    if (!releasing || step.passed() || cancel.cancelled()) return Docker::Check(args, r);
    Pause(kTeardownPoll);
  }
}

Result<bool> SwarmRuntime::RemoveSharedNetwork(const std::string& name, PhaseLog* log, Deadline deadline) {
  auto state = InspectNetwork(name, log, deadline, CancelToken::None());
  if (!state.ok()) return state.status();
  if (!state->exists) return true;
  if (!state->ours) return false;
  if (api_ != nullptr) {
    auto a = api_->Call("DELETE", "/networks/" + DockerApi::Escape(name), "", Step(deadline));
    if (!a.ok()) return a.status();
    if ((a->status >= 200 && a->status < 300) || a->status == 404) return true;
    std::string why = DockerApi::MessageOf(*a);
    if (why.find("in use") != std::string::npos || why.find("active endpoints") != std::string::npos) return false;
    return Status::Infra("Docker API DELETE /networks/" + name + " answered " + std::to_string(a->status) + ": " + why);
  }
  std::vector<std::string> args = {"network", "rm", name};
  auto r = docker_->Run(args, log, Step(deadline), CancelToken::None());
  if (r.ok() && !r->ok() &&
      (r->err.find("in use") != std::string::npos || r->err.find("active endpoints") != std::string::npos)) {
    return false;
  }
  if (r.ok() && !r->ok() && r->err.find("No such network") != std::string::npos) return true;
  if (Status s = Docker::Check(args, r); !s.ok()) return s;
  return true;
}

Result<SwarmRuntime::NetworkState> SwarmRuntime::InspectNetworkThroughApi(const std::string& name, Deadline deadline,
                                                                          const CancelToken& cancel) {
  const Deadline step = Step(deadline);
  Result<DockerApi::Answer> a = Status::Failed("not asked");
  nlohmann::json j;
  // A swarm network created a moment ago is answered without its driver until Swarm's
  // allocator has placed it: asked again until it has one.
  do {
    if (cancel.cancelled()) return Status::Cancelled("interrupted");
    a = api_->Call("GET", "/networks/" + DockerApi::Escape(name), "", step);
    if (!a.ok()) return a.status();
    j = nlohmann::json::parse(a->body, nullptr, false);
  } while (a->status == 200 && j.is_object() && j.value("Name", "") == name && j.value("Driver", "").empty() &&
           !step.passed() && WaitFor(kTeardownPoll, cancel));
  NetworkState state;
  if (a->status == 404) return state;
  if (a->status != 200 || !j.is_object()) {
    return Status::Infra("Docker API GET /networks/" + name + " answered " + std::to_string(a->status) + ": " +
                         DockerApi::MessageOf(*a));
  }
  // Docker finds a network by a prefix of its ID too: only the name itself is this one.
  if (j.value("Name", "") != name) return state;
  state.exists = true;
  state.driver = j.value("Driver", "");
  state.scope = j.value("Scope", "");
  state.attachable = j.value("Attachable", false);
  state.ours = j.contains("Labels") && j["Labels"].is_object() && j["Labels"].contains("harness.shared-network");
  return state;
}

Status SwarmRuntime::CreateSharedNetworkThroughApi(const std::string& name,
                                                   const std::map<std::string, std::string>& labels, Deadline step,
                                                   const CancelToken& cancel) {
  std::map<std::string, std::string> all = {{"harness.shared-network", name}};
  for (const auto& [k, v] : labels) {
    if (k != "harness.namespace") all[k] = v;
  }
  const nlohmann::json spec = {{"Name", name}, {"Driver", "overlay"}, {"Attachable", true},
                               {"CheckDuplicate", true}, {"Labels", all}};
  while (true) {
    if (cancel.cancelled()) return Status::Cancelled("interrupted");
    auto a = api_->Call("POST", "/networks/create", JsonText(spec), step);
    if (!a.ok()) return a.status();
    if (a->status >= 200 && a->status < 300) return Status::Ok();
    std::string why = DockerApi::MessageOf(*a);
    if (why.find("already exists") != std::string::npos) return Status::Ok();
    // As on the CLI: a name just given up is free again once Swarm released it.
    bool releasing = why.find("name conflicts with an existing object") != std::string::npos;
    if (!releasing || step.passed()) {
      return Status::Infra("Docker API POST /networks/create (" + name + ") answered " + std::to_string(a->status) +
                           ": " + why);
    }
    if (!WaitFor(kTeardownPoll, cancel)) return Status::Cancelled("interrupted");
  }
}

Result<std::vector<std::string>> SwarmRuntime::SharedNetworks(Deadline deadline) {
  if (api_ != nullptr) {
    auto body = api_->Get("/networks?filters=" + DockerApi::Filters("label", {"harness.shared-network"}), Step(deadline));
    if (!body.ok()) return body.status();
    auto j = nlohmann::json::parse(*body, nullptr, false);
    if (!j.is_array()) return Status::Infra("Docker API: unreadable list of networks");
    std::vector<std::string> names;
    for (const auto& n : j) {
      if (n.is_object() && n.contains("Name") && n["Name"].is_string()) names.push_back(n["Name"].get<std::string>());
    }
    return names;
  }
  return Ids({"network", "ls", "--filter", "label=harness.shared-network", "--format", "{{.Name}}"}, nullptr, deadline);
}

Result<bool> SwarmRuntime::SecretExists(const std::string& name, PhaseLog* log, Deadline deadline,
                                        const CancelToken& cancel) {
  if (api_ != nullptr) {
    if (cancel.cancelled()) return Status::Cancelled("interrupted");
    auto body = api_->Get("/secrets?filters=" + DockerApi::Filters("name", {name}), Step(deadline));
    if (!body.ok()) return body.status();
    auto list = nlohmann::json::parse(*body, nullptr, false);
    if (!list.is_array()) return Status::Infra("Docker API: unreadable list of secrets");
    for (const auto& secret : list) {  // the filter matches prefixes
      if (secret.contains("Spec") && secret["Spec"].value("Name", "") == name) return true;
    }
    return false;
  }
  std::vector<std::string> args = {"secret", "ls", "--filter", "name=" + name, "--format", "{{.Name}}"};
  auto r = docker_->Run(args, log, Step(deadline), cancel);
  if (Status s = Docker::Check(args, r); !s.ok()) return s;
  std::istringstream in(r->out);
  for (std::string line; std::getline(in, line);) {
    if (line == name) return true;  // the filter matches substrings
  }
  return false;
}

Result<std::vector<SwarmRuntime::ServiceVersion>> SwarmRuntime::ServiceVersions(
    const std::vector<std::string>& services, const std::string& label, PhaseLog* log, Deadline deadline,
    const CancelToken& cancel) {
  std::vector<std::string> args = {"service", "inspect", "--format",
                                   "{{.Spec.Name}}|{{index .Spec.Labels \"" + label +
                                       "\"}}|{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"};
  args.insert(args.end(), services.begin(), services.end());
  auto r = docker_->Run(args, log, Step(deadline), cancel);
  if (Status s = Docker::Check(args, r); !s.ok()) return s;
  std::vector<ServiceVersion> out;
  std::istringstream in(r->out);
  for (std::string line; std::getline(in, line);) {
    auto a = line.find('|'), b = line.rfind('|');
    if (a == std::string::npos || a == b) continue;
    std::string version = line.substr(a + 1, b - a - 1);
    out.push_back({line.substr(0, a), version == "<no value>" ? "" : version, line.substr(b + 1)});
  }
  return out;
}

Status SwarmRuntime::DeployStack(const std::string& ns, const std::vector<std::string>& files, PhaseLog* log,
                                 Deadline deadline, const CancelToken& cancel) {
  // The staged files sit in one folder of this machine; the target reads its own copy.
  std::string local_dir = files.empty() ? "" : fs::path(files.front()).parent_path().string();
  for (const auto& f : files) {
    if (fs::path(f).parent_path().string() != local_dir) {
      return Status::InvalidArgument("compose files to deploy must share one folder: " + f);
    }
  }
  auto shared = docker_->executor()->Share(local_dir, deadline, cancel);
  if (!shared.ok()) return shared.status();
  ScopeGuard unshare([&] { docker_->executor()->Unshare(*shared, Deadline::In(Duration(30000))); });
  // Images are pinned by digest in the staged files (EnsureImages): Docker resolves nothing;
  // the nodes get the registry credentials of the target's docker CLI to pull them.
  std::vector<std::string> args = {"stack", "deploy", "--resolve-image", "never", "--with-registry-auth", "--prune"};
  for (const auto& f : files) {
    args.push_back("--compose-file");
    args.push_back(*shared + "/" + fs::path(f).filename().string());
  }
  args.push_back(ns);
  return Docker::Check(args, docker_->Run(args, log, deadline, cancel));
}

std::string SwarmRuntime::ChooseObservations(Deadline deadline) {
  if (api_ != nullptr) return "engine-api";
  bool api = docker_->executor()->Describe() == "local" && UseEngineApi(DockerApi::ForLocal(), deadline);
  return api ? "engine-api" : "docker-cli";
}

std::unique_ptr<ChangeWatch> SwarmRuntime::Watch(const std::string& ns, Deadline until) {
  return Events(ns, until);
}

std::unique_ptr<EventWatch> SwarmRuntime::Events(const std::string& ns, Deadline until) {
  if (api_ != nullptr) return std::make_unique<EventWatch>(api_, ns, until);
  return std::make_unique<EventWatch>(docker_, ns, until);
}

bool SwarmRuntime::UseEngineApi(std::unique_ptr<DockerApi> api, Deadline deadline) {
  if (api == nullptr || daemon_id_.empty()) return false;
  if (api->DaemonId(Step(deadline)) != daemon_id_) return false;
  owned_api_ = std::move(api);
  api_ = owned_api_.get();
  return true;
}

Result<ConvergeSnapshot> SwarmRuntime::ObserveThroughApi(const std::string& ns, Deadline deadline) {
  const std::string by_stack = DockerApi::Filters("label", {"com.docker.stack.namespace=" + ns});
  auto services = api_->Get("/services?filters=" + by_stack, Step(deadline));
  if (!services.ok()) return services.status();
  auto containers = api_->Get("/containers/json?filters=" + by_stack, Step(deadline));
  if (!containers.ok()) return containers.status();
  // Tasks carry no stack label of their own: they are asked for by their services.
  std::vector<std::string> ids;
  auto list = nlohmann::json::parse(*services, nullptr, false);
  if (list.is_array()) {
    for (const auto& svc : list) {
      if (svc.contains("ID") && svc["ID"].is_string()) ids.push_back(svc["ID"].get<std::string>());
    }
  }
  std::string tasks = "[]";
  if (!ids.empty()) {
    auto t = api_->Get("/tasks?filters=" + DockerApi::Filters("service", ids), Step(deadline));
    if (!t.ok()) return t.status();
    tasks = *t;
  }
  ConvergeSnapshot snap;
  if (Status s = ParseApiSnapshot(*services, tasks, *containers, &snap); !s.ok()) return s;
  return snap;
}

Result<ConvergeSnapshot> SwarmRuntime::Observe(const std::string& ns, const std::vector<std::string>& expected,
                                               PhaseLog* log, Deadline deadline, const CancelToken& cancel) {
  if (api_ != nullptr) {
    if (cancel.cancelled()) return Status::Cancelled("interrupted");
    return ObserveThroughApi(ns, deadline);
  }
  // Tasks, containers and the expected services (their desired counts and update states)
  // are read at once; the judging does not trust one read against another (a task may
  // change between them).
  std::vector<Docker::Job> jobs = {
      {docker_, {"stack", "ps", "--no-trunc", "--format", "{{json .}}", ns}},
      {docker_, {"ps", "--no-trunc", "--filter", StackLabel(ns), "--format", "{{json .}}"}},
      {docker_, {"service", "inspect", "--format", kServiceInspectFormat}},
  };
  jobs[2].args.insert(jobs[2].args.end(), expected.begin(), expected.end());
  auto r = Docker::RunAll(jobs, log, Step(deadline), cancel);
  ConvergeSnapshot snap;
  if (!r[0].ok()) return r[0].status();
  // "nothing found in stack" is not an error while the stack is being created.
  if (r[0]->ok()) {
    if (Status s = ParseStackPs(r[0]->out, &snap.tasks); !s.ok()) return s;
  } else if (r[0]->cancelled) {
    return Status::Cancelled("interrupted");
  }
  if (Status s = Docker::Check(jobs[1].args, r[1]); !s.ok()) return s;
  if (Status s = ParseDockerPs(r[1]->out, &snap.containers); !s.ok()) return s;
  // A service that does not exist (yet) makes inspect fail; the others are still printed.
  if (!r[2].ok()) return r[2].status();
  if (r[2]->cancelled) return Status::Cancelled("interrupted");
  if (r[2]->timed_out) return Status::Timeout("docker service inspect " + r[2]->Describe());
  ParseServiceInspect(r[2]->out, snap.tasks, &snap.services);
  return snap;
}

Result<std::string> SwarmRuntime::AddressOf(const Located& where, Deadline deadline, const CancelToken& cancel) {
  nlohmann::json j;
  if (api_ != nullptr && (where.node == nullptr || where.node == docker_->executor())) {
    if (cancel.cancelled()) return Status::Cancelled("interrupted");
    auto body = api_->Get("/networks/docker_gwbridge", Step(deadline));
    if (!body.ok()) return body.status();
    auto net = nlohmann::json::parse(*body, nullptr, false);
    j = net.is_object() && net.contains("Containers") ? net["Containers"] : nlohmann::json();
  } else {
    Docker on(where.node != nullptr ? where.node : docker_->executor(), docker_->binary());
    std::vector<std::string> args = {"network", "inspect", "docker_gwbridge", "--format", "{{json .Containers}}"};
    auto r = on.Run(args, nullptr, Step(deadline), cancel);
    if (Status s = Docker::Check(args, r); !s.ok()) return s;
    j = nlohmann::json::parse(r->out, nullptr, false);
  }
  if (j.is_discarded() || !j.is_object()) {
    return Status::Infra("unreadable docker_gwbridge inspect output");
  }
  auto it = j.find(where.container);
  if (it == j.end() || !(*it).contains("IPv4Address")) {
    return Status::Failed("container " + where.container.substr(0, 12) +
                          " has no address on docker_gwbridge (is its network internal?)");
  }
  std::string addr = (*it)["IPv4Address"].get<std::string>();
  return addr.substr(0, addr.find('/'));
}

Result<ProcessResult> SwarmRuntime::Exec(const Located& where, const std::vector<std::string>& argv,
                                         Deadline deadline, const CancelToken& cancel) {
  if (api_ != nullptr && (where.node == nullptr || where.node == docker_->executor())) {
    return api_->Exec(where.container, argv, deadline, cancel);
  }
  Docker on(where.node != nullptr ? where.node : docker_->executor(), docker_->binary());
  std::vector<std::string> args = {"exec", where.container};
  args.insert(args.end(), argv.begin(), argv.end());
  return on.Run(args, nullptr, deadline, cancel);
}

Result<std::string> SwarmRuntime::Logs(const std::string& ns, const std::string& service,
                                       int tail, Deadline deadline, const CancelToken& cancel) {
  if (api_ != nullptr) return api_->ServiceLogs(ns + "_" + service, tail, Step(deadline), cancel);
  std::vector<std::string> args = {"service", "logs", "--raw", "--no-task-ids", "--tail",
                                   std::to_string(tail), ns + "_" + service};
  auto r = docker_->Run(args, nullptr, Step(deadline), cancel);
  if (Status s = Docker::Check(args, r); !s.ok()) return s;
  // The service's stdout and stderr arrive on the CLI's stdout and stderr.
  return r->out + r->err;
}

std::string SwarmRuntime::DaemonIdentity(Deadline deadline) {
  // One command, so that a remote target answers in one round trip: the pid on the first
  // line, the process's stat line after it.
  Command cmd;
  // (The pid file has no final newline: `read` fails at its end but has read the pid.)
  cmd.argv = {"sh", "-c", "read -r p < /var/run/docker.pid; [ -n \"$p\" ] && echo \"$p\" && cat \"/proc/$p/stat\""};
  cmd.deadline = Step(deadline);
  auto r = docker_->executor()->Run(cmd, CancelToken::None());
  if (!r.ok() || !r->ok()) return "";
  auto nl = r->out.find('\n');
  if (nl == std::string::npos) return "";
  std::string p = r->out.substr(0, r->out.find_first_not_of("0123456789"));
  if (p.empty()) return "";
  std::string stat = r->out.substr(nl + 1);
  // Field 22, after the parenthesised command name: start time in clock ticks.
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) return "";
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
  }
  return p + "/" + field;
}

Result<nlohmann::json> SwarmRuntime::ContainerHealth(const std::string& ns, Deadline deadline) {
  auto ids = Ids({"ps", "-a", "-q", "--no-trunc", "--filter", StackLabel(ns)}, nullptr, deadline);
  if (!ids.ok()) return ids.status();
  nlohmann::json out = nlohmann::json::array();
  if (ids->empty()) return out;
  std::vector<std::string> args = {"inspect", "--format", "{{json .}}"};
  args.insert(args.end(), ids->begin(), ids->end());
  auto r = docker_->Run(args, nullptr, Step(deadline), CancelToken::None());
  if (!r.ok()) return r.status();
  for (const auto& line : Docker::Lines(r->out)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    nlohmann::json c = {{"container", j.value("Name", "")}};
    const auto& labels = j["Config"]["Labels"];
    if (labels.is_object()) c["service"] = labels.value("com.docker.swarm.service.name", "");
    const auto& state = j["State"];
    c["state"] = state.value("Status", "");
    c["exit_code"] = state.value("ExitCode", 0);
    if (state.contains("Health") && state["Health"].is_object()) {
      const auto& h = state["Health"];
      c["health"] = h.value("Status", "");
      c["failing_streak"] = h.value("FailingStreak", 0);
      if (h.contains("Log") && h["Log"].is_array() && !h["Log"].empty()) {
        const auto& last = h["Log"].back();
        c["last_check_exit_code"] = last.value("ExitCode", 0);
        c["last_check_output"] = last.value("Output", "");
      }
    }
    out.push_back(c);
  }
  return out;
}

Result<SwarmRuntime::Located> SwarmRuntime::ContainerOf(const std::string& ns, const std::string& service,
                                                        Deadline deadline, const CancelToken& cancel) {
  auto others = OtherNodes(deadline);
  if (!others.ok()) return others.status();
  std::string full = ns + "_" + service;
  if ((*others)->empty()) {
    // One node: its containers, a healthy one first.
    std::vector<ContainerState> cs;
    if (api_ != nullptr) {
      if (cancel.cancelled()) return Status::Cancelled("interrupted");
      auto running = api_->Get("/containers/json?filters=" +
                                   DockerApi::Filters("label", {"com.docker.swarm.service.name=" + full}),
                               Step(deadline));
      if (!running.ok()) return running.status();
      auto list = nlohmann::json::parse(*running, nullptr, false);
      if (!list.is_array()) return Status::Infra("Docker API: unreadable list of containers");
      for (const auto& c : list) {
        // The full id, as `docker ps --no-trunc` gives it: docker_gwbridge is keyed by it.
        if (!c.is_object() || !c.contains("Id") || !c["Id"].is_string()) continue;
        cs.push_back({c["Id"].get<std::string>(), full, "", c.contains("Status") && c["Status"].is_string() ? c["Status"].get<std::string>() : ""});
      }
    } else {
      std::vector<std::string> args = {"ps", "--no-trunc", "--filter",
                                       "label=com.docker.swarm.service.name=" + full, "--filter",
                                       "status=running", "--format", "{{json .}}"};
      auto r = docker_->Run(args, nullptr, Step(deadline), cancel);
      if (Status s = Docker::Check(args, r); !s.ok()) return s;
      if (Status s = ParseDockerPs(r->out, &cs); !s.ok()) return s;
    }
    if (cs.empty()) return Status::Failed("service '" + service + "' has no running container");
    std::string id = cs.front().id;
    for (const auto& c : cs) {
      if (HealthOf(c.status) == "healthy") {
        id = c.id;
        break;
      }
    }
    return Located{id, docker_->executor(), ""};
  }
  // Several nodes: the service's running tasks say where their containers are.
  std::vector<std::string> ps = {"service", "ps", "--no-trunc", "--filter", "desired-state=running",
                                 "--format", "{{.ID}}|{{.CurrentState}}", full};
  auto r = docker_->Run(ps, nullptr, Step(deadline), cancel);
  if (Status s = Docker::Check(ps, r); !s.ok()) return s;
  std::istringstream in(r->out);
  for (std::string line; std::getline(in, line);) {
    auto bar = line.find('|');
    if (bar == std::string::npos || line.compare(bar + 1, 7, "Running") != 0) continue;
    std::vector<std::string> task = {"inspect", "--type", "task", "--format",
                                     "{{.Status.ContainerStatus.ContainerID}}|{{.NodeID}}", line.substr(0, bar)};
    auto t = docker_->Run(task, nullptr, Step(deadline), cancel);
    if (Status s = Docker::Check(task, t); !s.ok()) return s;
    std::string out = t->out.substr(0, t->out.find('\n'));
    auto sep = out.find('|');
    if (sep == std::string::npos || sep == 0) continue;
    std::string container = out.substr(0, sep), node_id = out.substr(sep + 1);
    for (auto& o : **others) {
      if (o.node.id == node_id) return Located{container, o.docker->executor(), o.node.hostname};
    }
    return Located{container, docker_->executor(), ""};  // the target's own node
  }
  return Status::Failed("service '" + service + "' has no running container");
}

}  // namespace harness
