// SwarmRuntime::FindProxy (runtime/runtime.h): the Swarm's reverse proxy, from its services.
#include <cstdint>
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
// `j[key]` when `j` is an object holding it with the type `want`; else null (an empty
// array when `want` is an array). Never a temporary: the fallbacks are static.
const nlohmann::json& Member(const nlohmann::json& j, const char* key, nlohmann::json::value_t want) {
  static const nlohmann::json null_value = nullptr;
  static const nlohmann::json empty_array = nlohmann::json::array();
  const nlohmann::json& fallback = want == nlohmann::json::value_t::array ? empty_array : null_value;
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  const bool number = want == nlohmann::json::value_t::number_unsigned && it->is_number_integer();
  return it->type() == want || number ? *it : fallback;
}

}  // namespace

std::optional<Runtime::ProxyEntry> ProxyAmong(const nlohmann::json& services, const std::string& network_id) {
  using T = nlohmann::json::value_t;
  if (!services.is_array()) return std::nullopt;
  for (const auto& svc : services) {
    const nlohmann::json& spec = Member(svc, "Spec", T::object);
    const nlohmann::json& task = Member(spec, "TaskTemplate", T::object);
    bool joins = false;
    for (const auto& n : Member(task, "Networks", T::array)) {
      const nlohmann::json& target = Member(n, "Target", T::string);
      joins = joins || (target.is_string() && (target == network_id || target == kProxyNetwork));
    }
    if (!joins) continue;
    Runtime::ProxyEntry entry;
    const nlohmann::json& name = Member(spec, "Name", T::string);
    entry.service = name.is_string() ? name.get<std::string>() : "";
    for (const auto& p : Member(Member(svc, "Endpoint", T::object), "Ports", T::array)) {
      const nlohmann::json& protocol = Member(p, "Protocol", T::string);
      if (protocol.is_string() && protocol != "tcp") continue;
      const nlohmann::json& target = Member(p, "TargetPort", T::number_unsigned);
      const nlohmann::json& published = Member(p, "PublishedPort", T::number_unsigned);
      if (!target.is_number() || !published.is_number()) continue;
      const auto t = target.get<int64_t>(), port = published.get<int64_t>();
      if (port <= 0 || port > 65535) continue;
      if (t == 443 && entry.https_port == 0) entry.https_port = static_cast<int>(port);
      if (t == 80 && entry.http_port == 0) entry.http_port = static_cast<int>(port);
    }
    if (entry.https_port > 0) return entry;
  }
  return std::nullopt;
}


Result<std::optional<Runtime::ProxyEntry>> SwarmRuntime::FindProxy(PhaseLog* log, Deadline deadline,
                                                                   const CancelToken& cancel) {
  std::string network_id;
  nlohmann::json services;
  if (api_ != nullptr) {
    auto net = api_->Call("GET", "/networks/" + DockerApi::Escape(kProxyNetwork), "", Step(deadline));
    if (!net.ok()) return net.status();
    if (net->status == 404) return std::optional<ProxyEntry>();
    if (net->status != 200) {
      return Status::Infra("looking for the proxy network: Docker answered " + std::to_string(net->status) + ": " +
                           net->body.substr(0, 200));
    }
    const nlohmann::json found = nlohmann::json::parse(net->body, nullptr, false);
    const nlohmann::json& id = Member(found, "Id", nlohmann::json::value_t::string);
    network_id = id.is_string() ? id.get<std::string>() : "";
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
