// SwarmRuntime's teardown: the namespaces our labels mark, what a namespace left behind
// (by both label sets, on every node), and the verified removal of a stack.
#include <algorithm>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "runtime/event_watch.h"
#include "runtime/swarm.h"
#include "runtime/swarm_steps.h"

namespace harness {

using namespace swarm_steps;

namespace {

// One object of a kind as the Engine API lists it.
struct ApiObject {
  std::string id;
  std::string name;
  nlohmann::json labels;
};

// The API's path of a kind's objects, with the query begun ("...?").
std::string ListPath(const std::string& kind) {
  if (kind == "container") return "/containers/json?all=1&";
  return "/" + kind + "s?";
}

// The local node's objects of `kind` ("service", "container", "network", "secret",
// "config", "volume") that carry `label` ("key" or "key=value").
Result<std::vector<ApiObject>> ListThroughApi(DockerApi* api, const std::string& kind, const std::string& label,
                                              Deadline deadline) {
  auto body = api->Get(ListPath(kind) + "filters=" + DockerApi::Filters("label", {label}), deadline);
  if (!body.ok()) return body.status();
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (kind == "volume" && j.is_object()) j = j.contains("Volumes") && j["Volumes"].is_array() ? j["Volumes"] : nlohmann::json::array();
  if (!j.is_array()) return Status::Infra("Docker API: unreadable list of " + kind + "s");
  auto text = [](const nlohmann::json& o, const char* key) {
    return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
  };
  std::vector<ApiObject> out;
  for (const auto& o : j) {
    if (!o.is_object()) continue;
    ApiObject a;
    const bool spec = kind == "service" || kind == "secret" || kind == "config";
    const nlohmann::json& holder = spec ? (o.contains("Spec") ? o["Spec"] : nlohmann::json()) : o;
    a.id = text(o, kind == "network" || kind == "container" ? "Id" : kind == "volume" ? "Name" : "ID");
    if (kind == "container") {
      if (o.contains("Names") && o["Names"].is_array() && !o["Names"].empty() && o["Names"][0].is_string()) {
        a.name = o["Names"][0].get<std::string>();
        if (!a.name.empty() && a.name[0] == '/') a.name.erase(0, 1);
      }
    } else {
      a.name = text(holder, "Name");
    }
    if (holder.is_object() && holder.contains("Labels") && holder["Labels"].is_object()) a.labels = holder["Labels"];
    if (!a.name.empty()) out.push_back(std::move(a));
  }
  return out;
}

// The label value of an object; "" when it has none.
std::string LabelOf(const ApiObject& o, const char* key) {
  return o.labels.is_object() && o.labels.contains(key) && o.labels[key].is_string() ? o.labels[key].get<std::string>()
                                                                                     : std::string();
}

}  // namespace

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
  if (api_ != nullptr) {
    // The lists carry the labels: no inspect is needed.
    for (const char* kind : {"service", "secret", "config", "network", "volume", "container"}) {
      auto list = ListThroughApi(api_, kind, "harness.namespace", Step(deadline));
      if (!list.ok()) return list.status();
      for (const auto& o : *list) {
        std::string ns = LabelOf(o, "harness.namespace");
        if (ns.empty() || !LabelOf(o, "harness.warm").empty()) continue;
        LabelledNamespace& l = found[ns];
        l.namespace_name = ns;
        if (l.run_id.empty()) l.run_id = LabelOf(o, "harness.run");
        if (l.owner.empty()) l.owner = LabelOf(o, "harness.owner");
      }
    }
  } else {
    for (const auto& k : kinds) add(k, docker_, "");
  }
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
  auto keep = [](std::vector<std::string>& into, const std::string& name) {
    if (std::find(into.begin(), into.end(), name) == into.end()) into.push_back(name);
  };
  if (api_ != nullptr) {
    const char* kinds[] = {"service", "container", "network", "secret", "config", "volume"};
    for (size_t i = 0; i < queries.size(); ++i) {
      for (const auto& label : {StackLabel(ns), HarnessLabel(ns)}) {
        auto list = ListThroughApi(api_, kinds[i], label.substr(6), Step(deadline));
        if (!list.ok()) return list.status();
        for (const auto& o : *list) keep(*queries[i].into, o.name);
      }
    }
  } else {
    for (const auto& q : queries) add(q, docker_, "");
  }
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
    for (const auto& id : Words(results[i]->out)) keep(*asks[i].q->into, asks[i].prefix + id);
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
  std::unique_ptr<EventWatch> events = Events(ns, deadline);
  EventWatch& watch = *events;
  std::set<std::string> removed_services;  // ids, through the API
  bool settled = false;
  while (true) {
    if (!removed && api_ != nullptr) {
      removed = RemoveStackThroughApi(ns, deadline, &removed_services).ok();
    } else if (!removed) {
      auto r = docker_->Run(rm, log, Step(deadline), never);
      removed = r.ok() && r->ok();
    }
    auto found = Find(ns, nullptr, deadline, /*all=*/false);
    ++polls;
    if (found.ok()) {
      last_error = Status::Ok();
      left = *found;
      if (left.services.empty() && left.containers.empty() && left.networks.empty()) {
        // A deploy cut short can still have a task on its way to a node: its network and
        // container appear there after the services are gone. Swarm keeps a removed
        // service's tasks until their node has shut them down, so none left is the proof;
        // without the API, nothing at the first look is confirmed by a look after a quiet
        // second (or the namespace's next event).
        Duration wait{0};
        if (!removed_services.empty()) {
          auto tasks = TasksOf(removed_services, deadline);
          if (!tasks.ok() || *tasks > 0) wait = kTeardownPoll;  // Swarm deletes them in batches
        } else if (polls == 1 && !settled) {
          settled = true;
          wait = kTeardownSettle;
        }
        if (wait == Duration(0) || deadline.passed()) break;
        if (watch.Wait(wait, never)) ++woken;
        continue;
      }
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
      // Whether they went is what the next look of this loop sees.
      Remove("service", left.services, log, deadline).IgnoreError();
      since_service_rm = Clock::now();
    }
    if (!found.ok()) {
      Pause(Duration(1000));
    } else if (watch.Wait(watch.live() ? kTeardownFallbackPoll : kTeardownPoll, never)) {
      ++woken;
    }
  }
  if (log) {
    log->Observe("teardown_through", api_ != nullptr ? "engine-api" : "docker-cli");
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
    // A config left behind would make the re-deploy fail on it, so its removal is checked.
    Status configs_removed;
    if (auto all = Find(ns, log, Deadline::In(kStepTimeout), /*all=*/true); !all.ok()) {
      configs_removed = all.status().Prefixed("the configs of " + ns + " could not be listed");
    } else if (!all->configs.empty()) {
      configs_removed = Remove("config", all->configs, log, Deadline::In(kStepTimeout))
                            .Prefixed("the configs of " + ns + " were not removed");
    }
    auto running = Find(ns, log, Deadline::In(kStepTimeout), /*all=*/false);
    if (!running.ok()) return running.status().Prefixed("removal of " + ns + " could not be verified");
    if (!running->services.empty() || !running->containers.empty() || !running->networks.empty()) {
      return Status::Infra("removal of the stack " + ns + " left objects behind: " + running->ToString());
    }
    return configs_removed;
  }
  auto rest = Find(ns, log, Deadline::In(kStepTimeout), /*all=*/true);
  if (!rest.ok()) return rest.status().Prefixed("teardown of " + ns);
  left = *rest;
  if (left.empty()) return Status::Ok();  // that look at every kind was the verification
  // FindLeftovers below verifies and names what is left.
  Remove("secret", left.secrets, log, Deadline::In(kStepTimeout)).IgnoreError();
  Remove("config", left.configs, log, Deadline::In(kStepTimeout)).IgnoreError();
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
    // Every caller looks again afterwards (an unreachable node too) and names what is left.
    if (node.empty()) {
      Remove(kind, list, log, Deadline::In(kStepTimeout)).IgnoreError();
      continue;
    }
    std::vector<std::string> args = {kind, "rm"};
    if (kind == "container") args.push_back("-f");
    args.insert(args.end(), list.begin(), list.end());
    on->Run(args, log, Step(Deadline::In(kStepTimeout)), CancelToken::None()).IgnoreError();
  }
}

