#include "doctor/doctor.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/temp_dir.h"
#include "ledger/ledger.h"
#include "ledger/liveness.h"
#include "runtime/compose.h"
#include "runtime/nodes.h"
#include "script/engine.h"
#include "source/recipe_source.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr Duration kStep{20000};
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// The compose files a recipe script names (its defaults when it cannot be loaded).
std::vector<std::string> ScriptComposeFiles(const std::string& script, const std::string& recipe) {
  std::ifstream f(script);
  std::stringstream src;
  src << f.rdbuf();
  ScriptEngine engine("recipes/" + recipe + "/recipe.lua", recipe);
  auto spec = engine.Load(src.str());
  return spec.ok() ? spec->compose : std::vector<std::string>{"compose.yml"};
}

Finding Ok(std::string check, std::string detail) {
  return {std::move(check), Finding::Level::kOk, std::move(detail), ""};
}
Finding Warn(std::string check, std::string detail, std::string fix) {
  return {std::move(check), Finding::Level::kWarn, std::move(detail), std::move(fix)};
}
Finding Bad(std::string check, std::string detail, std::string fix) {
  return {std::move(check), Finding::Level::kFail, std::move(detail), std::move(fix)};
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Free bytes on the file system holding `path` (or its nearest existing parent).
double FreeBytes(fs::path path) {
  while (!path.empty() && !fs::exists(path)) path = path.parent_path();
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
                           (version.ok() ? Trim(version->err) : version.status().message()),
               "start dockerd on the node");
  }
  std::string missing;
  for (const auto& [image, recipes] : needed) {
    auto r = d.Run({"image", "inspect", "--format", "{{.Id}}", image}, nullptr, Deadline::In(kStep),
                   CancelToken::None());
    if (!r.ok() || !r->ok()) missing += (missing.empty() ? "" : ", ") + image;
  }
  std::string detail = who + ": engine " + Trim(version->out);
  if (!missing.empty()) {
    return Bad("node", detail + "; images missing: " + missing,
               "load them there (docker save IMAGE | docker -H <node> load); tasks placed there cannot start");
  }
  return Ok("node", detail + "; all " + std::to_string(needed.size()) + " image(s) present");
}

}  // namespace

