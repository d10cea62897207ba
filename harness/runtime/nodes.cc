#include "runtime/nodes.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

namespace harness {

Result<std::vector<SwarmNode>> ListNodes(Docker* docker, Deadline deadline) {
  const CancelToken& none = CancelToken::None();
  std::vector<Docker::Job> jobs = {{docker, {"info", "--format", "{{.Swarm.NodeID}}"}},
                                   {docker, {"node", "ls", "--quiet"}}};
  auto r0 = Docker::RunAll(jobs, nullptr, deadline, none);
  if (Status s = Docker::Check(jobs[0].args, r0[0]); !s.ok()) return s;
  if (Status s = Docker::Check(jobs[1].args, r0[1]); !s.ok()) return s;
  std::string self_id = r0[0]->out.substr(0, r0[0]->out.find('\n'));
  const auto& ids = r0[1];
  std::vector<std::string> inspect = {
      "node", "inspect", "--format",
      "{{.ID}}|{{.Description.Hostname}}|{{.Status.Addr}}|{{.Spec.Role}}|{{.Status.State}}|{{.Spec.Availability}}"};
  std::istringstream in(ids->out);
  for (std::string id; std::getline(in, id);) {
    if (!id.empty()) inspect.push_back(id);
  }
  std::vector<SwarmNode> nodes;
  if (inspect.size() == 3) return nodes;
  auto r = docker->Run(inspect, nullptr, deadline, none);
  if (Status s = Docker::Check(inspect, r); !s.ok()) return s;
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '|');) f.push_back(x);
    if (f.size() != 6) continue;
    nodes.push_back({f[0], f[1], f[2], f[3], f[4], f[5], f[0] == self_id});
  }
  return nodes;
}

Result<std::vector<SwarmNode>> ListNodes(DockerApi* api, Deadline deadline) {
  auto info = api->Get("/info", deadline);
  if (!info.ok()) return info.status();
  auto i = nlohmann::json::parse(*info, nullptr, false);
  std::string self_id;
  if (i.is_object() && i.contains("Swarm") && i["Swarm"].is_object()) self_id = i["Swarm"].value("NodeID", "");
  auto body = api->Get("/nodes", deadline);
  if (!body.ok()) return body.status();
  auto list = nlohmann::json::parse(*body, nullptr, false);
  if (!list.is_array()) return Status::Infra("Docker API: unreadable list of nodes");
  auto at = [](const nlohmann::json& o, const char* a, const char* b) -> std::string {
    if (!o.is_object() || !o.contains(a) || !o[a].is_object()) return "";
    const auto& inner = o[a];
    return inner.contains(b) && inner[b].is_string() ? inner[b].get<std::string>() : "";
  };
  std::vector<SwarmNode> nodes;
  for (const auto& n : list) {
    if (!n.is_object() || !n.contains("ID") || !n["ID"].is_string()) continue;
    std::string id = n["ID"];
    nodes.push_back({id, at(n, "Description", "Hostname"), at(n, "Status", "Addr"), at(n, "Spec", "Role"),
                     at(n, "Status", "State"), at(n, "Spec", "Availability"), id == self_id});
  }
  std::sort(nodes.begin(), nodes.end(), [](const SwarmNode& a, const SwarmNode& b) { return a.hostname < b.hostname; });
  return nodes;
}

Result<std::vector<SwarmNode>> NodeReach::Nodes(Docker* docker, Deadline deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (nodes_ && Clock::now() - nodes_at_ < kNodesFresh) return *nodes_;
  }
  DockerApi* api = api_ != nullptr ? api_->Get() : nullptr;
  auto nodes = api != nullptr ? ListNodes(api, deadline) : ListNodes(docker, deadline);
  if (!nodes.ok()) return nodes;
  std::lock_guard<std::mutex> lock(mu_);
  nodes_ = *nodes;
  nodes_at_ = Clock::now();
  return nodes;
}

Result<Executor*> NodeReach::For(const SwarmNode& node) {
  if (node.self) return target_;
  if (!ssh_) {
    return Status::Infra("node " + node.hostname + " (" + node.address +
                         ") is another machine; reach the Swarm with --target ssh://… so that its nodes are "
                         "reached over SSH too");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = opened_.find(node.id);
  if (it != opened_.end()) return it->second.get();
  Target t = *ssh_;
  t.host = node.address;
  auto e = SshExecutor::Open(t, options_);
  if (!e.ok()) return Status::Infra("node " + node.hostname + ": " + e.status().message());
  Executor* raw = e->get();
  opened_[node.id] = std::move(*e);
  return raw;
}

}  // namespace harness
