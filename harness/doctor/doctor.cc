#include "doctor/doctor.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/strings.h"
#include "base/temp_dir.h"
#include "ledger/ledger.h"
#include "ledger/liveness.h"
#include "recipe/deploy_env.h"
#include "runtime/compose.h"
#include "runtime/nodes.h"
#include "script/engine.h"
#include "source/recipe_source.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr Duration kStep{20000};
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

Finding Ok(std::string check, std::string detail) {
  return {std::move(check), Finding::Level::kOk, std::move(detail), ""};
}
Finding Warn(std::string check, std::string detail, std::string fix) {
  return {std::move(check), Finding::Level::kWarn, std::move(detail), std::move(fix)};
}
Finding Bad(std::string check, std::string detail, std::string fix) {
  return {std::move(check), Finding::Level::kFail, std::move(detail), std::move(fix)};
}

// Free bytes on the file system holding `path` (or its nearest existing parent).
double FreeBytes(fs::path path) {
  std::error_code ec;
  while (!path.empty() && !fs::exists(path, ec)) path = path.parent_path();
  struct statvfs st;
  if (statvfs(path.empty() ? "/" : path.c_str(), &st) != 0) return -1;
  return static_cast<double>(st.f_bavail) * static_cast<double>(st.f_frsize);
}

// Free bytes on the target's file system holding `path`, by `df -Pk`.
double RemoteFreeBytes(Executor* exec, const std::string& path) {
  Command cmd;
  cmd.argv = {"df", "-Pk", path};
  cmd.deadline = Deadline::In(kStep);
  auto r = exec->Run(cmd, CancelToken::None());
  if (!r.ok() || !r->ok()) return -1;
  std::istringstream in(r->out);
  std::string header, fsname;
  double blocks = 0, used = 0, avail = -1;
  std::getline(in, header);
  in >> fsname >> blocks >> used >> avail;
  return avail < 0 ? -1 : avail * 1024.0;
}

Finding Disk(const std::string& what, const std::string& path, double free) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f GiB free", free / kGiB);
  std::string detail = std::string(buf) + " for " + what + " (" + path + ")";
  if (free < 0) return Warn("disk", "cannot read free space of " + path, "check that the folder exists");
  if (free < 1 * kGiB) return Bad("disk", detail, "free disk space: deploys and images need room");
  if (free < 5 * kGiB) return Warn("disk", detail, "little room left; prune images and old artifacts");
  return Ok("disk", detail);
}

// One node of the Swarm other than the target's: reachable, its engine, the images on it.
Finding NodeFinding(const SwarmNode& n, NodeReach* reach, const std::string& binary,
                    const std::map<std::string, std::vector<std::string>>& needed) {
  std::string who = "node " + n.hostname + " (" + n.address + ", " + n.role + ")";
  if (n.state != "ready" || n.availability != "active") {
    return Warn("node", who + ": " + n.state + ", " + n.availability,
                "bring it back, or drain it so that nothing is scheduled there");
  }
  auto exec = reach->For(n);
  if (!exec.ok()) {
    return Bad("node", who + ": " + exec.status().message(),
               "every node must accept the target's SSH user and key, and be in --known-hosts");
  }
  Docker d(*exec, binary);
  auto version = d.Run({"version", "--format", "{{.Server.Version}}"}, nullptr, Deadline::In(kStep),
                       CancelToken::None());
  if (!version.ok() || !version->ok()) {
    return Bad("node", who + ": Docker does not answer: " +
                           (version.ok() ? TrimRight(version->err) : version.status().message()),
               "start dockerd on the node");
  }
  std::string missing;
  for (const auto& [image, recipes] : needed) {
    auto r = d.Run({"image", "inspect", "--format", "{{.Id}}", image}, nullptr, Deadline::In(kStep),
                   CancelToken::None());
    if (!r.ok() || !r->ok()) missing += (missing.empty() ? "" : ", ") + image;
  }
  std::string detail = who + ": engine " + TrimRight(version->out);
  if (!missing.empty()) {
    return Bad("node", detail + "; images missing: " + missing,
               "load them there (docker save IMAGE | docker -H <node> load); tasks placed there cannot start");
  }
  return Ok("node", detail + "; all " + std::to_string(needed.size()) + " image(s) present");
}

