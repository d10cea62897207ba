#include "support/fake_runtime.h"

#include <poll.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "proof/phase_log.h"

namespace harness::testing {

namespace {

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// No change ever comes: waits out `max` unless the run is cancelled, like a watch whose
// stream saw nothing of the namespace.
class QuietWatch : public ChangeWatch {
 public:
  bool Wait(Duration max, const CancelToken& cancel) override {
    pollfd p{cancel.fd(), POLLIN, 0};
    poll(&p, p.fd >= 0 ? 1 : 0, static_cast<int>(std::max<int64_t>(0, max.count())));
    return false;
  }
};

}  // namespace

int FakeSwarm::Count(const std::string& prefix) const {
  return static_cast<int>(std::count_if(calls.begin(), calls.end(), [&](const std::string& c) {
    return StartsWith(c, prefix);
  }));
}

bool FakeSwarm::AnyOf(const std::string& ns) const {
  for (const auto& o : live) {
    if (o == "stack:" + ns || StartsWith(o, "secret:" + ns + "_")) return true;
  }
  return false;
}

std::function<std::unique_ptr<Runtime>(Docker*)> FakeSwarm::Factory() {
  return [this](Docker*) -> std::unique_ptr<Runtime> {
    ++runtimes;
    return std::make_unique<FakeRuntime>(this);
  };
}

void FakeRuntime::Call(const std::string& call, PhaseLog* log) {
  swarm_->calls.push_back(call);
  if (swarm_->on_call) swarm_->on_call(call);
  if (log != nullptr) {
    Command cmd;
    cmd.argv = {"fake", call};
    log->RecordCommand(cmd, ProcessResult{0, 0, false, false, "", "", Duration(0)});
  }
}

size_t FakeRuntime::Current() const { return swarm_->namespaces.empty() ? 0 : swarm_->namespaces.size() - 1; }

Status FakeRuntime::Preflight(PhaseLog* log, Deadline, const CancelToken&) {
  Call("preflight", log);
  return swarm_->preflight.Next();
}

std::string FakeRuntime::ChooseObservations(Deadline) { return "fake"; }

std::string FakeRuntime::DaemonIdentity(Deadline) {
  Call("daemon", nullptr);
  return swarm_->daemon.Next();
}

Result<std::vector<ImageReport>> FakeRuntime::EnsureImages(const std::vector<std::string>& images, PullPolicy,
                                                           PhaseLog* log, Deadline, const CancelToken&,
                                                           const std::function<void(const std::string&)>&) {
  Call("images " + QuoteArgv(images), log);
  if (!swarm_->images.ok()) return swarm_->images;
  std::vector<ImageReport> reports;
  for (const auto& image : images) reports.push_back({image, image, "", "present", Duration(0)});
  return reports;
}

std::vector<Runtime::ImagePlan> FakeRuntime::PlanImages(const std::vector<std::string>& images, PullPolicy,
                                                        PhaseLog* log, Deadline, const CancelToken&) {
  Call("plan-images " + QuoteArgv(images), log);
  std::vector<ImagePlan> plans;
  for (const auto& image : images) plans.push_back({{image, image, "", "present", Duration(0)}, ""});
  return plans;
}

Result<Runtime::NetworkState> FakeRuntime::InspectNetwork(const std::string& name, PhaseLog* log, Deadline,
                                                          const CancelToken&) {
  Call("inspect-network " + name, log);
  NetworkState state;
  state.ours = swarm_->live.count("network:" + name) > 0;
  state.exists = state.ours || swarm_->networks.count(name) > 0;
  if (state.exists) {
    state.driver = "overlay";
    state.scope = "swarm";
    state.attachable = true;
  }
  return state;
}

Status FakeRuntime::CreateSharedNetwork(const std::string& name, const std::map<std::string, std::string>&,
                                        PhaseLog* log, Deadline, const CancelToken&) {
  Call("create-network " + name, log);
  swarm_->live.insert("network:" + name);
  return Status::Ok();
}

Result<bool> FakeRuntime::RemoveSharedNetwork(const std::string& name, PhaseLog* log, Deadline) {
  Call("remove-network " + name, log);
  swarm_->live.erase("network:" + name);
  return true;
}

Status FakeRuntime::PrepareApp(const App& app) {
  Call("prepare-app " + app.domain, nullptr);
  return Status::Ok();
}

Status FakeRuntime::CreateApp(PhaseLog* log, Deadline, const CancelToken&) {
  Call("create-app", log);
  return swarm_->create_app;
}

Result<bool> FakeRuntime::SecretExists(const std::string& name, PhaseLog* log, Deadline, const CancelToken&) {
  Call("secret-exists " + name, log);
  return swarm_->live.count("secret:" + name) > 0;
}

Status FakeRuntime::CreateSecret(const Secret& secret, PhaseLog* log, Deadline, const CancelToken&) {
  Call("secret " + secret.name, log);
  Status s = swarm_->secrets.Next();
  if (s.ok()) swarm_->live.insert("secret:" + secret.name);
  return s;
}

Status FakeRuntime::Deploy(const std::string& ns, const std::vector<std::string>& files,
                           const std::map<std::string, std::string>&, PhaseLog* log, Deadline, const CancelToken&) {
  Call("deploy " + ns, log);
  swarm_->namespaces.push_back(ns);
  std::string text;
  for (const auto& f : files) text += Slurp(f);
  swarm_->deployed.push_back(text);
  Status s = swarm_->deploys.Next();
  if (s.ok()) swarm_->live.insert("stack:" + ns);
  return s;
}

std::unique_ptr<ChangeWatch> FakeRuntime::Watch(const std::string& ns, Deadline) {
  Call("watch " + ns, nullptr);
  return std::make_unique<QuietWatch>();
}

Result<ConvergeSnapshot> FakeRuntime::Observe(const std::string& ns, const std::vector<std::string>& expected,
                                              PhaseLog* log, Deadline, const CancelToken&) {
  Call("observe " + ns, log);
  ConvergeSnapshot snap;
  if (swarm_->live.count("stack:" + ns) == 0 || swarm_->converge.empty()) return snap;
  auto behaviour = swarm_->converge[std::min(Current(), swarm_->converge.size() - 1)];
  std::string generation = std::to_string(Current());
  for (const auto& service : expected) {
    snap.services.push_back({service, 1, false, ""});
    std::string task = service + "-task-" + generation;
    switch (behaviour) {
      case FakeSwarm::Behaviour::kConverges:
        snap.tasks.push_back({task, service, service + ".1", "Running", "Running 2 seconds ago", ""});
        snap.containers.push_back({"c-" + task, service, task, "Up 2 seconds (healthy)"});
        break;
      case FakeSwarm::Behaviour::kNeverConverges:
        snap.tasks.push_back({task, service, service + ".1", "Running", "Preparing 2 seconds ago", ""});
        break;
      case FakeSwarm::Behaviour::kCrashLoops:
        for (int i = 0; i < 3; ++i) {
          snap.tasks.push_back({task + "-" + std::to_string(i), service, service + ".1", "Shutdown",
                                "Failed 1 second ago", "task: non-zero exit (1)"});
        }
        break;
    }
  }
  return snap;
}

Result<std::vector<Runtime::ServiceVersion>> FakeRuntime::ServiceVersions(const std::vector<std::string>& services,
                                                                          const std::string& label, PhaseLog* log,
                                                                          Deadline, const CancelToken&) {
  Call("versions " + label, log);
  auto at = [&](const std::vector<std::string>& v) {
    return v.empty() ? std::string() : v[std::min(Current(), v.size() - 1)];
  };
  std::vector<ServiceVersion> out;
  for (const auto& s : services) out.push_back({s, at(swarm_->versions), at(swarm_->update_states)});
  return out;
}

Result<nlohmann::json> FakeRuntime::ContainerHealth(const std::string& ns, Deadline) {
  Call("health " + ns, nullptr);
  return nlohmann::json::array();
}

Result<Runtime::Located> FakeRuntime::ContainerOf(const std::string& ns, const std::string& service, Deadline,
                                                  const CancelToken&) {
  Call("locate " + service, nullptr);
  if (swarm_->live.count("stack:" + ns) == 0) return Status::Failed("no running container of " + service);
  return Located{"c-" + ns + "_" + service, &exec_, "fake-node"};
}

Result<std::string> FakeRuntime::AddressOf(const Located& where, Deadline, const CancelToken&) {
  Call("address " + where.container, nullptr);
  return std::string("127.0.0.1");
}

Result<ProcessResult> FakeRuntime::Exec(const Located& where, const std::vector<std::string>& argv, Deadline,
                                        const CancelToken&) {
  Call("exec " + where.container + " " + QuoteArgv(argv), nullptr);
  return swarm_->exec;
}

Result<std::string> FakeRuntime::Logs(const std::string&, const std::string& service, int, Deadline,
                                      const CancelToken&) {
  Call("logs " + service, nullptr);
  return swarm_->logs;
}

Status FakeRuntime::Teardown(const std::string& ns, PhaseLog* log, Deadline) {
  Call("teardown " + ns, log);
  if (!swarm_->teardown.ok()) return swarm_->teardown;
  auto stuck = [&](const std::string& object) {
    return std::any_of(swarm_->stuck.begin(), swarm_->stuck.end(),
                       [&](const std::string& part) { return object.find(part) != std::string::npos; });
  };
  std::vector<std::string> left;
  for (auto it = swarm_->live.begin(); it != swarm_->live.end();) {
    bool mine = *it == "stack:" + ns || StartsWith(*it, "secret:" + ns + "_");
    if (mine && stuck(*it)) left.push_back(*it);
    it = mine && !stuck(*it) ? swarm_->live.erase(it) : std::next(it);
  }
  if (!left.empty()) {
    std::string what;
    for (const auto& l : left) what += (what.empty() ? "" : ", ") + l;
    return Status::Infra("teardown of " + ns + " left objects behind: " + what);
  }
  return Status::Ok();
}

}  // namespace harness::testing
