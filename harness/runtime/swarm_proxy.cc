// SwarmRuntime::FindProxy (runtime/runtime.h): the Swarm's reverse proxy, from its services.
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/swarm.h"
#include "runtime/swarm_steps.h"

namespace harness {
namespace {

using namespace swarm_steps;

constexpr const char* kProxyNetwork = "proxy";

// The first service of `services` (`docker service inspect`'s array, or the API's) that
// joins the network `network_id` and publishes container port 443.
std::optional<Runtime::ProxyEntry> ProxyAmong(const nlohmann::json& services, const std::string& network_id) {
  if (!services.is_array()) return std::nullopt;
  for (const auto& svc : services) {
    const nlohmann::json spec = svc.value("Spec", nlohmann::json::object());
    bool joins = false;
    const nlohmann::json task = spec.value("TaskTemplate", nlohmann::json::object());
    for (const auto& n : task.value("Networks", nlohmann::json::array())) {
      std::string target = n.value("Target", "");
      joins = joins || target == network_id || target == kProxyNetwork;
    }
    if (!joins) continue;
    Runtime::ProxyEntry entry;
    entry.service = spec.value("Name", "");
    const nlohmann::json endpoint = svc.value("Endpoint", nlohmann::json::object());
    for (const auto& p : endpoint.value("Ports", nlohmann::json::array())) {
      if (p.value("Protocol", "tcp") != "tcp") continue;
      int target = p.value("TargetPort", 0), published = p.value("PublishedPort", 0);
      if (target == 443 && entry.https_port == 0) entry.https_port = published;
      if (target == 80 && entry.http_port == 0) entry.http_port = published;
    }
    if (entry.https_port > 0) return entry;
  }
  return std::nullopt;
}

}  // namespace

Result<std::optional<Runtime::ProxyEntry>> SwarmRuntime::FindProxy(PhaseLog* log, Deadline deadline,
                                                                   const CancelToken& cancel) {
  std::string network_id;
  nlohmann::json services;
  if (api_ != nullptr) {
    auto net = api_->Call("GET", "/networks/" + DockerApi::Escape(kProxyNetwork), "", Step(deadline));
    if (!net.ok()) return net.status();
    if (net->status == 404) return std::optional<ProxyEntry>();
    network_id = nlohmann::json::parse(net->body, nullptr, false).value("Id", "");
    auto body = api_->Get("/services", Step(deadline));
    if (!body.ok()) return body.status();
    services = nlohmann::json::parse(*body, nullptr, false);
  } else {
    std::vector<std::string> inspect = {"network", "inspect", "--format", "{{.Id}}", kProxyNetwork};
    auto net = docker_->Run(inspect, log, Step(deadline), cancel);
    if (!net.ok()) return net.status();
    if (net->exit_code != 0) return std::optional<ProxyEntry>();  // no proxy network, so no proxy
    network_id = net->out.substr(0, net->out.find('\n'));
    std::vector<std::string> ls = {"service", "ls", "--quiet"};
    auto ids = docker_->Run(ls, log, Step(deadline), cancel);
    if (Status s = Docker::Check(ls, ids); !s.ok()) return s;
    std::vector<std::string> args = {"service", "inspect"};
    std::istringstream in(ids->out);
    for (std::string id; in >> id;) args.push_back(id);
    if (args.size() == 2) return std::optional<ProxyEntry>();
    auto r = docker_->Run(args, log, Step(deadline), cancel);
    if (!r.ok()) return r.status();
    services = nlohmann::json::parse(r->out, nullptr, false);  // a service gone meanwhile: the rest
  }
  return ProxyAmong(services, network_id);
}

}  // namespace harness