std::vector<Finding> RunDoctor(const DoctorOptions& opts, SwarmRuntime* swarm, Docker* docker) {
  std::vector<Finding> out;
  const CancelToken& never = CancelToken::None();

  auto version = docker->Run({"version", "--format", "{{.Server.Version}}"}, nullptr, Deadline::In(kStep), never);
  if (!version.ok() || !version->ok()) {
    out.push_back(Bad("docker", version.ok() ? Trim(version->err) : version.status().message(),
                      "start dockerd (scripts/setup does), or point --docker at a working CLI"));
    return out;  // nothing else can be checked
  }
  out.push_back(Ok("docker", "engine " + Trim(version->out)));

  if (Status s = swarm->Preflight(nullptr, Deadline::In(kStep), never); !s.ok()) {
    out.push_back(Bad("swarm", s.message(), "docker swarm init --advertise-addr 127.0.0.1 (or use a manager)"));
  } else {
    auto nodes = docker->Run({"node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}}"}, nullptr,
                             Deadline::In(kStep), never);
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
        out.push_back(Ok("swarm", "manager; " + std::to_string(total) + " node(s) ready"));
      } else {
        out.push_back(Warn("swarm", std::to_string(ready) + " of " + std::to_string(total) +
                                        " nodes ready and active (" + bad + ")",
                           "bring the nodes back, or drain them so that nothing is scheduled there"));
      }
    }
  }

  auto gw = docker->Run({"network", "inspect", "--format", "{{.Name}}", "docker_gwbridge"}, nullptr,
                        Deadline::In(kStep), never);
  if (gw.ok() && gw->ok()) {
    out.push_back(Ok("network", "docker_gwbridge present (tests reach services through it)"));
  } else {
    out.push_back(Bad("network", "no docker_gwbridge network",
                      "it appears with the first Swarm task on this node; re-run `docker swarm init`"));
  }

  // Images every recipe needs, from their compose files (interpolated with .env.sample).
  std::map<std::string, std::vector<std::string>> needed;  // image → recipes
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(opts.recipes_dir, ec)) {
    if (!entry.is_directory()) continue;
    std::string dir = entry.path().string();
    std::vector<std::string> files;
    for (const auto& f : fs::directory_iterator(dir, ec)) {
      std::string name = f.path().filename().string();
      if (name.rfind("compose", 0) == 0 && (name.size() > 4 && name.substr(name.size() - 4) == ".yml")) {
        files.push_back(name);
      }
    }
    if (files.empty()) continue;
    std::sort(files.begin(), files.end());
    TempDir stage("harness-doctor");
    std::map<std::string, std::string> env;
    std::ifstream sample(dir + "/.env.sample");
    std::stringstream ss;
    ss << sample.rdbuf();
    env = ParseEnvFile(ss.str());
    auto staged = StageCompose(dir, files, {}, env, "doctor", stage.path());
    if (!staged.ok()) continue;
    for (const auto& img : staged->objects.images) needed[img].push_back(entry.path().filename().string());
  }
  // Git-sourced recipes: their repositories answer, and their newest release's images.
  {
    RecipeSources sources(opts.recipes_dir, opts.state_dir + "/git");
    for (const auto& entry : fs::directory_iterator(opts.recipes_dir, ec)) {
      const std::string name = entry.path().filename().string();
      auto origin = sources.OriginOf(name);
      if (!origin.ok() || !origin->has_value()) continue;
      auto files = sources.Checkout(name, "", "", never);
      if (!files.ok()) {
        out.push_back(Bad("source", files.status().message(),
                          "check the repository's address in recipes/" + name + "/recipe.lua and that git can reach it"));
        continue;
      }
      out.push_back(Ok("source", name + ": " + (*origin)->url + " at " + files->version));
      auto spec_files = ScriptComposeFiles(files->script, name);
      TempDir stage("harness-doctor");
      std::ifstream sample(files->files_dir + "/.env.sample");
      std::stringstream ss;
      ss << sample.rdbuf();
      auto staged = StageCompose(files->files_dir, spec_files, {}, ParseEnvFile(ss.str()), "doctor", stage.path());
      if (!staged.ok()) continue;
      for (const auto& img : staged->objects.images) needed[img].push_back(name);
    }
  }
  if (needed.empty()) {
    out.push_back(Warn("images", "no compose files found under " + opts.recipes_dir,
                       "point --recipes at a folder of recipes"));
  }
  for (const auto& [image, recipes] : needed) {
    Status s = swarm->CheckImages({image}, nullptr, Deadline::In(kStep), never);
    std::string users;
    for (const auto& r : recipes) users += (users.empty() ? "" : ", ") + r;
    if (s.ok()) {
      out.push_back(Ok("images", image + " present (" + users + ")"));
    } else {
      out.push_back(Bad("images", image + " missing (needed by " + users + ")",
                        "build or load it on every node (scripts/setup builds the bundled one)"));
    }
  }

  // Every other node of a multi-node Swarm: reachable, its engine, the images on it.
  if (opts.nodes != nullptr) {
    auto nodes = ListNodes(docker, Deadline::In(kStep));
    if (nodes.ok() && nodes->size() > 1) {
      for (const auto& n : *nodes) {
        if (n.self) continue;
        out.push_back(NodeFinding(n, opts.nodes, docker->binary(), needed));
      }
    }
  }

  auto root = docker->Run({"info", "--format", "{{.DockerRootDir}}"}, nullptr, Deadline::In(kStep), never);
  if (root.ok() && root->ok()) {
    std::string dir = Trim(root->out);
    bool here = docker->executor()->Describe() == "local";
    double free = here ? FreeBytes(dir) : RemoteFreeBytes(docker->executor(), dir);
    out.push_back(Disk(here ? "Docker" : "Docker on " + docker->executor()->Describe(), dir, free));
  }
  std::string artifacts = fs::absolute(opts.artifacts_dir).string();
  out.push_back(Disk("artifacts", artifacts, FreeBytes(artifacts)));

  auto clock = docker->Run({"info", "--format", "{{.SystemTime}}"}, nullptr, Deadline::In(kStep), never);
  if (clock.ok() && clock->ok()) {
    std::tm tm{};
    std::string t = Trim(clock->out);
    if (strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr) {
      double skew = std::difftime(std::time(nullptr), timegm(&tm));
      if (std::abs(skew) > 5) {
        out.push_back(Warn("clock", "this machine and Docker differ by " + std::to_string(static_cast<int>(skew)) + " s",
                           "synchronise the clocks (timestamps in reports would disagree)"));
      } else {
        out.push_back(Ok("clock", "agrees with Docker's"));
      }
    }
  }

  auto ledger = Ledger::Open(opts.state_dir);
  if (!ledger.ok()) {
    out.push_back(Bad("state", ledger.status().message(), "make --state a writable folder"));
  } else {
    auto open = (*ledger)->RunsWithOpenResources();
    out.push_back(Ok("state", opts.state_dir + " (ledger works" +
                                  (open.ok() ? ", " + std::to_string(open->size()) + " run(s) with open resources" : "") + ")"));
  }

  auto labelled = swarm->LabelledNamespaces(Deadline::In(kStep));
  if (labelled.ok()) {
    int dead = 0, live = 0;
    for (const auto& l : *labelled) {
      Liveness lv = LockLiveness(opts.state_dir, l.namespace_name);
      if (lv == Liveness::kUnknown && !l.owner.empty()) lv = OwnerLiveness(l.owner);
      (lv == Liveness::kLive ? live : dead) += 1;
    }
    if (dead > 0) {
      out.push_back(Warn("leftovers", std::to_string(dead) + " namespace(s) of runs that are not live",
                         "harness reap (or harness reap --dry-run to see them)"));
    } else {
      out.push_back(Ok("leftovers", live > 0 ? std::to_string(live) + " live run(s), nothing to reap" : "none"));
    }
  }
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
