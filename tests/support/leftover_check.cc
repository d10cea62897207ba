#include "support/leftover_check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace harness::testing {
namespace {

// The two labels that name a namespace: Docker's stack label and the harness's own.
const std::vector<std::string> kNamespaceLabels = {"com.docker.stack.namespace", "harness.namespace"};

struct Cli {
  int exit_code = -1;  // -1: could not start, or killed at the time limit
  std::string out, err;
  std::string Describe() const {
    std::string text = err.empty() ? out : err;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return (exit_code < 0 ? "did not finish" : "exit " + std::to_string(exit_code)) + (text.empty() ? "" : ": " + text);
  }
};

// Runs `docker <host args> <args>` and collects both streams; killed after 60 s. Its own
// process handling, so that nothing of harness/exec stands between the test and Docker.
Cli RunDocker(const DockerNode& node, const std::vector<std::string>& args) {
  std::vector<std::string> all = {"docker"};
  all.insert(all.end(), node.host_args.begin(), node.host_args.end());
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  Cli r;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return r;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  pid_t pid = -1;
  int spawned = posix_spawnp(&pid, "docker", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  if (spawned != 0) {
    close(out[0]);
    close(err[0]);
    r.err = "cannot start docker";
    return r;
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* into[2] = {&r.out, &r.err};
  bool timed_out = false;
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[8192];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        into[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = timed_out ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return r;
}

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(line);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!line.empty() && line.back() == sep) parts.push_back("");
  return parts;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  for (auto& l : Split(text, '\n')) {
    if (!l.empty()) lines.push_back(l);
  }
  return lines;
}

// One object as listed: its name, a container's state, and the labels asked for.
struct Listed {
  std::string name;
  std::string state;
  std::map<std::string, std::string> labels;
};

// The label keys a scan reads: both namespace labels and those the ownership names.
std::vector<std::string> LabelKeys(const Ownership& what) {
  std::vector<std::string> keys = kNamespaceLabels;
  for (const auto& l : what.labels) {
    std::string key = l.substr(0, l.find('='));
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  return keys;
}

// `<kind> ls --format '{{.Name}}\t{{.State}}\t{{.Label "k"}}…'`, one line an object.
bool ListByFormat(const DockerNode& node, const std::vector<std::string>& ls, const std::string& name_field,
                  const std::string& state_field, const std::vector<std::string>& keys, std::vector<Listed>* into,
                  std::string* problem) {
  std::string format = "{{" + name_field + "}}\t" + (state_field.empty() ? "" : "{{" + state_field + "}}");
  for (const auto& k : keys) format += "\t{{.Label \"" + k + "\"}}";
  std::vector<std::string> args = ls;
  args.push_back("--format");
  args.push_back(format);
  Cli r = RunDocker(node, args);
  if (r.exit_code != 0) {
    *problem = "docker " + ls[0] + " " + ls[1] + ": " + r.Describe();
    return false;
  }
  for (const auto& line : Lines(r.out)) {
    auto f = Split(line, '\t');
    f.resize(2 + keys.size());
    Listed o{f[0], f[1], {}};
    for (size_t i = 0; i < keys.size(); ++i) o.labels[keys[i]] = f[2 + i];
    into->push_back(std::move(o));
  }
  return true;
}

// Services have no labels in `service ls`: every one listed is inspected. A service that
// goes away between the two is a reason to list again, not a failure.
bool ListServices(const DockerNode& node, std::vector<Listed>* into, std::string* problem) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    Cli ls = RunDocker(node, {"service", "ls", "-q"});
    if (ls.exit_code != 0) {
      *problem = "docker service ls: " + ls.Describe();
      return false;
    }
    std::vector<std::string> args = {"service", "inspect", "--format", "{{.Spec.Name}}\t{{json .Spec.Labels}}"};
    auto ids = Lines(ls.out);
    if (ids.empty()) return true;
    args.insert(args.end(), ids.begin(), ids.end());
    Cli inspect = RunDocker(node, args);
    if (inspect.exit_code != 0) {
      *problem = "docker service inspect: " + inspect.Describe();
      continue;
    }
    for (const auto& line : Lines(inspect.out)) {
      auto tab = line.find('\t');
      Listed o{line.substr(0, tab), "", {}};
      auto labels = nlohmann::json::parse(tab == std::string::npos ? "null" : line.substr(tab + 1), nullptr, false);
      if (labels.is_object()) {
        for (const auto& [k, v] : labels.items()) o.labels[k] = v.is_string() ? v.get<std::string>() : v.dump();
      }
      into->push_back(std::move(o));
    }
    return true;
  }
  return false;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Why `o` is owned by `what` ("name", "label k=v", ...); empty when it is not.
std::string Why(const Listed& o, const Ownership& what) {
  std::vector<std::string> why;
  auto add = [&](const std::string& reason) {
    if (std::find(why.begin(), why.end(), reason) == why.end()) why.push_back(reason);
  };
  auto label = [&](const std::string& key) {
    auto it = o.labels.find(key);
    return it == o.labels.end() ? std::string() : it->second;
  };
  for (const auto& ns : what.namespaces) {
    if (ns.empty()) continue;
    if (o.name == ns || StartsWith(o.name, ns + "_")) add("name");
    for (const auto& key : kNamespaceLabels) {
      if (label(key) == ns) add("label " + key + "=" + ns);
    }
  }
  for (const auto& mark : what.namespace_marks) {
    if (mark.empty()) continue;
    if (o.name.find(mark) != std::string::npos) add("name");
    for (const auto& key : kNamespaceLabels) {
      if (label(key).find(mark) != std::string::npos) add("label " + key + "=" + label(key));
    }
  }
  for (const auto& name : what.names) {
    if (o.name == name) add("name");
  }
  for (const auto& l : what.labels) {
    auto eq = l.find('=');
    std::string value = label(l.substr(0, eq));
    if (eq == std::string::npos ? !value.empty() : value == l.substr(eq + 1)) {
      add("label " + l.substr(0, eq) + "=" + value);
    }
  }
  std::string text;
  for (const auto& w : why) text += (text.empty() ? "" : ", ") + w;
  return text;
}

bool Looks(const Ownership& what) {
  auto any = [](const std::vector<std::string>& v) {
    return std::any_of(v.begin(), v.end(), [](const std::string& s) { return !s.empty(); });
  };
  return any(what.namespaces) || any(what.namespace_marks) || any(what.names) || any(what.labels);
}

std::string Describe(const Ownership& what) {
  std::string text;
  auto add = [&](const char* what_kind, const std::vector<std::string>& items) {
    for (const auto& i : items) text += (text.empty() ? "" : " or ") + std::string(what_kind) + " " + i;
  };
  add("namespace", what.namespaces);
  add("namespaces containing", what.namespace_marks);
  add("name", what.names);
  add("label", what.labels);
  return text.empty() ? "nothing" : text;
}

// Every node of each manager's Swarm must be among the nodes scanned: containers and
// volumes on a node nobody listed would otherwise pass unseen.
void CheckCoverage(const std::vector<DockerNode>& nodes, LeftoverScan* scan) {
  std::set<std::string> ids;
  for (const auto& node : nodes) {
    Cli info = RunDocker(node, {"info", "--format", "{{.Swarm.NodeID}}"});
    if (info.exit_code != 0) {
      scan->problems.push_back(node.name + ": docker info: " + info.Describe());
      continue;
    }
    for (const auto& id : Lines(info.out)) ids.insert(id);
  }
  for (const auto& node : nodes) {
    if (!node.manager) continue;
    Cli ls = RunDocker(node, {"node", "ls", "--format", "{{.ID}}\t{{.Hostname}}"});
    if (ls.exit_code != 0) {
      scan->problems.push_back(node.name + ": docker node ls: " + ls.Describe());
      continue;
    }
    for (const auto& line : Lines(ls.out)) {
      auto f = Split(line, '\t');
      f.resize(2);
      if (!ids.count(f[0])) {
        scan->problems.push_back(node.name + ": its Swarm's node " + f[1] + " (" + f[0] + ") was not checked");
      }
    }
  }
}

}  // namespace

DockerNode ThisMachine() { return {"local", {}, true}; }

Ownership Namespace(const std::string& ns) {
  Ownership o;
  o.namespaces.push_back(ns);
  return o;
}

std::vector<std::string> LeftoverScan::Names(const std::string& kind) const {
  std::vector<std::string> names;
  for (const auto& o : objects) {
    if (o.kind == kind) names.push_back(o.name);
  }
  return names;
}

std::string LeftoverScan::ToString() const {
  std::string nodes_text;
  for (const auto& n : nodes) nodes_text += (nodes_text.empty() ? "" : ", ") + n;
  if (empty()) return "nothing of " + looked_for + " (looked on " + nodes_text + ")";
  std::string text = std::to_string(objects.size()) + " object(s) of " + looked_for + " left (looked on " +
                     nodes_text + "):\n";
  for (const auto& o : objects) {
    text += "  " + o.node + ": " + o.kind + " " + o.name + (o.state.empty() ? "" : " [" + o.state + "]") + " (" +
            o.why + ")\n";
  }
  for (const auto& p : problems) text += "  not checked: " + p + "\n";
  return text;
}

LeftoverScan ScanFor(const Ownership& what, const std::vector<DockerNode>& nodes) {
  LeftoverScan scan;
  for (const auto& node : nodes) scan.nodes.push_back(node.name);
  scan.looked_for = Describe(what);
  if (!Looks(what)) {
    scan.problems.push_back("nothing to look for (an empty namespace?)");
    return scan;
  }
  const auto keys = LabelKeys(what);
  for (const auto& node : nodes) {
    struct Kind {
      std::string kind;
      bool swarm_wide;  // listed on managers only
      std::vector<std::string> ls;
      std::string name_field, state_field;
    };
    const std::vector<Kind> kinds = {
        {"service", true, {}, "", ""},
        {"container", false, {"ps", "-a"}, ".Names", ".State"},
        {"network", false, {"network", "ls"}, ".Name", ""},
        {"secret", true, {"secret", "ls"}, ".Name", ""},
        {"config", true, {"config", "ls"}, ".Name", ""},
        {"volume", false, {"volume", "ls"}, ".Name", ""},
    };
    for (const auto& k : kinds) {
      if (k.swarm_wide && !node.manager) continue;
      std::vector<Listed> listed;
      std::string problem;
      bool ok = k.kind == "service" ? ListServices(node, &listed, &problem)
                                    : ListByFormat(node, k.ls, k.name_field, k.state_field, keys, &listed, &problem);
      if (!ok) {
        scan.problems.push_back(node.name + ": " + problem);
        continue;
      }
      for (const auto& o : listed) {
        std::string why = Why(o, what);
        if (!why.empty()) scan.objects.push_back({node.name, k.kind, o.name, o.state, why});
      }
    }
  }
  CheckCoverage(nodes, &scan);
  return scan;
}

std::vector<std::string> RemoveFound(const LeftoverScan& scan, const std::vector<DockerNode>& nodes) {
  auto node_of = [&](const std::string& name) {
    for (const auto& n : nodes) {
      if (n.name == name) return n;
    }
    return DockerNode{name, {}, true};
  };
  auto rm = [&](const FoundObject& o) -> Cli {
    if (o.kind == "container") return RunDocker(node_of(o.node), {"rm", "-f", "-v", o.name});
    if (o.kind == "volume") return RunDocker(node_of(o.node), {"volume", "rm", "-f", o.name});
    return RunDocker(node_of(o.node), {o.kind, "rm", o.name});
  };
  std::vector<FoundObject> rest;
  for (const char* first : {"service", "container"}) {
    for (const auto& o : scan.objects) {
      if (o.kind == first && rm(o).exit_code != 0) rest.push_back(o);
    }
  }
  for (const auto& o : scan.objects) {
    if (o.kind != "service" && o.kind != "container") rest.push_back(o);
  }
  // Networks and volumes stay in use until the containers of removed services are gone.
  std::vector<std::string> failed;
  for (int round = 0; round < 40 && !rest.empty(); ++round) {
    if (round > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::vector<FoundObject> again;
    failed.clear();
    for (const auto& o : rest) {
      Cli r = rm(o);
      bool gone = r.exit_code == 0 || r.err.find("No such") != std::string::npos ||
                  r.err.find("not found") != std::string::npos;
      if (!gone) {
        again.push_back(o);
        failed.push_back(o.node + ": " + o.kind + " " + o.name + ": " + r.Describe());
      }
    }
    rest = std::move(again);
  }
  return failed;
}

}  // namespace harness::testing
