// The policy's values: findings described, the rule ids, the allow-list and the
// operator's policy file.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>

#include "base/files.h"
#include "base/strings.h"
#include "recipe/compose_policy.h"

namespace harness {

namespace {

constexpr size_t kDescribeDetail = 200;

std::string OneLine(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (out.size() > kDescribeDetail) out = out.substr(0, kDescribeDetail) + "…";
  return out;
}

std::string At(const std::string& path, const YAML::Node& node) {
  int line = node.Mark().line;
  return path + (line >= 0 ? ":" + std::to_string(line + 1) : "");
}

Status ReadRegistries(const std::string& path, const YAML::Node& list, ComposePolicy* policy) {
  // A registry is a host, optionally with a port: what precedes the first '/' of an image.
  static const std::regex kRegistry("[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?");
  if (list.IsNull()) return Status::Ok();
  if (!list.IsSequence()) return Status::InvalidArgument(At(path, list) + ": 'registries' is not a list");
  for (const auto& item : list) {
    std::string registry = item.IsScalar() ? Lower(Trim(item.Scalar())) : "";
    if (!std::regex_match(registry, kRegistry)) {
      return Status::InvalidArgument(At(path, item) + ": '" + (item.IsScalar() ? item.Scalar() : "") +
                                     "' is not a registry (host or host:port, e.g. docker.io)");
    }
    if (registry == "index.docker.io" || registry == "registry-1.docker.io") registry = "docker.io";
    policy->allowed_registries.push_back(registry);
  }
  return Status::Ok();
}

Status ReadAllow(const std::string& path, const YAML::Node& allow, ComposePolicy* policy) {
  if (allow.IsNull()) return Status::Ok();
  if (!allow.IsMap()) return Status::InvalidArgument(At(path, allow) + ": 'allow' is not a mapping of recipes");
  const auto& rules = PolicyRuleIds();
  for (const auto& entry : allow) {
    std::string recipe = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (recipe.empty()) return Status::InvalidArgument(At(path, entry.first) + ": a recipe name is missing");
    if (!entry.second.IsSequence()) {
      return Status::InvalidArgument(At(path, entry.second) + ": allow." + recipe + " is not a list of rule ids");
    }
    std::set<std::string>& allowed = policy->allow[recipe];
    for (const auto& item : entry.second) {
      std::string text = item.IsScalar() ? Trim(item.Scalar()) : "";
      auto colon = text.find(':');
      std::string rule = colon == std::string::npos ? text : text.substr(colon + 1);
      bool service_ok = colon == std::string::npos || colon > 0;
      if (!service_ok || std::find(rules.begin(), rules.end(), rule) == rules.end()) {
        return Status::InvalidArgument(At(path, item) + ": '" + text + "' is not a rule id or <service>:<rule id> (" +
                                       Join(rules, ", ") + ")");
      }
      allowed.insert(text);
    }
  }
  return Status::Ok();
}

}  // namespace

std::string PolicyFinding::Describe() const {
  // The names of services and objects come from the files too, and may hold anything.
  std::string where = OneLine(file) + ": ";
  if (!service.empty()) where += "service " + OneLine(service) + ": ";
  if (!key.empty()) where += OneLine(key) + ": ";
  return where + OneLine(detail) + " (" + rule + ")";
}

bool operator==(const PolicyFinding& a, const PolicyFinding& b) {
  return a.file == b.file && a.service == b.service && a.key == b.key && a.detail == b.detail && a.rule == b.rule;
}

const std::vector<std::string>& PolicyRuleIds() {
  static const std::vector<std::string> kRules = {
      "host-bind", "docker-socket", "privileged", "cap-add", "devices", "host-network", "host-pid", "host-ipc",
      "userns", "unconfined", "sysctls", "low-host-port", "path-outside-recipe", "foreign-object", "registry"};
  return kRules;
}

bool ComposePolicy::Allows(const std::string& recipe, const PolicyFinding& finding) const {
  auto it = allow.find(recipe);
  if (it == allow.end()) return false;
  if (it->second.count(finding.rule)) return true;
  return !finding.service.empty() && it->second.count(finding.service + ":" + finding.rule);
}

Result<ComposePolicy> LoadComposePolicy(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok() && text.status().code() == Status::Code::kNotFound) return ComposePolicy{};
  if (!text.ok()) return Status::InvalidArgument(path + ": " + text.status().message());
  ComposePolicy policy;
  try {
    YAML::Node doc = YAML::Load(*text);
    if (doc.IsNull()) return policy;  // an empty file
    if (!doc.IsMap()) return Status::InvalidArgument(At(path, doc) + ": the policy is not a mapping");
    for (const auto& entry : doc) {
      std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
      Status s;
      if (key == "registries") {
        s = ReadRegistries(path, entry.second, &policy);
      } else if (key == "allow") {
        s = ReadAllow(path, entry.second, &policy);
      } else {
        s = Status::InvalidArgument(At(path, entry.first) + ": unknown key '" + key + "' (registries, allow)");
      }
      if (!s.ok()) return s;
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return policy;
}

}  // namespace harness
