#include "recipe/compose_policy.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <filesystem>
#include <system_error>

#include "base/strings.h"
#include "recipe/compose_tree.h"
#include "recipe/host_path.h"
#include "runtime/images.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

using Env = std::map<std::string, std::string>;

// `map[key]`, or null. Never inserts (yaml-cpp's non-const operator[] may).
YAML::Node Get(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return YAML::Node();
  for (const auto& kv : map) {
    if (kv.first.Scalar() == key) return kv.second;
  }
  return YAML::Node();
}

// `map[key]` when it is a mapping, else an empty one: safe to iterate as key/value pairs.
YAML::Node GetMap(const YAML::Node& map, const std::string& key) {
  YAML::Node n = Get(map, key);
  return n.IsMap() ? n : YAML::Node(YAML::NodeType::Map);
}

std::string Str(const YAML::Node& n) { return n.IsScalar() ? Trim(n.Scalar()) : ""; }

// A value in one line: a scalar as it is, "[a, b]", "{k: v}".
std::string Text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  std::vector<std::string> parts;
  if (n.IsSequence()) {
    for (const auto& item : n) parts.push_back(Text(item));
    return "[" + Join(parts, ", ") + "]";
  }
  if (!n.IsMap()) return "";
  for (const auto& kv : n) parts.push_back(kv.first.Scalar() + ": " + Text(kv.second));
  return "{" + Join(parts, ", ") + "}";
}

// The entries of a list-or-mapping key (cap_add, devices, sysctls, security_opt): each
// list item, each "k=v" of a mapping, or a lone scalar.
std::vector<std::string> Entries(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n.IsSequence()) {
    for (const auto& item : n) out.push_back(Text(item));
  } else if (n.IsMap()) {
    for (const auto& kv : n) out.push_back(kv.first.Scalar() + "=" + Text(kv.second));
  } else if (n.IsScalar()) {
    out.push_back(n.Scalar());
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const std::string& e) { return Trim(e).empty(); }), out.end());
  return out;
}

bool IsTrue(const YAML::Node& n) {
  std::string v = Lower(Str(n));
  return v == "true" || v == "yes" || v == "on";
}

// `privileged` is refused unless it is plainly false: YAML 1.1's spellings count too.
bool IsFalse(const YAML::Node& n) {
  std::string v = Lower(Str(n));
  return n.IsScalar() && (v == "false" || v == "no" || v == "off" || v.empty());
}