// The images and external networks every recipe needs, from the compose files a run would
// choose (the script's, or COMPOSE_FILE), interpolated as a run would; git-sourced recipes
// at their newest release, after their repository answered.
struct Needs {
  std::map<std::string, std::vector<std::string>> images;    // image → recipes
  std::map<std::string, std::vector<std::string>> networks;  // external network → recipes
};

// Docker answers: false when it does not (then nothing else can be checked).
bool CheckDocker(Docker* docker, std::vector<Finding>* out) {
  auto version = docker->Run({"version", "--format", "{{.Server.Version}}"}, nullptr, Deadline::In(kStep), CancelToken::None());
  if (!version.ok() || !version->ok()) {
    out->push_back(Bad("docker", version.ok() ? TrimRight(version->err) : version.status().message(),
                      "start dockerd (scripts/setup does), or point --docker at a working CLI"));
    return false;
  }
  out->push_back(Ok("docker", "engine " + TrimRight(version->out)));
  return true;
}

// This node is a manager, and every node is ready.
void CheckSwarm(SwarmRuntime* swarm, Docker* docker, std::vector<Finding>* out) {
  if (Status s = swarm->Preflight(nullptr, Deadline::In(kStep), CancelToken::None()); !s.ok()) {
    out->push_back(Bad("swarm", s.message(), "docker swarm init --advertise-addr 127.0.0.1 (or use a manager)"));
  } else {
    auto nodes = docker->Run({"node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}}"}, nullptr,
                             Deadline::In(kStep), CancelToken::None());
    if (nodes.ok() && nodes->ok()) {
      std::istringstream in(nodes->out);
      std::string line;
      int total = 0, ready = 0;
      std::string bad;
      while (std::getline(in, line)) {
        ++total;
        if (line.find(" Ready Active") != std::string::npos) {
          ++ready;
        } else {
          bad += (bad.empty() ? "" : "; ") + line;
        }
      }
      if (ready == total) {
        out->push_back(Ok("swarm", "manager; " + std::to_string(total) + " node(s) ready"));
      } else {
        out->push_back(Warn("swarm", std::to_string(ready) + " of " + std::to_string(total) +
                                        " nodes ready and active (" + bad + ")",
                           "bring the nodes back, or drain them so that nothing is scheduled there"));
      }
    }
  }
}

void CheckGateway(Docker* docker, std::vector<Finding>* out) {
  auto gw = docker->Run({"network", "inspect", "--format", "{{.Name}}", "docker_gwbridge"}, nullptr,
                        Deadline::In(kStep), CancelToken::None());
  if (gw.ok() && gw->ok()) {
    out->push_back(Ok("network", "docker_gwbridge present (tests reach services through it)"));
  } else {
    out->push_back(Bad("network", "no docker_gwbridge network",
                      "it appears with the first Swarm task on this node; re-run `docker swarm init`"));
  }
}

Needs FindNeeds(const DoctorOptions& opts, std::vector<Finding>* out) {
  Needs n;
  {
    RecipeSources sources(opts.recipes_dir, opts.state_dir + "/git");
    auto names = sources.List();
    if (!names.ok()) out->push_back(Bad("recipes", names.status().message(), "fix the catalogue file"));
    for (const auto& name : names.ok() ? *names : std::vector<std::string>{}) {
      auto origin = sources.OriginOf(name);
      if (!origin.ok()) continue;  // a script that does not load is a run's to report
      auto files = sources.Checkout(name, "", "", CancelToken::None());
      if (!files.ok()) {
        if (origin->has_value()) {
          out->push_back(Bad("source", files.status().message(),
                            "check the repository's address of " + name + " and that git can reach it"));
        }
        continue;
      }
      if (origin->has_value()) out->push_back(Ok("source", name + ": " + (*origin)->url + " at " + files->version));
      auto text = RecipeSources::ScriptText(*files);
      if (!text.ok()) continue;
      ScriptEngine engine(files->chunk, name);
      auto spec = engine.Load(*text);
      if (!spec.ok()) continue;
      auto env = ReadDeployEnvironment(files->files_dir, *spec, "doctor", "doctor.localhost");
      if (!env.ok()) continue;
      TempDir stage("harness-doctor");
      auto staged = StageCompose(files->files_dir, env->compose, {}, env->env, "doctor", stage.path());
      if (!staged.ok()) continue;
      for (const auto& img : staged->objects.images) n.images[img].push_back(name);
      for (const auto& [key, net] : staged->objects.external_networks) n.networks[net].push_back(name);
    }
  }
  return n;
}

