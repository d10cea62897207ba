#include "runtime/swarm.h"

#include <poll.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/scope_guard.h"
#include "runtime/event_watch.h"

namespace harness {

namespace fs = std::filesystem;
namespace {

constexpr Duration kStepTimeout{30000};    // one docker command
constexpr Duration kTeardownPoll{200};          // without Docker's event stream
constexpr Duration kTeardownFallbackPoll{1000};  // with it: in case an event was missed
constexpr Duration kLingering{5000};             // services still there after this are removed again

std::string Join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::vector<std::string> Words(const std::string& out) {
  std::vector<std::string> words;
  std::istringstream in(out);
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

Deadline Step(Deadline overall) { return overall.Min(Deadline::In(kStepTimeout)); }

void Pause(Duration d) { std::this_thread::sleep_for(d); }

std::string StackLabel(const std::string& ns) { return "label=com.docker.stack.namespace=" + ns; }
std::string HarnessLabel(const std::string& ns) { return "label=harness.namespace=" + ns; }

}  // namespace

bool Leftovers::empty() const {
  return services.empty() && containers.empty() && networks.empty() && secrets.empty() &&
         configs.empty() && volumes.empty();
}

std::string Leftovers::ToString() const {
  std::vector<std::string> parts;
  auto add = [&](const char* kind, const std::vector<std::string>& v) {
    if (!v.empty()) parts.push_back(std::string(kind) + ": " + Join(v));
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

Status SwarmRuntime::CheckImages(const std::vector<std::string>& images, PhaseLog* log,
                                 Deadline deadline, const CancelToken& cancel) {
  if (images.empty()) return Status::Ok();
  std::vector<std::string> args = {"image", "inspect", "--format", "{{.Id}}"};
  args.insert(args.end(), images.begin(), images.end());
  auto r = docker_->Run(args, log, Step(deadline), cancel);
  if (!r.ok()) return r.status();
  if (r->cancelled) return Status::Cancelled("interrupted");
  if (!r->ok()) {
    std::vector<std::string> missing;
    for (const auto& img : images) {
      if (r->err.find(img) != std::string::npos) missing.push_back(img);
    }
    return Status::Infra("image(s) not present on this node: " +
                         (missing.empty() ? Join(images) : Join(missing)) +
                         " (no registry is consulted; build or load them first, e.g. scripts/setup)");
  }
  return Status::Ok();
}

Status SwarmRuntime::CreateSecret(const std::string& name, const std::string& value,
                                  const std::map<std::string, std::string>& labels, PhaseLog* log,
                                  Deadline deadline, const CancelToken& cancel) {
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
  auto r = docker_->Run(args, log, Step(deadline), cancel);
  if (r.ok() && !r->ok() && r->err.find("already exists") != std::string::npos) return Status::Ok();
  return Docker::Check(args, r);
}

Result<bool> SwarmRuntime::RemoveSharedNetwork(const std::string& name, PhaseLog* log, Deadline deadline) {
  auto state = InspectNetwork(name, log, deadline, CancelToken::None());
  if (!state.ok()) return state.status();
  if (!state->exists) return true;
  if (!state->ours) return false;
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

Result<std::vector<std::string>> SwarmRuntime::SharedNetworks(Deadline deadline) {
  return Ids({"network", "ls", "--filter", "label=harness.shared-network", "--format", "{{.Name}}"}, nullptr, deadline);
}

Result<bool> SwarmRuntime::SecretExists(const std::string& name, PhaseLog* log, Deadline deadline,
                                        const CancelToken& cancel) {
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

Status SwarmRuntime::DeployStack(const std::string& ns, const std::vector<std::string>& files,
                                 const std::map<std::string, std::string>& env, PhaseLog* log,
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
  std::vector<std::pair<std::string, std::string>> envv(env.begin(), env.end());
  return Docker::Check(args, docker_->Run(args, log, deadline, cancel, "", envv));
}

std::string SwarmRuntime::ChooseObservations(Deadline deadline) {
  bool api = docker_->executor()->Describe() == "local" && UseEngineApi(DockerApi::ForLocal(), deadline);
  return api ? "engine-api" : "docker-cli";
}

std::unique_ptr<ChangeWatch> SwarmRuntime::Watch(const std::string& ns, Deadline until) {
  return std::make_unique<EventWatch>(docker_, ns, until);
}

bool SwarmRuntime::UseEngineApi(std::unique_ptr<DockerApi> api, Deadline deadline) {
  if (api == nullptr || daemon_id_.empty()) return false;
  auto info = api->Get("/info", Step(deadline));
  if (!info.ok()) return false;
  auto j = nlohmann::json::parse(*info, nullptr, false);
  if (!j.is_object() || !j.contains("ID") || !j["ID"].is_string() || j["ID"].get<std::string>() != daemon_id_) {
    return false;
  }
  api_ = std::move(api);
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
  Docker on(where.node != nullptr ? where.node : docker_->executor(), docker_->binary());
  std::vector<std::string> args = {"network", "inspect", "docker_gwbridge", "--format",
                                   "{{json .Containers}}"};
  auto r = on.Run(args, nullptr, Step(deadline), cancel);
  if (Status s = Docker::Check(args, r); !s.ok()) return s;
  auto j = nlohmann::json::parse(r->out, nullptr, false);
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
  Docker on(where.node != nullptr ? where.node : docker_->executor(), docker_->binary());
  std::vector<std::string> args = {"exec", where.container};
  args.insert(args.end(), argv.begin(), argv.end());
  return on.Run(args, nullptr, deadline, cancel);
}

Result<std::string> SwarmRuntime::Logs(const std::string& ns, const std::string& service,
                                       int tail, Deadline deadline, const CancelToken& cancel) {
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

Result<std::vector<LabelledNamespace>> SwarmRuntime::LabelledNamespaces(Deadline deadline) {
  struct Kind {
    std::vector<std::string> list;
    std::string labels;  // where the kind keeps its labels in `inspect`
  };
  const std::vector<Kind> kinds = {
      {{"service", "ls", "-q"}, ".Spec.Labels"},      {{"secret", "ls", "-q"}, ".Spec.Labels"},
      {{"config", "ls", "-q"}, ".Spec.Labels"},       {{"network", "ls", "-q"}, ".Labels"},
      {{"volume", "ls", "-q"}, ".Labels"},            {{"ps", "-a", "-q"}, ".Config.Labels"},
  };
  std::map<std::string, LabelledNamespace> found;
  auto read = [&](const Kind& k, Docker* on, const std::vector<std::string>& ids) -> Status {
    if (ids.empty()) return Status::Ok();
    std::vector<std::string> inspect = {k.list[0] == "ps" ? "container" : k.list[0], "inspect",
                                        "--format",
                                        "{{index " + k.labels + " \"harness.namespace\"}}|{{index " +
                                            k.labels + " \"harness.run\"}}|{{index " + k.labels +
                                            " \"harness.owner\"}}|{{index " + k.labels + " \"harness.warm\"}}"};
    inspect.insert(inspect.end(), ids.begin(), ids.end());
    auto r = on->Run(inspect, nullptr, Step(deadline), CancelToken::None());
    if (!r.ok()) return r.status();
    // Objects may vanish between ls and inspect; what was printed still counts.
    std::istringstream in(r->out);
    std::string line;
    while (std::getline(in, line)) {
      auto a = line.find('|');
      auto b = line.find('|', a == std::string::npos ? 0 : a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::string ns = line.substr(0, a);
      if (ns.empty() || ns == "<no value>") continue;
      std::string run = line.substr(a + 1, b - a - 1);
      auto c = line.find('|', b + 1);
      std::string owner = line.substr(b + 1, c == std::string::npos ? std::string::npos : c - b - 1);
      std::string warm = c == std::string::npos ? "" : line.substr(c + 1);
      // Warm-canon deploys are meant to outlive the runs that made them: never leftovers.
      if (!warm.empty() && warm != "<no value>") continue;
      LabelledNamespace& l = found[ns];
      l.namespace_name = ns;
      if (l.run_id.empty() && run != "<no value>") l.run_id = run;
      if (l.owner.empty() && owner != "<no value>") l.owner = owner;
    }
    return Status::Ok();
  };
  // Every kind listed at once, here and (networks, volumes, containers: each node's own)
  // on every other node; then the labels of whatever was found.
  struct Ask {
    const Kind* kind;
    Docker* on;
    std::string node;  // "" for the target's node
  };
  std::vector<Ask> asks;
  std::vector<Docker::Job> jobs;
  auto add = [&](const Kind& k, Docker* on, const std::string& node) {
    std::vector<std::string> list = k.list;
    list.push_back("--filter");
    list.push_back("label=harness.namespace");
    asks.push_back({&k, on, node});
    jobs.push_back({on, std::move(list)});
  };
  for (const auto& k : kinds) add(k, docker_, "");
  auto others = OtherNodes(deadline);
  if (!others.ok()) return others.status();
  for (auto& o : **others) {
    for (const auto& k : kinds) {
      if (k.list[0] == "network" || k.list[0] == "volume" || k.list[0] == "ps") add(k, o.docker.get(), o.node.hostname);
    }
  }
  auto results = Docker::RunAll(jobs, nullptr, Step(deadline), CancelToken::None());
  for (size_t i = 0; i < jobs.size(); ++i) {
    Status s = Docker::Check(jobs[i].args, results[i]);
    if (s.ok()) s = read(*asks[i].kind, asks[i].on, Words(results[i]->out));
    if (!s.ok()) return asks[i].node.empty() ? s : s.Prefixed("node " + asks[i].node);
  }
  std::vector<LabelledNamespace> out;
  for (auto& [ns, l] : found) out.push_back(l);
  return out;
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

Result<std::vector<std::string>> SwarmRuntime::Ids(const std::vector<std::string>& args,
                                                   PhaseLog* log, Deadline deadline, Docker* on) {
  auto r = (on != nullptr ? on : docker_)->Run(args, log, Step(deadline), CancelToken::None());
  if (Status s = Docker::Check(args, r); !s.ok()) return s;
  return Words(r->out);
}

Result<Leftovers> SwarmRuntime::FindLeftovers(const std::string& ns, PhaseLog* log,
                                              Deadline deadline) {
  return Find(ns, log, deadline, true);
}

Result<Leftovers> SwarmRuntime::Find(const std::string& ns, PhaseLog* log, Deadline deadline,
                                     bool all) {
  Leftovers left;
  struct Query {
    std::vector<std::string> base;
    std::vector<std::string>* into;
  };
  const std::string fmt = "{{.Name}}";
  std::vector<Query> queries = {
      {{"service", "ls", "--format", fmt}, &left.services},
      {{"ps", "-a", "--format", "{{.Names}}"}, &left.containers},
      {{"network", "ls", "--format", fmt}, &left.networks},
      {{"secret", "ls", "--format", fmt}, &left.secrets},
      {{"config", "ls", "--format", fmt}, &left.configs},
      {{"volume", "ls", "--format", fmt}, &left.volumes},
  };
  if (!all) queries.resize(3);  // services, containers, networks: what stack rm removes
  // Every query, by both labels, on every node that has such objects: all at once.
  struct Ask {
    const Query* q;
    std::string prefix;  // "<node>:" on another node
  };
  std::vector<Ask> asks;
  std::vector<Docker::Job> jobs;
  auto add = [&](const Query& q, Docker* on, const std::string& prefix) {
    for (const auto& label : {StackLabel(ns), HarnessLabel(ns)}) {
      std::vector<std::string> args = q.base;
      args.push_back("--filter");
      args.push_back(label);
      asks.push_back({&q, prefix});
      jobs.push_back({on, std::move(args)});
    }
  };
  for (const auto& q : queries) add(q, docker_, "");
  // Containers, networks and volumes are each node's own: look on every other node too.
  auto others = OtherNodes(deadline);
  if (!others.ok()) return others.status();
  for (auto& o : **others) {
    for (const auto& q : queries) {
      if (q.into == &left.services || q.into == &left.secrets || q.into == &left.configs) continue;
      add(q, o.docker.get(), o.node.hostname + ":");
    }
  }
  auto results = Docker::RunAll(jobs, log, Step(deadline), CancelToken::None());
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (Status s = Docker::Check(jobs[i].args, results[i]); !s.ok()) {
      return asks[i].prefix.empty() ? s : s.Prefixed("node " + asks[i].prefix.substr(0, asks[i].prefix.size() - 1));
    }
    for (const auto& id : Words(results[i]->out)) {
      std::string name = asks[i].prefix + id;
      auto& into = *asks[i].q->into;
      if (std::find(into.begin(), into.end(), name) == into.end()) into.push_back(name);
    }
  }
  return left;
}

Status SwarmRuntime::Teardown(const std::string& ns, PhaseLog* log, Deadline deadline) {
  return RemoveStack(ns, log, deadline, /*keep_data=*/false);
}

Status SwarmRuntime::RemoveStackKeepingData(const std::string& ns, PhaseLog* log, Deadline deadline) {
  return RemoveStack(ns, log, deadline, /*keep_data=*/true);
}

Status SwarmRuntime::RemoveStack(const std::string& ns, PhaseLog* log, Deadline deadline, bool keep_data) {
  const CancelToken& never = CancelToken::None();
  std::vector<std::string> rm = {"stack", "rm", ns};
  // A failed `stack rm` is not fatal by itself: what counts is what is left afterwards.
  // While Docker does not answer (a daemon restart), keep trying until the deadline.
  bool removed = false;
  int polls = 0, woken = 0;
  Leftovers left;
  std::vector<std::string> forced;  // containers removed directly
  auto since_service_rm = Clock::now();
  Status last_error;
  // Each removal Docker reports wakes the wait; without the stream, it polls.
  EventWatch watch(docker_, ns, deadline);
  while (true) {
    if (!removed) {
      auto r = docker_->Run(rm, log, Step(deadline), never);
      removed = r.ok() && r->ok();
    }
    auto found = Find(ns, nullptr, deadline, /*all=*/false);
    ++polls;
    if (found.ok()) {
      last_error = Status::Ok();
      left = *found;
      if (left.services.empty() && left.containers.empty() && left.networks.empty()) break;
      // Once the services are gone, Swarm's agent takes seconds to stop their containers
      // and more to remove them. A throwaway deploy's data goes with it, so its containers
      // are removed at once instead (kept data is stopped by Swarm, gracefully).
      if (!keep_data && removed && left.services.empty() && !left.containers.empty() && left.containers != forced) {
        RemoveOnNodes("container", left.containers, log);
        forced = left.containers;
        continue;
      }
    } else {
      last_error = found.status();
    }
    if (deadline.passed()) {
      if (!last_error.ok()) return last_error.Prefixed("teardown of " + ns + " (Docker not answering)");
      break;
    }
    // Services that reappear (a racing deploy) or linger are removed directly.
    if (found.ok() && !left.services.empty() && Clock::now() - since_service_rm >= kLingering) {
      std::vector<std::string> args = {"service", "rm"};
      args.insert(args.end(), left.services.begin(), left.services.end());
      docker_->Run(args, log, Step(deadline), never);
      since_service_rm = Clock::now();
    }
    if (!found.ok()) {
      Pause(Duration(1000));
    } else if (watch.Wait(watch.live() ? kTeardownFallbackPoll : kTeardownPoll, never)) {
      ++woken;
    }
  }
  if (log) {
    log->Observe("teardown_polls", polls);
    log->Observe("teardown_woken_by_events", woken);
  }
  if (!left.containers.empty() && left.services.empty()) {
    // Containers whose services are gone but which did not stop in time.
    RemoveOnNodes("container", left.containers, log);
  }
  if (!left.networks.empty() && left.containers.empty()) RemoveOnNodes("network", left.networks, log);
  if (keep_data) {
    // Configs are not data, and Swarm cannot change one under the same name: they go.
    if (auto all = Find(ns, log, Deadline::In(kStepTimeout), /*all=*/true); all.ok() && !all->configs.empty()) {
      std::vector<std::string> args = {"config", "rm"};
      args.insert(args.end(), all->configs.begin(), all->configs.end());
      docker_->Run(args, log, Step(Deadline::In(kStepTimeout)), never);
    }
    auto running = Find(ns, log, Deadline::In(kStepTimeout), /*all=*/false);
    if (!running.ok()) return running.status().Prefixed("removal of " + ns + " could not be verified");
    if (!running->services.empty() || !running->containers.empty() || !running->networks.empty()) {
      return Status::Infra("removal of the stack " + ns + " left objects behind: " + running->ToString());
    }
    return Status::Ok();
  }
  auto rest = Find(ns, log, Deadline::In(kStepTimeout), /*all=*/true);
  if (!rest.ok()) return rest.status().Prefixed("teardown of " + ns);
  left = *rest;
  if (left.empty()) return Status::Ok();  // that look at every kind was the verification
  auto remove = [&](const char* kind, const std::vector<std::string>& names) {
    if (names.empty()) return;
    std::vector<std::string> args = {kind, "rm"};
    args.insert(args.end(), names.begin(), names.end());
    docker_->Run(args, log, Step(Deadline::In(kStepTimeout)), never);
  };
  remove("secret", left.secrets);
  remove("config", left.configs);
  RemoveOnNodes("volume", left.volumes, log);

  auto after = FindLeftovers(ns, log, Deadline::In(kStepTimeout));
  if (!after.ok()) return after.status().Prefixed("teardown of " + ns + " could not be verified");
  if (!after->empty()) {
    if (log) log->Observe("leftovers", after->ToString());
    return Status::Infra("teardown of " + ns + " left objects behind: " + after->ToString());
  }
  return Status::Ok();
}

void SwarmRuntime::RemoveOnNodes(const std::string& kind, const std::vector<std::string>& names, PhaseLog* log) {
  std::map<std::string, std::vector<std::string>> by_node;  // "" for the target's node
  for (const auto& n : names) {
    auto colon = n.find(':');
    if (colon == std::string::npos) {
      by_node[""].push_back(n);
    } else {
      by_node[n.substr(0, colon)].push_back(n.substr(colon + 1));
    }
  }
  auto others = OtherNodes(Deadline::In(kStepTimeout));
  for (const auto& [node, list] : by_node) {
    Docker* on = docker_;
    if (!node.empty()) {
      on = nullptr;
      if (others.ok()) {
        for (auto& o : **others) {
          if (o.node.hostname == node) on = o.docker.get();
        }
      }
      if (on == nullptr) continue;  // unreachable now: the verification will say so
    }
    std::vector<std::string> args = {kind, "rm"};
    if (kind == "container") args.push_back("-f");
    args.insert(args.end(), list.begin(), list.end());
    on->Run(args, log, Step(Deadline::In(kStepTimeout)), CancelToken::None());
  }
}

Result<std::vector<SwarmRuntime::OtherNode>*> SwarmRuntime::OtherNodes(Deadline deadline) {
  if (other_nodes_) return &*other_nodes_;
  std::vector<OtherNode> out;
  if (nodes_ != nullptr) {
    auto nodes = nodes_->Nodes(docker_, Step(deadline));
    if (!nodes.ok()) return nodes.status();
    for (const auto& n : *nodes) {
      if (n.self || n.state != "ready") continue;
      auto exec = nodes_->For(n);
      if (!exec.ok()) return exec.status();
      out.push_back({n, std::make_unique<Docker>(*exec, docker_->binary())});
    }
  }
  other_nodes_ = std::move(out);
  return &*other_nodes_;
}

std::vector<Result<std::vector<std::string>>> SwarmRuntime::Inspect(Docker* on, const std::vector<std::string>& images,
                                                                   PhaseLog* log, Deadline deadline,
                                                                   const CancelToken& cancel) {
  std::vector<Docker::Job> jobs;
  for (const auto& image : images) jobs.push_back({on, {"image", "inspect", "--format", "{{json .RepoDigests}}", image}});
  auto results = Docker::RunAll(jobs, log, Step(deadline), cancel);
  std::vector<Result<std::vector<std::string>>> out;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& r = results[i];
    if (r.ok() && r->ok()) {
      auto j = nlohmann::json::parse(r->out, nullptr, false);
      std::vector<std::string> digests;
      if (j.is_array()) {
        for (const auto& d : j) {
          if (d.is_string()) digests.push_back(d.get<std::string>());
        }
      }
      out.emplace_back(std::move(digests));
    } else if (r.ok() && !r->cancelled && !r->timed_out &&
               (r->err.find("No such image") != std::string::npos || r->err.find("No such object") != std::string::npos)) {
      out.emplace_back(Status::NotFound("image " + images[i] + " is not on the node"));
    } else {
      out.emplace_back(Docker::Check(jobs[i].args, r));
    }
  }
  return out;
}

Status SwarmRuntime::CopyImage(OtherNode& to, const std::string& image, PhaseLog* log, Deadline deadline,
                               const CancelToken& cancel, nlohmann::json* copied) {
  // Copied through this machine: the nodes need not reach each other, nor a registry.
  Command save;
  save.argv = {docker_->binary(), "save", image};
  save.deadline = deadline;
  save.max_output = size_t{4} << 30;
  auto saved = docker_->executor()->Run(save, cancel);
  if (Status s = Docker::Check({"save", image}, saved); !s.ok()) return s;
  auto loaded = to.docker->Run({"load", "--quiet"}, log, deadline, cancel, saved->out);
  if (Status s = Docker::Check({"load", image}, loaded); !s.ok()) return s.Prefixed("node " + to.node.hostname);
  copied->push_back(image + " → " + to.node.hostname);
  return Status::Ok();
}

std::vector<SwarmRuntime::ImagePlan> SwarmRuntime::PlanImages(const std::vector<std::string>& images, PullPolicy policy,
                                                              PhaseLog* log, Deadline deadline,
                                                              const CancelToken& cancel) {
  std::vector<ImagePlan> out(images.size());
  auto have = Inspect(docker_, images, log, deadline, cancel);
  std::vector<Docker::Job> jobs;
  std::vector<size_t> ask;
  for (size_t i = 0; i < images.size(); ++i) {
    ImageReport& r = out[i].report;
    r.image = images[i];
    if (have[i].ok()) {
      r.digest = DigestFor(images[i], *have[i]);
      r.source = r.digest.empty() ? "local-only" : "present";
      if (policy != PullPolicy::kAlways) continue;
    } else if (have[i].status().code() != Status::Code::kNotFound) {
      out[i].report.source = "unknown";
      out[i].error = have[i].status().message();
      continue;
    } else if (policy == PullPolicy::kNever) {
      r.source = "missing";
      out[i].error = "not on the node, and the pull policy is 'never'";
      continue;
    }
    // The registry's answer, without pulling: its manifest and digest.
    jobs.push_back({docker_, {"manifest", "inspect", "--insecure", "--verbose", images[i]}});
    ask.push_back(i);
  }
  auto answers = Docker::RunAll(jobs, log, Step(deadline), cancel);
  for (size_t k = 0; k < ask.size(); ++k) {
    ImagePlan& plan = out[ask[k]];
    const auto& a = answers[k];
    bool was_present = plan.report.source == "present" || plan.report.source == "local-only";
    if (a.ok() && a->ok()) {
      auto j = nlohmann::json::parse(a->out, nullptr, false);
      if (j.is_array() && !j.empty()) j = j[0];  // a multi-platform list: the digest of the list is not shown
      std::string digest;
      if (j.is_object() && j.contains("Descriptor") && j["Descriptor"].is_object()) {
        digest = j["Descriptor"].value("digest", "");
      }
      plan.report.source = was_present ? plan.report.source : "pullable";
      if (!digest.empty()) plan.report.digest = digest;
      continue;
    }
    Status why = a.ok() ? PullFailure(images[ask[k]], a->err.empty() ? a->out : a->err, a->timed_out,
                                      Step(deadline).remaining())
                        : a.status();
    if (was_present) continue;  // `always` would pull it again; what is here still counts
    plan.report.source = why.code() == Status::Code::kFailed ? "missing" : "unknown";
    plan.error = why.message();
  }
  for (auto& p : out) p.report.pinned = PinnedReference(p.report.image, p.report.digest);
  return out;
}

Result<std::vector<ImageReport>> SwarmRuntime::EnsureImages(const std::vector<std::string>& images, PullPolicy policy,
                                                            PhaseLog* log, Deadline deadline,
                                                            const CancelToken& cancel,
                                                            const std::function<void(const std::string&)>& say) {
  const Duration budget = deadline.remaining();
  std::vector<ImageReport> reports(images.size());
  auto have = Inspect(docker_, images, log, deadline, cancel);
  std::vector<size_t> pull;
  for (size_t i = 0; i < images.size(); ++i) {
    reports[i].image = images[i];
    bool present = have[i].ok();
    if (!present && have[i].status().code() != Status::Code::kNotFound) return have[i].status();
    if (policy == PullPolicy::kAlways || (!present && policy == PullPolicy::kMissing)) {
      pull.push_back(i);
    } else if (!present) {
      return Status::Infra("image " + images[i] + " is not on the node and the pull policy is 'never' (pull it, " +
                           "build it, or run with --pull missing)");
    } else {
      reports[i].digest = DigestFor(images[i], *have[i]);
      reports[i].source = reports[i].digest.empty() ? "local-only" : "present";
    }
  }
  if (!pull.empty()) {
    std::vector<Docker::Job> jobs;
    for (size_t i : pull) {
      if (say) say("pulling image " + images[i]);
      jobs.push_back({docker_, {"pull", "--quiet", images[i]}});
    }
    auto pulled = Docker::RunAll(jobs, log, deadline, cancel);
    std::vector<std::string> names;
    for (size_t k = 0; k < pull.size(); ++k) {
      const auto& r = pulled[k];
      const std::string& image = images[pull[k]];
      if (!r.ok()) return r.status().Prefixed("image pull of " + image);
      if (r->cancelled) return Status::Cancelled("interrupted while pulling " + image);
      if (!r->ok()) return PullFailure(image, r->err.empty() ? r->out : r->err, r->timed_out, budget);
      reports[pull[k]].source = "pulled";
      reports[pull[k]].pull_time = r->elapsed;
      if (say) say("pulled image " + image + " in " + FormatDuration(r->elapsed));
      names.push_back(image);
    }
    auto after = Inspect(docker_, names, log, deadline, cancel);
    for (size_t k = 0; k < pull.size(); ++k) {
      if (!after[k].ok()) return after[k].status().Prefixed("image " + names[k] + " after its pull");
      reports[pull[k]].digest = DigestFor(names[k], *after[k]);
    }
  }
  for (auto& r : reports) r.pinned = PinnedReference(r.image, r.digest);

  // Tasks may land on any active node: each gets the same images, pulled there by digest
  // (the registry is reachable from every node) or, for a local-only image, copied.
  auto others = OtherNodes(deadline);
  if (!others.ok()) return others.status();
  nlohmann::json copied = nlohmann::json::array(), pulled_there = nlohmann::json::array();
  auto record = [&] {
    if (log != nullptr && !copied.empty()) log->Observe("images_copied", copied);
    if (log != nullptr && !pulled_there.empty()) log->Observe("images_pulled_on_nodes", pulled_there);
  };
  ScopeGuard observe(record);
  for (auto& o : **others) {
    if (o.node.availability != "active") continue;
    std::vector<std::string> pinned;
    for (const auto& r : reports) pinned.push_back(r.pinned);
    auto there = Inspect(o.docker.get(), pinned, log, deadline, cancel);
    std::vector<Docker::Job> jobs;
    std::vector<size_t> which;
    for (size_t i = 0; i < reports.size(); ++i) {
      if (there[i].ok()) continue;
      if (there[i].status().code() != Status::Code::kNotFound) return there[i].status().Prefixed("node " + o.node.hostname);
      if (reports[i].digest.empty()) {
        if (Status s = CopyImage(o, reports[i].image, log, deadline, cancel, &copied); !s.ok()) return s;
        continue;
      }
      jobs.push_back({o.docker.get(), {"pull", "--quiet", reports[i].pinned}});
      which.push_back(i);
    }
    auto pulled = Docker::RunAll(jobs, log, deadline, cancel);
    for (size_t k = 0; k < jobs.size(); ++k) {
      const auto& r = pulled[k];
      const std::string& image = reports[which[k]].pinned;
      if (!r.ok()) return r.status().Prefixed("node " + o.node.hostname + ": image pull of " + image);
      if (r->cancelled) return Status::Cancelled("interrupted while pulling " + image);
      if (!r->ok()) {
        return PullFailure(image, r->err.empty() ? r->out : r->err, r->timed_out, budget)
            .Prefixed("node " + o.node.hostname);
      }
      pulled_there.push_back({{"node", o.node.hostname}, {"image", image}});
    }
  }
  return reports;
}

Result<SwarmRuntime::Located> SwarmRuntime::ContainerOf(const std::string& ns, const std::string& service,
                                                        Deadline deadline, const CancelToken& cancel) {
  auto others = OtherNodes(deadline);
  if (!others.ok()) return others.status();
  std::string full = ns + "_" + service;
  if ((*others)->empty()) {
    // One node: its containers, a healthy one first.
    std::vector<std::string> args = {"ps", "--no-trunc", "--filter",
                                     "label=com.docker.swarm.service.name=" + full, "--filter",
                                     "status=running", "--format", "{{json .}}"};
    auto r = docker_->Run(args, nullptr, Step(deadline), cancel);
    if (Status s = Docker::Check(args, r); !s.ok()) return s;
    std::vector<ContainerState> cs;
    if (Status s = ParseDockerPs(r->out, &cs); !s.ok()) return s;
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
