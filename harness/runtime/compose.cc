#include "runtime/compose.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "base/files.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

YAML::Node QuotedScalar(const std::string& v) {
  YAML::Node n(v);
  n.SetTag("!");  // emitted quoted: label values are strings
  return n;
}

void AddLabels(YAML::Node node, const std::map<std::string, std::string>& labels) {
  // Labels may be a map or a list of "k=v". A list stays a list: `docker stack deploy`
  // interpolates values only, and in a list the key is part of the value
  // ("coop-cloud.${STACK_NAME}.version=1.0.0").
  YAML::Node existing = node["labels"];
  if (existing && existing.IsSequence()) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (auto it : existing) {
      std::string kv = it.as<std::string>();
      if (labels.count(kv.substr(0, kv.find('=')))) continue;  // ours replace the recipe's
      list.push_back(QuotedScalar(kv));
    }
    for (const auto& [k, v] : labels) list.push_back(QuotedScalar(k + "=" + v));
    node["labels"] = list;
    return;
  }
  YAML::Node merged(YAML::NodeType::Map);
  if (existing && existing.IsMap()) {
    for (auto it : existing) merged[it.first.as<std::string>()] = it.second;
  }
  for (const auto& [k, v] : labels) merged[k] = QuotedScalar(v);
  node["labels"] = merged;
}

bool IsExternal(const YAML::Node& n) {
  if (!n || !n.IsMap() || !n["external"]) return false;
  const YAML::Node& e = n["external"];
  if (e.IsScalar()) return e.as<std::string>() == "true";
  return e.IsMap();
}

// "8080:80", "127.0.0.1:8080:80/tcp", "80" (not published), or {published: 8080, target: 80}.
int PublishedPort(const YAML::Node& port, const std::map<std::string, std::string>& env) {
  if (port.IsMap()) return port["published"] ? std::stoi(Interpolate(port["published"].as<std::string>(), env)) : 0;
  std::string spec = Interpolate(port.as<std::string>(), env);
  spec = spec.substr(0, spec.find('/'));
  auto last = spec.rfind(':');
  if (last == std::string::npos) return 0;
  std::string published = spec.substr(0, last);
  if (auto colon = published.rfind(':'); colon != std::string::npos) published = published.substr(colon + 1);
  if (published.empty()) return 0;
  if (published.find('-') != std::string::npos) published = published.substr(0, published.find('-'));
  return std::stoi(published);
}

// A label key longer than this once interpolated is none the harness reads: it is left
// out rather than expanded (the compose policy bounds values, not keys, and a key can
// name a long variable many times over).
constexpr size_t kMaxLabelKey = 64 << 10;