void CheckImages(const DoctorOptions& opts, const Needs& needs, SwarmRuntime* swarm, std::vector<Finding>* out) {
  if (needs.images.empty()) {
    out->push_back(Warn("images", "no compose files found under " + opts.recipes_dir,
                       "point --recipes at a folder of recipes"));
  }
  std::vector<std::string> images;
  for (const auto& [image, recipes] : needs.images) images.push_back(image);
  auto plans = swarm->PlanImages(images, PullPolicy::kMissing, nullptr, Deadline::In(kStep), CancelToken::None());
  for (const auto& p : plans) {
    const std::string users = Join(needs.images.at(p.report.image), ", ");
    const std::string& source = p.report.source;
    if (source == "present" || source == "local-only") {
      out->push_back(Ok("images", p.report.image + " present (" + users + ")"));
    } else if (source == "pullable") {
      out->push_back(Ok("images", p.report.image + " pullable from its registry (" + users + ")"));
    } else if (source == "missing") {
      out->push_back(Bad("images", p.report.image + " missing (needed by " + users + "): " + p.error,
                        "build or load it on every node, or push it to its registry (scripts/setup serves the bundled one)"));
    } else {
      out->push_back(Warn("images", p.report.image + " not on this node, and its registry did not answer (" + users +
                                       "): " + p.error,
                         "check that the registry answers: docker pull " + p.report.image));
    }
  }
}

void CheckNetworks(const Needs& needs, SwarmRuntime* swarm, std::vector<Finding>* out) {
  // External networks (Traefik's proxy): a run creates what the Swarm lacks, for itself.
  for (const auto& [name, recipes] : needs.networks) {
    auto state = swarm->InspectNetwork(name, nullptr, Deadline::In(kStep), CancelToken::None());
    const std::string users = Join(recipes, ", ");
    if (!state.ok()) {
      out->push_back(Warn("networks", name + ": " + state.status().message(), "check that Docker answers"));
    } else if (!state->exists) {
      out->push_back(Ok("networks", name + " does not exist; each run creates it (attachable overlay) and removes it "
                                   "after (needed by " + users + ")"));
    } else if (state->scope != "swarm") {
      out->push_back(Bad("networks", name + " exists but is a " + state->scope + " " + state->driver +
                                        " network: a stack cannot join it (needed by " + users + ")",
                        "remove it, or recreate it: docker network create --driver overlay --attachable " + name));
    } else {
      out->push_back(Ok("networks", name + " exists (" + state->driver + (state->ours ? ", made by the harness" : "") +
                                       "; needed by " + users + ")"));
    }
  }
}

void CheckNodes(const DoctorOptions& opts, const Needs& needs, Docker* docker, std::vector<Finding>* out) {
  // Every other node of a multi-node Swarm: reachable, its engine, the images on it.
  if (opts.nodes != nullptr) {
    auto nodes = ListNodes(docker, Deadline::In(kStep));
    if (nodes.ok() && nodes->size() > 1) {
      for (const auto& n : *nodes) {
        if (n.self) continue;
        out->push_back(NodeFinding(n, opts.nodes, docker->binary(), needs.images));
      }
    }
  }
}

void CheckDisks(const DoctorOptions& opts, Docker* docker, std::vector<Finding>* out) {
  auto root = docker->Run({"info", "--format", "{{.DockerRootDir}}"}, nullptr, Deadline::In(kStep), CancelToken::None());
  if (root.ok() && root->ok()) {
    std::string dir = TrimRight(root->out);
    bool here = docker->executor()->Describe() == "local";
    double free = here ? FreeBytes(dir) : RemoteFreeBytes(docker->executor(), dir);
    out->push_back(Disk(here ? "Docker" : "Docker on " + docker->executor()->Describe(), dir, free));
  }
  std::error_code ec;
  fs::path abs = fs::absolute(opts.artifacts_dir, ec);
  std::string artifacts = (ec ? fs::path(opts.artifacts_dir) : abs).string();
  out->push_back(Disk("artifacts", artifacts, FreeBytes(artifacts)));
}