Status SwarmRuntime::Remove(const std::string& kind, const std::vector<std::string>& names, PhaseLog* log,
                            Deadline deadline) {
  if (names.empty()) return Status::Ok();
  if (api_ == nullptr) {
    std::vector<std::string> args = {kind, "rm"};
    if (kind == "container") args.push_back("-f");
    args.insert(args.end(), names.begin(), names.end());
    return Docker::Check(args, docker_->Run(args, log, Step(deadline), CancelToken::None()));
  }
  Status first;
  for (const auto& name : names) {
    std::string path = "/" + kind + "s/" + DockerApi::Escape(name) + (kind == "container" ? "?force=1" : "");
    Status s = api_->Delete(path, Step(deadline));
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Result<int> SwarmRuntime::TasksOf(const std::set<std::string>& services, Deadline deadline) {
  // A removed service cannot be named in a filter any more: every task is read.
  auto body = api_->Get("/tasks", Step(deadline));
  if (!body.ok()) return body.status();
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (!j.is_array()) return Status::Infra("Docker API: unreadable list of tasks");
  int n = 0;
  for (const auto& t : j) {
    if (t.is_object() && t.contains("ServiceID") && t["ServiceID"].is_string() &&
        services.count(t["ServiceID"].get<std::string>()) > 0) {
      ++n;
    }
  }
  return n;
}

Status SwarmRuntime::RemoveStackThroughApi(const std::string& ns, Deadline deadline,
                                           std::set<std::string>* removed_services) {
  // What `docker stack rm` removes, in its order: the stack's services, secrets, configs
  // and networks (by the stack label); an error of one does not stop the others.
  Status first;
  for (const char* kind : {"service", "secret", "config", "network"}) {
    auto list = ListThroughApi(api_, kind, StackLabel(ns).substr(6), Step(deadline));
    if (!list.ok()) return list.status();
    for (const auto& o : *list) {
      Status s = api_->Delete("/" + std::string(kind) + "s/" + DockerApi::Escape(o.id), Step(deadline));
      if (s.ok() && std::string(kind) == "service") removed_services->insert(o.id);
      if (!s.ok() && first.ok()) first = s;
    }
  }
  return first;
}

}  // namespace harness