// What compose reads as a volume's name rather than a host path. compose itself calls a
// source a path when it starts with '.', '/' or '~'; anything else that is not a valid
// name ("a/b", "", "$X") is judged as a path too.
bool IsVolumeName(const std::string& s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// The leading number of a port ("80", "8000-8010" → 8000); -1 when there is none.
long PortNumber(const std::string& text) {
  long n = -1;
  for (char c : text) {
    if (c < '0' || c > '9') break;
    n = (n < 0 ? 0 : n) * 10 + (c - '0');
    if (n > 1000000) return -1;
  }
  return n;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t end; (end = text.find(sep, start)) != std::string::npos; start = end + 1) {
    parts.push_back(text.substr(start, end - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

// The paths of a top-level `include`: strings, or mappings whose `path` is one or a list.
std::vector<std::string> IncludePaths(const YAML::Node& include) {
  std::vector<std::string> out;
  auto add = [&](const YAML::Node& path) {
    if (path.IsScalar()) out.push_back(Str(path));
    if (path.IsSequence()) {
      for (const auto& p : path) out.push_back(Str(p));
    }
  };
  if (include.IsSequence()) {
    for (const auto& item : include) add(item.IsMap() ? Get(item, "path") : YAML::Node(item));
  }
  return out;
}

// A long- or short-form port of one service, for judging host-mode low ports across files.
struct PortUse {
  std::string file, service, detail;
  long target = -1, published = -1;
  bool host = false;
};

class PolicyCheck {
 public:
  PolicyCheck(std::string root, const Env& env, const ComposePolicy& policy)
      : root_(std::move(root)), env_(env), policy_(policy) {}

  Status Load(const std::vector<std::string>& files);
  void Check();
  std::vector<PolicyFinding> findings;

 private:
  struct Doc {
    std::string name;  // relative to the recipe folder
    YAML::Node tree;
  };

  void Add(const std::string& file, const std::string& service, const std::string& key, const std::string& detail,
           const char* rule) {
    findings.push_back({file, service, key, detail, rule});
  }
  std::vector<std::string> Resolutions(const Doc& d, const std::string& written) const;
  std::string Outside(const Doc& d, const std::string& written) const;
  std::vector<std::string> FilesIncluded(const Doc& d) const;
  void CheckTopLevel(const Doc& d);
  void CheckVolumeDriver(const Doc& d, const std::string& name, const YAML::Node& volume);
  void CheckObjectName(const Doc& d, const std::string& kind, const std::string& key, const YAML::Node& obj);
  void CheckService(const Doc& d, const std::string& service, const YAML::Node& svc);
  void CheckVolumes(const Doc& d, const std::string& service, const YAML::Node& volumes);
  void JudgeHostPath(const Doc& d, const std::string& service, const std::string& detail, const std::string& source);
  void CheckPrivileges(const Doc& d, const std::string& service, const YAML::Node& svc);
  void CheckNamespaces(const Doc& d, const std::string& service, const YAML::Node& svc);
  void CollectPorts(const Doc& d, const std::string& service, const YAML::Node& ports);
  void CheckServiceFiles(const Doc& d, const std::string& service, const YAML::Node& svc);
  void JudgePorts();

  std::string root_;  // the recipe folder, symbolic links resolved
  const Env& env_;
  const ComposePolicy& policy_;
  std::vector<Doc> docs_;
  std::set<std::string> host_networks_;  // network keys that are the Swarm's `host` network
  std::vector<PortUse> ports_;
};

// Where a path a compose file names is read from. Staging and `docker stack deploy` read
// relative paths from the recipe folder (the project folder of every compose file); compose
// reads an overlay's from its own folder: both are judged.
std::vector<std::string> PolicyCheck::Resolutions(const Doc& d, const std::string& written) const {
  if (written.empty()) return {};
  if (written[0] == '~') return {written};  // a home folder: never inside the recipe
  std::vector<std::string> out = {ResolveHere(root_, written)};
  std::string dir = fs::path(d.name).parent_path().string();
  if (!dir.empty() && written[0] != '/') {
    std::string own = ResolveHere(root_ + "/" + dir, written);
    if (own != out.front()) out.push_back(own);
  }
  return out;
}

// "" when every reading of `written` is inside the recipe; else where one leads.
std::string PolicyCheck::Outside(const Doc& d, const std::string& written) const {
  for (const auto& where : Resolutions(d, written)) {
    if (where.empty()) return "a loop of symbolic links";
    if (!IsWithin(where, root_)) return "resolves to " + where;
  }
  return "";
}

// The recipe's own files that `extends` and `include` pull into `d`: judged like the
// compose files themselves. Names are relative to the recipe folder.
std::vector<std::string> PolicyCheck::FilesIncluded(const Doc& d) const {
  std::vector<std::string> written = IncludePaths(Get(d.tree, "include"));
  YAML::Node services = Get(d.tree, "services");
  if (services.IsMap()) {
    for (const auto& kv : services) {
      std::string file = Str(Get(Get(kv.second, "extends"), "file"));
      if (!file.empty()) written.push_back(file);
    }
  }
  std::vector<std::string> out;
  for (const auto& w : written) {
    for (const auto& where : Resolutions(d, w)) {
      std::error_code ec;
      if (where.empty() || !IsWithin(where, root_) || !fs::is_regular_file(where, ec)) continue;
      out.push_back(where == root_ ? "." : where.substr(root_ == "/" ? 1 : root_.size() + 1));
    }
  }
  return out;
}

Status PolicyCheck::Load(const std::vector<std::string>& files) {
  std::deque<std::string> queue;
  for (const auto& f : files) {
    std::string where = ResolveHere(root_, f);
    if (where.empty() || !IsWithin(where, root_)) {
      Add(f, "", "", where.empty() ? "a loop of symbolic links" : "resolves to " + where, "path-outside-recipe");
      continue;  // never read
    }
    queue.push_back(f);
  }
  std::set<std::string> seen;
  while (!queue.empty()) {
    std::string name = queue.front();
    queue.pop_front();
    std::string where = ResolveHere(root_, name);
    if (!seen.insert(where).second) continue;
    auto tree = LoadComposeTree(where, name, env_);
    if (!tree.ok()) return tree.status();
    docs_.push_back({name, *tree});
    for (const auto& more : FilesIncluded(docs_.back())) queue.push_back(more);
  }
  return Status::Ok();
}

void PolicyCheck::Check() {
  for (const auto& d : docs_) {
    // A network named `host` is the Swarm's host network. Judged by the name alone,
    // external or not (a stack that tries to create it fails anyway).
    for (const auto& kv : GetMap(d.tree, "networks")) {
      std::string key = kv.first.Scalar();
      YAML::Node external = Get(kv.second, "external");
      std::string name = Str(Get(kv.second, "name"));
      if (name.empty()) name = Str(Get(external, "name"));  // the older `external: {name: …}`
      if (name.empty() && (IsTrue(external) || external.IsMap())) name = key;
      if (name == "host") host_networks_.insert(key);
    }
  }
  for (const auto& d : docs_) {
    for (const auto& kv : GetMap(d.tree, "services")) CheckService(d, kv.first.Scalar(), kv.second);
    CheckTopLevel(d);
  }
  JudgePorts();
  // Grouped by file, in the order the files were read (ports are judged last, across files).
  auto rank = [&](const PolicyFinding& f) {
    for (size_t i = 0; i < docs_.size(); ++i) {
      if (docs_[i].name == f.file) return i + 1;
    }
    return size_t{0};  // a compose file outside the recipe, never read
  };
  std::stable_sort(findings.begin(), findings.end(),
                   [&](const PolicyFinding& a, const PolicyFinding& b) { return rank(a) < rank(b); });
}

void PolicyCheck::CheckTopLevel(const Doc& d) {
  // Top-level `x-` fields are the file's own scratch space: only what uses them matters.
  for (const auto& kv : GetMap(d.tree, "volumes")) {
    if (!kv.second.IsMap()) continue;
    CheckVolumeDriver(d, kv.first.Scalar(), kv.second);
    CheckObjectName(d, "volumes", kv.first.Scalar(), kv.second);
  }
  for (const std::string kind : {"configs", "secrets"}) {
    for (const auto& kv : GetMap(d.tree, kind)) {
      if (!kv.second.IsMap()) continue;
      std::string key = kv.first.Scalar();
      std::string file = Str(Get(kv.second, "file"));
      if (std::string where = Outside(d, file); !where.empty()) {
        Add(d.name, "", kind + "." + key + ".file", file + " (" + where + ")", "path-outside-recipe");
      }
      CheckObjectName(d, kind, key, kv.second);
    }
  }
  for (const auto& path : IncludePaths(Get(d.tree, "include"))) {
    if (std::string where = Outside(d, path); !where.empty()) {
      Add(d.name, "", "include", path + " (" + where + ")", "path-outside-recipe");
    }
  }
}

// The local driver mounts what `driver_opts` say: `o: bind` (or `type: none`) binds the
// host path in `device`, and a `device: /dev/…` with a file system type mounts a host disk.
void PolicyCheck::CheckVolumeDriver(const Doc& d, const std::string& name, const YAML::Node& volume) {
  YAML::Node opts = Get(volume, "driver_opts");
  if (!opts.IsMap()) return;
  std::string o = Lower(Str(Get(opts, "o"))), type = Lower(Str(Get(opts, "type")));
  std::string device = Str(Get(opts, "device"));
  bool binds = type == "none" || (!device.empty() && device[0] == '/');
  for (const auto& option : Split(o, ',')) binds = binds || Trim(option) == "bind" || Trim(option) == "rbind";
  if (!binds) return;
  std::vector<std::string> asked;
  for (const auto& kv : opts) asked.push_back(kv.first.Scalar() + "=" + Text(kv.second));
  bool socket = !device.empty() && device[0] == '/' && ReachesDockerSocket(LexicalPath(device));
  Add(d.name, "", "volumes." + name + ".driver_opts", Join(asked, " "), socket ? "docker-socket" : "host-bind");
}

// A volume, secret or config named outside the run's stack is another stack's: an external
// secret `name: othercanon_db_password_v1` would hand the run that stack's password, and a
// volume named after another stack's mounts its data on the same node.
void PolicyCheck::CheckObjectName(const Doc& d, const std::string& kind, const std::string& key,
                                  const YAML::Node& obj) {
  YAML::Node external = Get(obj, "external");
  bool is_external = IsTrue(external) || external.IsMap();
  std::string name = Str(Get(obj, "name"));
  if (name.empty()) name = Str(Get(external, "name"));
  if (name.empty() && !is_external) return;  // "<stack>_<key>", the run's own
  if (name.empty()) name = key;                // an external object without a name is the key
  auto stack = env_.find("STACK_NAME");
  if (stack != env_.end() && !stack->second.empty() && name.rfind(stack->second + "_", 0) == 0) return;
  Add(d.name, "", kind + "." + key + ".name", name, "foreign-object");
}

void PolicyCheck::CheckService(const Doc& d, const std::string& service, const YAML::Node& svc) {
  if (!svc.IsMap()) return;  // asks for nothing (staging refuses it)
  CheckVolumes(d, service, Get(svc, "volumes"));
  CheckPrivileges(d, service, svc);
  CheckNamespaces(d, service, svc);
  CollectPorts(d, service, Get(svc, "ports"));
  CheckServiceFiles(d, service, svc);
  std::string image = Str(Get(svc, "image"));
  if (!policy_.allowed_registries.empty() && !image.empty()) {
    std::string registry = Lower(ParseImageRef(image).registry);
    const auto& allowed = policy_.allowed_registries;
    if (std::find(allowed.begin(), allowed.end(), registry) == allowed.end()) {
      Add(d.name, service, "image", image + " (registry " + registry + ")", "registry");
    }
  }
}

void PolicyCheck::CheckVolumes(const Doc& d, const std::string& service, const YAML::Node& volumes) {
  if (!volumes.IsSequence()) return;
  for (const auto& v : volumes) {
    if (v.IsScalar()) {
      // Short form "source:target[:mode]"; a lone "target" is an anonymous volume.
      const std::string& spec = v.Scalar();
      auto colon = spec.find(':');
      if (colon == std::string::npos) continue;
      std::string source = Trim(spec.substr(0, colon));
      if (!IsVolumeName(source)) JudgeHostPath(d, service, spec, source);
    } else if (v.IsMap()) {
      // Long form: `type: bind` is a host path; a source that is no volume's name is read
      // as one when the type is missing.
      std::string type = Lower(Str(Get(v, "type"))), source = Str(Get(v, "source"));
      if (type == "bind" || (type.empty() && !source.empty() && !IsVolumeName(source))) {
        JudgeHostPath(d, service, Text(v), source);
      }
    }
  }
}

// A bind's source is a path on the node that runs the task: judged lexically. A relative
// path (or one under `~`) starts in a folder we cannot see; one that climbs out of it may
// reach anything, the socket included.
void PolicyCheck::JudgeHostPath(const Doc& d, const std::string& service, const std::string& detail,
                                const std::string& source) {
  bool socket;
  if (!source.empty() && source[0] == '/') {
    socket = ReachesDockerSocket(LexicalPath(source));
  } else {
    std::string rel = source;
    if (!rel.empty() && rel[0] == '~') rel = rel.find('/') == std::string::npos ? "" : rel.substr(rel.find('/') + 1);
    socket = ClimbsOut(LexicalPath(rel));
  }
  Add(d.name, service, "volumes", detail, socket ? "docker-socket" : "host-bind");
}

void PolicyCheck::CheckPrivileges(const Doc& d, const std::string& service, const YAML::Node& svc) {
  YAML::Node privileged = Get(svc, "privileged");
  if (!privileged.IsNull() && !IsFalse(privileged)) Add(d.name, service, "privileged", Text(privileged), "privileged");
  for (const auto& cap : Entries(Get(svc, "cap_add"))) Add(d.name, service, "cap_add", cap, "cap-add");
  for (const auto& dev : Entries(Get(svc, "devices"))) Add(d.name, service, "devices", dev, "devices");
  for (const auto& sysctl : Entries(Get(svc, "sysctls"))) Add(d.name, service, "sysctls", sysctl, "sysctls");
  for (const auto& opt : Entries(Get(svc, "security_opt"))) {
    // "seccomp:unconfined", "apparmor=unconfined", "systempaths=unconfined", "label:disable".
    std::string s = Lower(Trim(opt));
    auto sep = s.find_first_of(":=");
    std::string key = s.substr(0, sep), value = sep == std::string::npos ? "" : Trim(s.substr(sep + 1));
    if (value == "unconfined" || (key == "label" && value == "disable")) {
      Add(d.name, service, "security_opt", opt, "unconfined");
    }
  }
}

void PolicyCheck::CheckNamespaces(const Doc& d, const std::string& service, const YAML::Node& svc) {
  if (Lower(Str(Get(svc, "network_mode"))) == "host") Add(d.name, service, "network_mode", "host", "host-network");
  if (Lower(Str(Get(svc, "pid"))) == "host") Add(d.name, service, "pid", "host", "host-pid");
  if (Lower(Str(Get(svc, "ipc"))) == "host") Add(d.name, service, "ipc", "host", "host-ipc");
  YAML::Node userns = Get(svc, "userns_mode");
  if (!Trim(Text(userns)).empty()) Add(d.name, service, "userns_mode", Text(userns), "userns");
  // On a Swarm, a service gets the host's network by joining the predefined `host` network.
  YAML::Node networks = Get(svc, "networks");
  std::vector<std::string> keys;
  if (networks.IsSequence()) {
    for (const auto& n : networks) keys.push_back(Str(n));
  } else if (networks.IsMap()) {
    for (const auto& kv : networks) keys.push_back(kv.first.Scalar());
  }
  for (const auto& key : keys) {
    if (key == "host" || host_networks_.count(key)) Add(d.name, service, "networks", key, "host-network");
  }
}

// `docker stack deploy` publishes a port in ingress mode (the routing mesh) unless the long
// form says `mode: host`; the short form ("80:80", "127.0.0.1:80:80") is always ingress.
// Only host mode binds the node's own port, so only it is judged. Each port is remembered
// with its target, because an overlay can set `mode: host` on a port another file publishes.
void PolicyCheck::CollectPorts(const Doc& d, const std::string& service, const YAML::Node& ports) {
  if (!ports.IsSequence()) return;
  for (const auto& p : ports) {
    PortUse use{d.name, service, Text(p)};
    if (p.IsMap()) {
      use.target = PortNumber(Str(Get(p, "target")));
      use.published = PortNumber(Str(Get(p, "published")));
      use.host = Lower(Str(Get(p, "mode"))) == "host";
    } else if (p.IsScalar()) {
      std::vector<std::string> parts = Split(Trim(p.Scalar().substr(0, p.Scalar().find('/'))), ':');
      use.target = PortNumber(parts.back());
      if (parts.size() > 1) use.published = PortNumber(parts[parts.size() - 2]);
    }
    ports_.push_back(use);
  }
}

void PolicyCheck::JudgePorts() {
  std::map<std::pair<std::string, long>, std::set<std::string>> host_mode;  // (service, target) → files
  for (const auto& use : ports_) {
    if (use.host && use.target >= 0) host_mode[{use.service, use.target}].insert(use.file);
  }
  for (const auto& use : ports_) {
    if (use.published < 1 || use.published >= 1024) continue;
    if (use.host) {
      Add(use.file, use.service, "ports", use.detail, "low-host-port");
      continue;
    }
    auto it = host_mode.find({use.service, use.target});
    if (it == host_mode.end()) continue;
    for (const auto& file : it->second) {
      if (file == use.file) continue;
      Add(use.file, use.service, "ports", use.detail + " (host mode in " + file + ")", "low-host-port");
      break;
    }
  }
}

void PolicyCheck::CheckServiceFiles(const Doc& d, const std::string& service, const YAML::Node& svc) {
  YAML::Node env_file = Get(svc, "env_file");
  std::vector<std::string> paths;
  if (env_file.IsScalar()) paths.push_back(Str(env_file));
  if (env_file.IsSequence()) {
    for (const auto& item : env_file) paths.push_back(Str(item.IsMap() ? Get(item, "path") : YAML::Node(item)));
  }
  for (const auto& path : paths) {
    if (std::string where = Outside(d, path); !where.empty()) {
      Add(d.name, service, "env_file", path + " (" + where + ")", "path-outside-recipe");
    }
  }
  std::string extends = Str(Get(Get(svc, "extends"), "file"));
  if (std::string where = Outside(d, extends); !where.empty()) {
    Add(d.name, service, "extends", extends + " (" + where + ")", "path-outside-recipe");
  }
}

}  // namespace

Result<std::vector<PolicyFinding>> CheckComposePolicy(const std::string& recipe_dir,
                                                      const std::vector<std::string>& files,
                                                      const std::map<std::string, std::string>& env,
                                                      const std::string& recipe, const ComposePolicy& policy) {
  std::error_code ec;
  fs::path absolute = fs::absolute(recipe_dir, ec);
  std::string root = ec ? "" : ResolveHere("/", absolute.string());
  if (root.empty() || !fs::is_directory(root, ec)) {
    return Status::InvalidArgument("recipe folder cannot be read: " + recipe_dir);
  }
  PolicyCheck check(root, env, policy);
  try {
    if (Status s = check.Load(files); !s.ok()) return s;
    check.Check();
  } catch (const std::exception& e) {  // yaml-cpp's, on a tree it did not expect
    return Status::InvalidArgument(recipe_dir + ": " + e.what());
  }
  std::vector<PolicyFinding> refused;
  for (auto& f : check.findings) {
    if (!policy.Allows(recipe, f)) refused.push_back(std::move(f));
  }
  return refused;
}

}  // namespace harness