void CheckClock(Docker* docker, std::vector<Finding>* out) {
  auto clock = docker->Run({"info", "--format", "{{.SystemTime}}"}, nullptr, Deadline::In(kStep), CancelToken::None());
  if (clock.ok() && clock->ok()) {
    std::tm tm{};
    std::string t = TrimRight(clock->out);
    if (strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr) {
      double skew = std::difftime(std::time(nullptr), timegm(&tm));
      if (std::abs(skew) > 5) {
        out->push_back(Warn("clock", "this machine and Docker differ by " + std::to_string(static_cast<int>(skew)) + " s",
                           "synchronise the clocks (timestamps in reports would disagree)"));
      } else {
        out->push_back(Ok("clock", "agrees with Docker's"));
      }
    }
  }
}

void CheckState(const DoctorOptions& opts, std::vector<Finding>* out) {
  auto ledger = Ledger::Open(opts.state_dir);
  if (!ledger.ok()) {
    out->push_back(Bad("state", ledger.status().message(), "make --state a writable folder"));
  } else {
    auto open = (*ledger)->RunsWithOpenResources();
    out->push_back(Ok("state", opts.state_dir + " (ledger works" +
                                  (open.ok() ? ", " + std::to_string(open->size()) + " run(s) with open resources" : "") + ")"));
  }
}

void CheckLeftovers(const DoctorOptions& opts, SwarmRuntime* swarm, std::vector<Finding>* out) {
  auto labelled = swarm->LabelledNamespaces(Deadline::In(kStep));
  if (labelled.ok()) {
    int dead = 0, live = 0;
    for (const auto& l : *labelled) {
      Liveness lv = LockLiveness(opts.state_dir, l.namespace_name);
      if (lv == Liveness::kUnknown && !l.owner.empty()) lv = OwnerLiveness(l.owner);
      (lv == Liveness::kLive ? live : dead) += 1;
    }
    if (dead > 0) {
      out->push_back(Warn("leftovers", std::to_string(dead) + " namespace(s) of runs that are not live",
                         "harness reap (or harness reap --dry-run to see them)"));
    } else {
      out->push_back(Ok("leftovers", live > 0 ? std::to_string(live) + " live run(s), nothing to reap" : "none"));
    }
  }
}

}  // namespace

std::vector<Finding> RunDoctor(const DoctorOptions& opts, SwarmRuntime* swarm, Docker* docker) {
  std::vector<Finding> out;
  if (!CheckDocker(docker, &out)) return out;  // nothing else can be checked
  CheckSwarm(swarm, docker, &out);
  CheckGateway(docker, &out);
  Needs needs = FindNeeds(opts, &out);
  CheckImages(opts, needs, swarm, &out);
  CheckNetworks(needs, swarm, &out);
  CheckNodes(opts, needs, docker, &out);
  CheckDisks(opts, docker, &out);
  CheckClock(docker, &out);
  CheckState(opts, &out);
  CheckLeftovers(opts, swarm, &out);
  return out;
}

int DoctorExitCode(const std::vector<Finding>& findings) {
  for (const auto& f : findings) {
    if (f.level == Finding::Level::kFail) return 3;
  }
  return 0;
}

std::string DoctorText(const std::vector<Finding>& findings) {
  std::ostringstream os;
  for (const auto& f : findings) {
    const char* tag = f.level == Finding::Level::kOk ? "ok  " : f.level == Finding::Level::kWarn ? "warn" : "FAIL";
    os << tag << "  " << f.check << ": " << f.detail << "\n";
    if (!f.fix.empty()) os << "      fix: " << f.fix << "\n";
  }
  return os.str();
}

nlohmann::json DoctorJson(const std::vector<Finding>& findings) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : findings) {
    list.push_back({{"check", f.check},
                    {"level", f.level == Finding::Level::kOk ? "ok" : f.level == Finding::Level::kWarn ? "warn" : "fail"},
                    {"detail", f.detail},
                    {"fix", f.fix}});
  }
  return {{"schema", "recipe-harness/doctor/v1"}, {"findings", list}, {"exit_code", DoctorExitCode(findings)}};
}

}  // namespace harness