// A labels section (map or list of "k=v") as a map, interpolated.
std::map<std::string, std::string> LabelMap(const YAML::Node& labels, const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> out;
  if (!labels) return out;
  if (labels.IsMap()) {
    for (auto it : labels) {
      auto key = InterpolateAtMost(it.first.as<std::string>(), env, kMaxLabelKey);
      if (!key) continue;
      out[*key] = it.second.IsScalar() ? Interpolate(it.second.as<std::string>(), env) : "";
    }
  } else if (labels.IsSequence()) {
    for (auto it : labels) {
      std::string kv = Interpolate(it.as<std::string>(), env);
      auto eq = kv.find('=');
      out[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
    }
  }
  return out;
}

// The label values of a service's deploy section (map or list form).
std::vector<std::string> LabelValues(const YAML::Node& labels) {
  std::vector<std::string> values;
  if (!labels) return values;
  if (labels.IsMap()) {
    for (auto it : labels) values.push_back(it.second.as<std::string>());
  } else if (labels.IsSequence()) {
    for (auto it : labels) {
      std::string kv = it.as<std::string>();
      auto eq = kv.find('=');
      values.push_back(eq == std::string::npos ? "" : kv.substr(eq + 1));
    }
  }
  return values;
}

ServiceFootprint Footprint(const std::string& name, const YAML::Node& svc,
                           const std::map<std::string, std::string>& external_networks,
                           const std::map<std::string, std::string>& env) {
  ServiceFootprint fp;
  fp.service = name;
  if (!svc.IsMap()) return fp;
  // On a network it shares, a stack's service answers to its short name and its aliases.
  if (YAML::Node nets = svc["networks"]; nets) {
    auto attach = [&](const std::string& key, const YAML::Node& opts) {
      auto ext = external_networks.find(key);
      if (ext == external_networks.end()) return;
      std::vector<std::string>& names = fp.external_aliases[ext->second];
      names.push_back(name);
      if (opts && opts.IsMap() && opts["aliases"] && opts["aliases"].IsSequence()) {
        for (auto a : opts["aliases"]) names.push_back(Interpolate(a.as<std::string>(), env));
      }
    };
    if (nets.IsSequence()) {
      for (auto n : nets) attach(n.as<std::string>(), YAML::Node());
    } else if (nets.IsMap()) {
      for (auto n : nets) attach(n.first.as<std::string>(), n.second);
    }
  }
  if (YAML::Node ports = svc["ports"]; ports && ports.IsSequence()) {
    for (auto p : ports) {
      if (int published = PublishedPort(p, env); published > 0) fp.published_ports.push_back(published);
    }
  }
  std::vector<std::string> labels = LabelValues(svc["labels"]);
  if (svc["deploy"] && svc["deploy"].IsMap()) {
    auto more = LabelValues(svc["deploy"]["labels"]);
    labels.insert(labels.end(), more.begin(), more.end());
  }
  for (const auto& value : labels) {
    for (const auto& domain : HostRuleDomains(Interpolate(value, env))) {
      if (std::find(fp.domains.begin(), fp.domains.end(), domain) == fp.domains.end()) fp.domains.push_back(domain);
    }
  }
  return fp;
}

bool JoinsExternal(const YAML::Node& svc, const std::map<std::string, std::string>& external) {
  YAML::Node nets = svc.IsMap() ? svc["networks"] : YAML::Node();
  if (!nets) return false;
  if (nets.IsSequence()) {
    for (auto n : nets) {
      if (external.count(n.as<std::string>())) return true;
    }
  } else if (nets.IsMap()) {
    for (auto n : nets) {
      if (external.count(n.first.as<std::string>())) return true;
    }
  }
  return false;
}

// See StageOptions::unique_shared_names.
Status RenameSharedServices(YAML::Node& doc, const std::string& ns, ComposeObjects* objs) {
  YAML::Node services = doc["services"];
  if (!services || !services.IsMap()) return Status::Ok();
  YAML::Node renamed(YAML::NodeType::Map);
  for (auto it : services) {
    std::string name = it.first.as<std::string>();
    YAML::Node svc = it.second;
    if (!JoinsExternal(svc, objs->external_networks)) {
      renamed[name] = svc;
      continue;
    }
    std::string key = ns + "-" + name;
    if (key.size() > 63) return Status::InvalidArgument("service '" + name + "': '" + key + "' is longer than 63 characters");
    objs->renamed[name] = key;
    // Its own networks keep the old name as an alias, so the stack still finds it.
    YAML::Node nets = svc["networks"];
    YAML::Node as_map(YAML::NodeType::Map);
    if (nets.IsSequence()) {
      for (auto n : nets) as_map[n.as<std::string>()] = YAML::Node(YAML::NodeType::Map);
    } else {
      for (auto n : nets) as_map[n.first.as<std::string>()] = n.second.IsMap() ? n.second : YAML::Node(YAML::NodeType::Map);
    }
    for (auto n : as_map) {
      if (objs->external_networks.count(n.first.as<std::string>())) continue;
      YAML::Node opts = n.second;
      if (!opts["aliases"] || !opts["aliases"].IsSequence()) opts["aliases"] = YAML::Node(YAML::NodeType::Sequence);
      opts["aliases"].push_back(name);
    }
    svc["networks"] = as_map;
    renamed[key] = svc;
  }
  doc["services"] = renamed;
  return Status::Ok();
}

std::string Absolute(const std::string& dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  std::error_code ec;
  fs::path real = fs::weakly_canonical(fs::path(dir) / path, ec);
  // Unresolvable (a loop, no permission): as written; copying it then says why.
  return ec ? (fs::path(dir) / path).lexically_normal().string() : real.string();
}

// The top-level sections `docker stack deploy` interpolates; the rest (`version`, `x-`
// fields) it reads as written.
bool IsInterpolatedSection(const std::string& key) {
  return key == "services" || key == "networks" || key == "volumes" || key == "secrets" || key == "configs";
}

// Emits `n`, keeping quoted scalars quoted: yaml-cpp drops the quotes of a loaded scalar,
// and `version: "3.8"` must not come back as the number 3.8. With `env`, every value that
// holds a `$` is emitted interpolated with it, as a quoted string whose `$` are doubled, so
// that the deploy reads exactly that value and takes nothing from its own environment;
// keys are never interpolated. What cannot be interpolated goes to `errors`.
struct EmitContext {
  const std::map<std::string, std::string>* env = nullptr;
  std::vector<std::string>* errors = nullptr;
  std::string path;
};

void Emit(YAML::Emitter& out, const YAML::Node& n, const EmitContext& ctx = {}, int depth = 0) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (auto it : n) {
        out << YAML::Key;
        Emit(out, it.first, {}, depth + 1);
        out << YAML::Value;
        EmitContext inner = ctx;
        std::string key = it.first.IsScalar() ? it.first.Scalar() : "?";
        if (depth == 0 && !IsInterpolatedSection(key)) inner.env = nullptr;
        inner.path = ctx.path.empty() ? key : ctx.path + "." + key;
        Emit(out, it.second, inner, depth + 1);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (auto it : n) Emit(out, it, ctx, depth + 1);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      if (ctx.env != nullptr && n.Scalar().find('$') != std::string::npos) {
        auto value = InterpolateStrictly(n.Scalar(), *ctx.env);
        if (!value.ok()) {
          ctx.errors->push_back(ctx.path + ": " + value.status().message());
          out << YAML::DoubleQuoted << n.Scalar();
          break;
        }
        std::string escaped;
        for (char c : *value) escaped += c == '$' ? std::string("$$") : std::string(1, c);
        out << YAML::DoubleQuoted << escaped;
      } else if (n.Tag() == "!") {
        out << YAML::DoubleQuoted << n.Scalar();
      } else {
        out << n.Scalar();
      }
      break;
    default:
      out << YAML::Null;
  }
}

