#include "warm/collision.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "base/strings.h"
#include "recipe/naming.h"

namespace harness {
namespace {

constexpr const char* kStackLabel = "com.docker.stack.namespace";
constexpr const char* kNamespaceLabel = "harness.namespace";

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const std::string* FirstMatch(const std::vector<std::string>& patterns, const std::string& text) {
  for (const auto& p : patterns) {
    if (GlobMatch(p, text)) return &p;
  }
  return nullptr;
}

uint32_t Fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// The words of `out`: one id per line from `docker ... ls -q`.
std::vector<std::string> Words(const std::string& out) {
  std::vector<std::string> words;
  std::istringstream in(out);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

}  // namespace

bool GlobMatch(const std::string& pattern, const std::string& text) {
  // Iterative wildcard matching with backtracking to the last '*'.
  size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<ReservedPolicy> LoadReservedPolicy(const std::string& path) {
  ReservedPolicy policy;
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return policy;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (doc.IsNull()) return policy;
  if (!doc.IsMap()) return Status::InvalidArgument(path + ": expected a mapping of policy keys");
  auto where = [&](const YAML::Node& n) { return path + ":" + std::to_string(n.Mark().line + 1); };
  for (auto it : doc) {
    std::string key = it.first.as<std::string>();
    const YAML::Node& v = it.second;
    try {
      if (key == "namespace_prefix" || key == "domain_suffix") {
        if (!v.IsScalar()) return Status::InvalidArgument(where(v) + ": '" + key + "' must be a string");
        std::string s = v.as<std::string>();
        Status ok = key == "namespace_prefix" ? ValidateRecipeName(s) : ValidateDomain(s);
        if (!ok.ok() || (key == "namespace_prefix" && s.size() > 6)) {
          return Status::InvalidArgument(where(v) + ": '" + key + "': " +
                                         (ok.ok() ? "at most 6 characters" : ok.message()));
        }
        (key == "namespace_prefix" ? policy.namespace_prefix : policy.domain_suffix) = s;
      } else if (key == "stacks" || key == "services" || key == "aliases" || key == "domains") {
        if (!v.IsSequence()) return Status::InvalidArgument(where(v) + ": '" + key + "' must be a list of names");
        auto& list = key == "stacks"     ? policy.stacks
                     : key == "services" ? policy.services
                     : key == "aliases"  ? policy.aliases
                                         : policy.domains;
        for (auto item : v) {
          if (!item.IsScalar() || item.as<std::string>().empty()) {
            return Status::InvalidArgument(where(item) + ": '" + key + "' entries must be names or patterns");
          }
          list.push_back(item.as<std::string>());
        }
      } else if (key == "ports") {
        if (!v.IsSequence()) return Status::InvalidArgument(where(v) + ": 'ports' must be a list of port numbers");
        for (auto item : v) {
          int port = item.as<int>();
          if (port < 1 || port > 65535) return Status::InvalidArgument(where(item) + ": not a port: " + item.as<std::string>());
          policy.ports.push_back(port);
        }
      } else {
        return Status::InvalidArgument(where(it.first) + ": unknown key '" + key +
                                       "' (known: namespace_prefix, domain_suffix, stacks, services, "
                                       "aliases, domains, ports)");
      }
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(where(v) + ": '" + key + "': " + e.msg);
    }
  }
  return policy;
}

std::string WarmNamespace(const std::string& recipe, const std::string& prefix) {
  std::string head = recipe.substr(0, kNamespacePrefix);
  while (!head.empty() && head.back() == '-') head.pop_back();
  char hash[8];
  std::snprintf(hash, sizeof hash, "%04x", static_cast<unsigned>(Fnv1a(recipe) & 0xffffu));
  return prefix + "-" + head + "-" + hash;
}

std::string WarmDomain(const std::string& ns, const ReservedPolicy& policy) {
  return ns + "." + policy.domain_suffix;
}

Result<Inventory> ParseInventory(const std::string& services_json, const std::string& networks_lines) {
  Inventory inv;
  std::map<std::string, std::string> network_names;  // id → name
  for (const auto& line : Docker::Lines(networks_lines)) {
    auto n = nlohmann::json::parse(line, nullptr, false);
    if (!n.is_object()) continue;
    std::string name = n.value("Name", "");
    network_names[n.value("ID", "")] = name;
    inv.networks.push_back(name);
  }
  auto name_of = [&](const std::string& id) {
    for (const auto& [short_id, name] : network_names) {
      if (!short_id.empty() && id.rfind(short_id, 0) == 0) return name;
    }
    return id;
  };
  auto all = nlohmann::json::parse(services_json.empty() ? "[]" : services_json, nullptr, false);
  if (!all.is_array()) return Status::Infra("docker service inspect: not a JSON array");
  std::set<std::string> stacks;
  for (const auto& s : all) {
    const nlohmann::json spec = s.value("Spec", nlohmann::json::object());
    LiveService svc;
    svc.name = spec.value("Name", "");
    const nlohmann::json labels = spec.value("Labels", nlohmann::json::object());
    for (const auto& [k, v] : labels.items()) {
      if (v.is_string()) svc.labels[k] = v.get<std::string>();
    }
    if (auto it = svc.labels.find(kStackLabel); it != svc.labels.end()) {
      svc.stack = it->second;
      stacks.insert(svc.stack);
    }
    // A service answers to its own name, and to its aliases, on every network it joins.
    nlohmann::json nets = spec.value("TaskTemplate", nlohmann::json::object()).value("Networks", nlohmann::json::array());
    if (nets.empty()) nets = spec.value("Networks", nlohmann::json::array());
    for (const auto& n : nets) {
      auto& names = svc.aliases[name_of(n.value("Target", ""))];
      names.push_back(svc.name);
      for (const auto& a : n.value("Aliases", nlohmann::json::array())) {
        if (a.is_string() && !Contains(names, a.get<std::string>())) names.push_back(a.get<std::string>());
      }
    }
    nlohmann::json ports = s.value("Endpoint", nlohmann::json::object()).value("Ports", nlohmann::json::array());
    if (ports.empty()) ports = spec.value("EndpointSpec", nlohmann::json::object()).value("Ports", nlohmann::json::array());
    for (const auto& p : ports) {
      if (int published = p.value("PublishedPort", 0); published > 0) svc.published_ports.push_back(published);
    }
    // Router domains: Host(`…`) rules in the service's labels (Traefik's convention).
    for (const auto& [k, v] : svc.labels) {
      for (const auto& domain : HostRuleDomains(v)) {
        if (!Contains(svc.domains, domain)) svc.domains.push_back(domain);
      }
    }
    inv.services.push_back(std::move(svc));
  }
  inv.stacks.assign(stacks.begin(), stacks.end());
  return inv;
}

Result<Inventory> ReadInventory(Docker* docker, PhaseLog* log, Deadline deadline) {
  const CancelToken& none = CancelToken::None();
  std::vector<std::string> ls = {"service", "ls", "-q"};
  auto ids = docker->Run(ls, log, deadline, none);
  if (Status s = Docker::Check(ls, ids); !s.ok()) return s;
  std::vector<std::string> inspect = {"service", "inspect"};
  for (const auto& id : Words(ids->out)) inspect.push_back(id);
  std::string services_json = "[]";
  if (inspect.size() > 2) {
    auto r = docker->Run(inspect, log, deadline, none);
    if (Status s = Docker::Check(inspect, r); !s.ok()) {
      // A service removed between the two commands: ask once more.
      auto again = docker->Run(ls, log, deadline, none);
      if (Status s2 = Docker::Check(ls, again); !s2.ok()) return s2;
      inspect.resize(2);
      for (const auto& id : Words(again->out)) inspect.push_back(id);
      if (inspect.size() > 2) r = docker->Run(inspect, log, deadline, none);
      if (Status s3 = Docker::Check(inspect, r); inspect.size() > 2 && !s3.ok()) return s3;
    }
    if (inspect.size() > 2) services_json = r->out;
  }
  std::vector<std::string> nets = {"network", "ls", "--no-trunc", "--format", "{{json .}}"};
  auto n = docker->Run(nets, log, deadline, none);
  if (Status s = Docker::Check(nets, n); !s.ok()) return s;
  return ParseInventory(services_json, n->out);
}

std::string Collision::message() const { return kind + ": " + what + " — " + with; }

std::vector<Collision> FindCollisions(const WarmPlan& plan, const Inventory& live, const ReservedPolicy& policy) {
  std::vector<Collision> out;
  const std::string& ns = plan.namespace_name;
  auto ours = [&](const LiveService& s) {
    auto it = s.labels.find(kNamespaceLabel);
    return s.stack == ns && it != s.labels.end() && it->second == ns;
  };
  // The policy first: names the harness must never take, whatever runs right now.
  if (const auto* p = FirstMatch(policy.stacks, ns)) {
    out.push_back({"reserved", "namespace " + ns, "reserved stack name '" + *p + "' in the policy"});
  }
  for (const auto& svc : plan.objects.services) {
    if (const auto* p = FirstMatch(policy.services, ns + "_" + svc)) {
      out.push_back({"reserved", "service " + ns + "_" + svc, "reserved service name '" + *p + "' in the policy"});
    }
  }
  std::vector<std::string> domains = {plan.domain};
  for (const auto& fp : plan.objects.footprints) {
    for (const auto& d : fp.domains) {
      if (!Contains(domains, d)) domains.push_back(d);
    }
  }
  for (const auto& d : domains) {
    if (const auto* p = FirstMatch(policy.domains, d)) {
      out.push_back({"reserved", "domain " + d, "reserved domain '" + *p + "' in the policy"});
    }
  }
  for (const auto& fp : plan.objects.footprints) {
    for (const auto& [net, names] : fp.external_aliases) {
      for (const auto& name : names) {
        if (const auto* p = FirstMatch(policy.aliases, name)) {
          out.push_back({"reserved", "name '" + name + "' of service " + fp.service + " on shared network " + net,
                         "reserved alias '" + *p + "' in the policy"});
        }
      }
    }
    for (int port : fp.published_ports) {
      if (std::find(policy.ports.begin(), policy.ports.end(), port) != policy.ports.end()) {
        out.push_back({"reserved", "published port " + std::to_string(port) + " of service " + fp.service,
                       "reserved port in the policy"});
      }
    }
  }
  // Then what runs on the Swarm.
  std::set<std::string> foreign_in_ns;
  for (const auto& s : live.services) {
    if (s.stack == ns && !ours(s)) foreign_in_ns.insert(s.name);
  }
  if (!foreign_in_ns.empty()) {
    out.push_back({"stack", "namespace " + ns,
                   "a stack of that name runs and is not this warm deploy (services: " +
                       Join(std::vector<std::string>(foreign_in_ns.begin(), foreign_in_ns.end()), ", ") + ")"});
  }
  for (const auto& svc : plan.objects.services) {
    std::string full = ns + "_" + svc;
    for (const auto& s : live.services) {
      if (s.name == full && !ours(s) && !foreign_in_ns.count(s.name)) {
        out.push_back({"service", "service " + full, "a live service of that name (stack '" + s.stack + "')"});
      }
    }
  }
  for (const auto& fp : plan.objects.footprints) {
    for (const auto& [net, names] : fp.external_aliases) {
      if (!Contains(live.networks, net)) {
        out.push_back({"network", "shared network " + net + " (service " + fp.service + ")",
                       "it does not exist; the live services it should join are not there"});
        continue;
      }
      for (const auto& name : names) {
        for (const auto& s : live.services) {
          if (ours(s)) continue;
          auto it = s.aliases.find(net);
          if (it == s.aliases.end() || !Contains(it->second, name)) continue;
          out.push_back({"alias", "name '" + name + "' of service " + fp.service + " on shared network " + net,
                         "live service " + s.name + " answers to '" + name + "' there: lookups would reach either"});
        }
      }
    }
    for (int port : fp.published_ports) {
      for (const auto& s : live.services) {
        if (!ours(s) && std::find(s.published_ports.begin(), s.published_ports.end(), port) != s.published_ports.end()) {
          out.push_back({"port", "published port " + std::to_string(port) + " of service " + fp.service,
                         "published by live service " + s.name});
        }
      }
    }
  }
  for (const auto& d : domains) {
    for (const auto& s : live.services) {
      if (!ours(s) && Contains(s.domains, d)) {
        out.push_back({"domain", "domain " + d, "routed to live service " + s.name});
      }
    }
  }
  return out;
}

Status CollisionStatus(const WarmPlan& plan, const std::vector<Collision>& collisions) {
  if (collisions.empty()) return Status::Ok();
  std::string msg = "the warm namespace " + plan.namespace_name + " of " + plan.recipe + " would collide (" +
                    std::to_string(collisions.size()) + "); nothing was created:";
  for (const auto& c : collisions) msg += "\n  - " + c.message();
  return Status::InvalidArgument(msg);
}

}  // namespace harness
