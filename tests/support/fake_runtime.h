// FakeRuntime: a Runtime (runtime/runtime.h) for unit tests of the run lifecycle. It keeps
// a model of what exists (stacks, secrets, shared networks) instead of a Swarm, answers
// from a script the test fills in, and records every call.
//
// FakeSwarm is the shared state: the script, the objects that exist and the calls. Each
// run makes its own FakeRuntime through Factory() (RunOptions::make_runtime), and all of
// them act on one FakeSwarm, so a retried run's two attempts are seen together.
//
// Operations also appear as commands ("fake <call>") in the phase's proof packet, so a
// test can read them from the packets on disk too.
//
// Ownership: the test owns the FakeSwarm; it must outlive the runs. Thread-safety: one
// test's thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "runtime/runtime.h"
#include "support/fake_executor.h"

namespace harness {
class Docker;
}

namespace harness::testing {

// Answers in turn; the last one repeats; none: T{}.
template <class T>
struct Answers {
  std::vector<T> answers;
  size_t next = 0;
  T Next() {
    if (answers.empty()) return T{};
    const T& a = answers[std::min(next, answers.size() - 1)];
    ++next;
    return a;
  }
  Answers& operator=(std::vector<T> v) {
    answers = std::move(v);
    next = 0;
    return *this;
  }
};

struct FakeSwarm {
  // How the n-th deploy's services behave (`converge`, indexed by deploy; last repeats).
  enum class Behaviour { kConverges, kNeverConverges, kCrashLoops };

  // ---- the script
  std::string target = "fake-swarm";
  Answers<Status> preflight;                 // per Preflight (JudgeInfrastructure asks again)
  Answers<std::string> daemon;               // per DaemonIdentity: a change is a restart
  Status images;                             // EnsureImages fails with this
  std::set<std::string> networks;            // external networks that exist (not ours)
  Status create_app;
  Answers<Status> secrets;                   // per CreateSecret
  Answers<Status> deploys;                   // per Deploy
  std::vector<Behaviour> converge = {Behaviour::kConverges};
  std::vector<std::string> versions;         // the version label after the n-th deploy
  std::vector<std::string> update_states;    // the update state after the n-th deploy
  Result<ProcessResult> exec = ProcessResult{0, 0, false, false, "ok\n", "", Duration(0)};
  std::string logs = "a log line\n";
  Status teardown;                           // Teardown fails with this, removing nothing
  std::vector<std::string> stuck;            // objects whose name contains one of these stay
  std::function<void(const std::string& call)> on_call;  // called with each call, after recording it

  // ---- what happened
  std::vector<std::string> calls;            // "deploy <ns>", "teardown <ns>", ...
  std::set<std::string> live;                // "stack:<ns>", "secret:<name>", "network:<name>"
  std::vector<std::string> deployed;         // each deploy's compose files, concatenated
  std::vector<std::string> namespaces;       // each Deploy's namespace
  int runtimes = 0;                          // FakeRuntimes made

  // How many calls start with `prefix`.
  int Count(const std::string& prefix) const;
  // Whether anything of namespace `ns` exists.
  bool AnyOf(const std::string& ns) const;
  // RunOptions::make_runtime: a FakeRuntime on this FakeSwarm.
  std::function<std::unique_ptr<Runtime>(Docker*)> Factory();
};

class FakeRuntime : public Runtime {
 public:
  explicit FakeRuntime(FakeSwarm* swarm) : swarm_(swarm), exec_(swarm->target) {}

  Executor* target() const override { return &exec_; }
  Status Preflight(PhaseLog* log, Deadline deadline, const CancelToken& cancel) override;
  std::string ChooseObservations(Deadline deadline) override;
  std::string DaemonIdentity(Deadline deadline) override;
  Result<std::vector<ImageReport>> EnsureImages(const std::vector<std::string>& images, PullPolicy policy,
                                                PhaseLog* log, Deadline deadline, const CancelToken& cancel,
                                                const std::function<void(const std::string&)>& say) override;
  std::vector<ImagePlan> PlanImages(const std::vector<std::string>& images, PullPolicy policy, PhaseLog* log,
                                    Deadline deadline, const CancelToken& cancel) override;
  Result<NetworkState> InspectNetwork(const std::string& name, PhaseLog* log, Deadline deadline,
                                      const CancelToken& cancel) override;
  Status CreateSharedNetwork(const std::string& name, const std::map<std::string, std::string>& labels,
                             PhaseLog* log, Deadline deadline, const CancelToken& cancel) override;
  Result<bool> RemoveSharedNetwork(const std::string& name, PhaseLog* log, Deadline deadline) override;
  Status PrepareApp(const App& app) override;
  Status CreateApp(PhaseLog* log, Deadline deadline, const CancelToken& cancel) override;
  Result<bool> SecretExists(const std::string& name, PhaseLog* log, Deadline deadline,
                            const CancelToken& cancel) override;
  Status CreateSecret(const Secret& secret, PhaseLog* log, Deadline deadline, const CancelToken& cancel) override;
  Status Deploy(const std::string& ns, const std::vector<std::string>& files,
                const std::map<std::string, std::string>& env, PhaseLog* log, Deadline deadline,
                const CancelToken& cancel) override;
  std::unique_ptr<ChangeWatch> Watch(const std::string& ns, Deadline until) override;
  Result<ConvergeSnapshot> Observe(const std::string& ns, const std::vector<std::string>& expected, PhaseLog* log,
                                   Deadline deadline, const CancelToken& cancel) override;
  Result<std::vector<ServiceVersion>> ServiceVersions(const std::vector<std::string>& services,
                                                      const std::string& label, PhaseLog* log, Deadline deadline,
                                                      const CancelToken& cancel) override;
  Result<nlohmann::json> ContainerHealth(const std::string& ns, Deadline deadline) override;
  Result<Located> ContainerOf(const std::string& ns, const std::string& service, Deadline deadline,
                              const CancelToken& cancel) override;
  Result<std::string> AddressOf(const Located& where, Deadline deadline, const CancelToken& cancel) override;
  Result<ProcessResult> Exec(const Located& where, const std::vector<std::string>& argv, Deadline deadline,
                             const CancelToken& cancel) override;
  Result<std::string> Logs(const std::string& ns, const std::string& service, int tail, Deadline deadline,
                           const CancelToken& cancel) override;
  Status Teardown(const std::string& ns, PhaseLog* log, Deadline deadline) override;

 private:
  // Records `call` in the FakeSwarm and (when `log`) the phase's packet.
  void Call(const std::string& call, PhaseLog* log);
  // Index of the latest deploy (of any run) into the per-deploy scripts.
  size_t Current() const;

  FakeSwarm* swarm_;
  mutable FakeExecutor exec_;
};

}  // namespace harness::testing