// What staging one compose file needs besides the file.
struct StageInput {
  const std::string& recipe_dir;
  const std::map<std::string, std::string>& labels;
  const std::map<std::string, std::string>& env;
  const std::string& namespace_name;
  const std::string& stage_dir;
};

void AddUnique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

// The file's services: their names, images and deploy labels into `objs`; each service and
// its deploy section get our labels. Throws YAML::Exception on a malformed value.
Status StageServices(YAML::Node& doc, const StageInput& in, const std::string& src, ComposeObjects* objs) {
  YAML::Node services = doc["services"];
  if (!services || !services.IsMap()) return Status::Ok();
  for (auto it : services) {
    std::string name = it.first.as<std::string>();
    AddUnique(objs->services, name);
    YAML::Node svc = it.second;
    if (!svc.IsMap()) return Status::InvalidArgument(src + ": service '" + name + "' is not a mapping");
    if (svc["image"]) AddUnique(objs->images, Interpolate(svc["image"].as<std::string>(), in.env));
    if (svc["deploy"] && svc["deploy"].IsMap()) {
      for (auto& [k, v] : LabelMap(svc["deploy"]["labels"], in.env)) objs->deploy_labels[name][k] = v;
    }
    AddLabels(svc, in.labels);
    if (!svc["deploy"] || !svc["deploy"].IsMap()) svc["deploy"] = YAML::Node(YAML::NodeType::Map);
    AddLabels(svc["deploy"], in.labels);
  }
  return Status::Ok();
}

// The file's secrets and configs: their Swarm names into `objs`, their files copied beside
// the staged compose files, our labels on those the stack creates. Throws YAML::Exception.
Status StageSecretsAndConfigs(YAML::Node& doc, const StageInput& in, const std::string& src,
                              ComposeObjects* objs) {
  for (const std::string kind : {"secrets", "configs"}) {
    YAML::Node section = doc[kind];
    if (!section || !section.IsMap()) continue;
    for (auto it : section) {
      std::string key = it.first.as<std::string>();
      YAML::Node obj = it.second;
      std::string swarm_name = in.namespace_name + "_" + key;
      if (obj && obj.IsMap() && obj["name"]) swarm_name = Interpolate(obj["name"].as<std::string>(), in.env);
      bool external = IsExternal(obj);
      if (kind == "secrets") {
        objs->secrets[key] = swarm_name;
        if (external) AddUnique(objs->external_secrets, key);
      } else {
        objs->configs[key] = swarm_name;
      }
      if (external || !obj.IsMap()) continue;
      if (obj["file"]) {
        // A copy beside the staged compose files, named relative to them, so that the
        // staging folder is complete on its own (a remote target gets a copy of it).
        std::string from = Absolute(in.recipe_dir, Interpolate(obj["file"].as<std::string>(), in.env));
        std::string name = kind + "-" + key;
        std::error_code ec;
        fs::copy_file(from, in.stage_dir + "/" + name, fs::copy_options::overwrite_existing, ec);
        if (ec) return Status::InvalidArgument(src + ": " + kind + " '" + key + "': cannot read " + from + ": " + ec.message());
        obj["file"] = "./" + name;
      }
      AddLabels(obj, in.labels);
    }
  }
  return Status::Ok();
}

