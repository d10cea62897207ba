#include "runtime/nodes.h"

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

Result<std::vector<SwarmNode>> NodeReach::Nodes(Docker* docker, Deadline deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (nodes_ && Clock::now() - nodes_at_ < kNodesFresh) return *nodes_;
  }
  auto nodes = ListNodes(docker, deadline);
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