// The file's networks and volumes: names into `objs` (external networks with their Swarm
// names), our labels on those the stack creates, and the implicit "default" network
// declared so that it gets them too. Throws YAML::Exception.
void StageNetworksAndVolumes(YAML::Node& doc, const StageInput& in, ComposeObjects* objs) {
  // Services without `networks` join the stack's implicit "default" network, which
  // Swarm creates without our labels unless it is declared.
  bool uses_default = false;
  if (YAML::Node services = doc["services"]; services && services.IsMap()) {
    for (auto it : services) uses_default = uses_default || !it.second["networks"];
  }
  if (uses_default && !(doc["networks"] && doc["networks"]["default"])) {
    if (!doc["networks"] || !doc["networks"].IsMap()) doc["networks"] = YAML::Node(YAML::NodeType::Map);
    doc["networks"]["default"] = YAML::Node(YAML::NodeType::Map);
  }
  if (YAML::Node networks = doc["networks"]; networks && networks.IsMap()) {
    for (auto it : networks) {
      if (!IsExternal(it.second)) continue;
      std::string key = it.first.as<std::string>();
      std::string name = key;
      if (it.second["name"]) name = Interpolate(it.second["name"].as<std::string>(), in.env);
      objs->external_networks[key] = name;
    }
  }
  for (const std::string kind : {"volumes", "networks"}) {
    YAML::Node section = doc[kind];
    if (!section || !section.IsMap()) continue;
    for (auto it : section) {
      std::string key = it.first.as<std::string>();
      AddUnique(kind == "volumes" ? objs->volumes : objs->networks, key);
      if (IsExternal(it.second)) continue;
      if (!it.second.IsMap()) section[key] = YAML::Node(YAML::NodeType::Map);
      AddLabels(section[key], in.labels);
    }
  }
}

// Writes the staged copy of compose file number `idx` (`file`, relative to the recipe),
// interpolated; returns its path.
Result<std::string> WriteStagedCopy(const YAML::Node& doc, const StageInput& in, const std::string& file,
                                    size_t idx) {
  YAML::Emitter out;
  std::vector<std::string> errors;
  Emit(out, doc, {&in.env, &errors, ""});
  if (!errors.empty()) return Status::InvalidArgument(file + ": " + errors.front());
  if (!out.good()) {
    return Status::Infra(in.recipe_dir + "/" + file + ": cannot write the staged copy: " + out.GetLastError());
  }
  // One flat folder: an overlay in a subfolder ("overlays/compose.smtp.yml") becomes
  // "<n>-overlays_compose.smtp.yml" (its relative paths are the recipe folder's, as for
  // every compose file of a project, and were made absolute or copied above).
  std::string flat = file;
  std::replace(flat.begin(), flat.end(), '/', '_');
  std::string dst = in.stage_dir + "/" + std::to_string(idx) + "-" + flat;
  if (Status s = WriteFileAtomic(dst, std::string(out.c_str()) + "\n"); !s.ok()) return s;
  return dst;
}

}  // namespace

std::vector<std::string> HostRuleDomains(const std::string& value) {
  // Each Host(`d`) or HostSNI(`d`) (d not empty, without a backtick), scanned by hand: a
  // recursive std::regex overflowed the stack on a label of some 100 kB.
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = value.find("Host", at)) != std::string::npos) {
    size_t open = at + 4;
    if (value.compare(open, 3, "SNI") == 0) open += 3;
    size_t start = open + 2;
    size_t close = value.compare(open, 2, "(`") == 0 ? value.find('`', start) : std::string::npos;
    if (close == std::string::npos || close == start || value.compare(close, 2, "`)") != 0) {
      ++at;
      continue;
    }
    out.push_back(value.substr(start, close - start));
    at = close + 2;
  }
  return out;
}

std::vector<std::string> RouterHosts(const std::string& rule) {
  std::vector<std::string> out;
  auto is_name = [](const std::string& n) {
    return !n.empty() && n.size() <= 253 && n.front() != '-' && n.front() != '.' &&
           std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '-'; });
  };
  size_t at = 0;
  while ((at = rule.find("Host(", at)) != std::string::npos) {
    // Host( and not the tail of another matcher's name (HostSNI(, HostRegexp( have no "(").
    const bool own = at == 0 || !(std::isalnum(static_cast<unsigned char>(rule[at - 1])) || rule[at - 1] == '_');
    size_t end = rule.find(')', at);
    if (end == std::string::npos) break;
    if (own) {
      // Host(`a`, `b`): the backticked names between the parentheses.
      for (size_t open = rule.find('`', at); open != std::string::npos && open < end;) {
        size_t close = rule.find('`', open + 1);
        if (close == std::string::npos || close > end) break;
        std::string name = rule.substr(open + 1, close - open - 1);
        if (is_name(name) && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
        open = rule.find('`', close + 1);
      }
    }
    at = end + 1;
  }
  return out;
}

Status PinImages(const StagedCompose& staged, const std::map<std::string, std::string>& env,
                 const std::map<std::string, std::string>& pinned) {
  for (const auto& file : staged.files) {
    YAML::Node doc;
    try {
      doc = YAML::LoadFile(file);
      YAML::Node services = doc["services"];
      if (!services || !services.IsMap()) continue;
      bool changed = false;
      for (auto it : services) {
        YAML::Node svc = it.second;
        if (!svc.IsMap() || !svc["image"]) continue;
        auto pin = pinned.find(Interpolate(svc["image"].as<std::string>(), env));
        if (pin == pinned.end() || pin->second == svc["image"].as<std::string>()) continue;
        svc["image"] = QuotedScalar(pin->second);
        changed = true;
      }
      if (!changed) continue;
    } catch (const YAML::Exception& e) {
      return Status::Infra(file + ": cannot read the staged copy: " + e.what());
    }
    YAML::Emitter out;
    Emit(out, doc);
    if (!out.good()) return Status::Infra(file + ": cannot write the staged copy: " + out.GetLastError());
    if (Status s = WriteFileAtomic(file, std::string(out.c_str()) + "\n"); !s.ok()) return s;
  }
  return Status::Ok();
}

std::string SwarmServiceName(const std::string& ns, const ComposeObjects& objects, const std::string& service) {
  auto it = objects.renamed.find(service);
  return ns + "_" + (it == objects.renamed.end() ? service : it->second);
}

Result<StagedCompose> StageCompose(const std::string& recipe_dir,
                                   const std::vector<std::string>& files,
                                   const std::map<std::string, std::string>& labels,
                                   const std::map<std::string, std::string>& env,
                                   const std::string& namespace_name,
                                   const std::string& stage_dir, const StageOptions& options) {
  if (stage_dir.empty()) return Status::Infra("no staging folder: a temporary folder could not be created");
  StagedCompose staged;
  ComposeObjects& objs = staged.objects;
  const StageInput in{recipe_dir, labels, env, namespace_name, stage_dir};
  for (size_t idx = 0; idx < files.size(); ++idx) {
    std::string src = recipe_dir + "/" + files[idx];
    YAML::Node doc;
    try {
      doc = YAML::LoadFile(src);
    } catch (const YAML::BadFile&) {
      return Status::InvalidArgument("compose file not found: " + src);
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(src + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (!doc.IsMap()) return Status::InvalidArgument(src + ": not a compose file (no mapping)");
    try {
      if (Status s = StageServices(doc, in, src, &objs); !s.ok()) return s;
      if (Status s = StageSecretsAndConfigs(doc, in, src, &objs); !s.ok()) return s;
      StageNetworksAndVolumes(doc, in, &objs);
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(src + ": " + e.what());
    }
    if (options.unique_shared_names) {
      try {
        if (Status s = RenameSharedServices(doc, namespace_name, &objs); !s.ok()) {
          return Status::InvalidArgument(src + ": " + s.message());
        }
      } catch (const YAML::Exception& e) {  // a network that is not a name ("networks: [[a]]")
        return Status::InvalidArgument(src + ": " + e.what());
      }
    }
    try {
      if (YAML::Node services = doc["services"]; services && services.IsMap()) {
        for (auto it : services) {
          ServiceFootprint fp = Footprint(it.first.as<std::string>(), it.second, objs.external_networks, env);
          objs.footprints.push_back(std::move(fp));
        }
      }
    } catch (const std::exception& e) {
      return Status::InvalidArgument(src + ": " + e.what());
    }
    auto dst = WriteStagedCopy(doc, in, files[idx], idx);
    if (!dst.ok()) return dst.status();
    staged.files.push_back(*dst);
  }
  return staged;
}

}  // namespace harness
