// AbraRuntime: the Runtime of `--runtime abra` — the app is deployed the way Co-op Cloud
// operators deploy it, through abra (AbraApp: app new, secret insert, deploy, remove), and
// everything else (images, networks, observation, reaching containers, the verification
// of the teardown) is done as SwarmRuntime does it, on the same Docker.
//
// Teardown runs `abra app remove` first (it removes volumes and secrets too), then the
// Swarm's verified teardown, which removes whatever abra left; a failed abra removal stays
// an error even when that cleaned up after it.
//
// Ownership: owns the run's ABRA_DIR (a private temporary folder), the local executor abra
// runs on, and the app once PrepareApp made it; `docker` (and `nodes`) belong to the caller
// and outlive it. Thread-safety: one run's thread.
#pragma once

#include <memory>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "runtime/abra.h"
#include "runtime/swarm.h"

namespace harness {

class AbraRuntime : public SwarmRuntime {
 public:
  AbraRuntime(Docker* docker, AbraOptions options) : SwarmRuntime(docker), options_(std::move(options)) {}

  bool can_upgrade() const override { return false; }
  // abra names the stack after the domain ('.' → '_'): the domain is the namespace, so that
  // the stack abra deploys is the namespace the harness watches and tears down.
  std::string DomainFor(const std::string& ns, const std::string&) const override { return ns; }

  // Lays out ABRA_DIR with the staged files (AbraApp::Checkout).
  Status PrepareApp(const App& app) override;
  // `abra app new`, and the app's environment.
  Status CreateApp(PhaseLog* log, Deadline deadline, const CancelToken& cancel) override;
  // `abra app secret insert`, at the version the app's environment gives the secret.
  Status CreateSecret(const Secret& secret, PhaseLog* log, Deadline deadline, const CancelToken& cancel) override;
  // `abra app deploy` of the prepared app (`files` and `env` are what PrepareApp was given).
  Status Deploy(const std::string& ns, const std::vector<std::string>& files,
                const std::map<std::string, std::string>& env, PhaseLog* log, Deadline deadline,
                const CancelToken& cancel) override;
  Status Teardown(const std::string& ns, PhaseLog* log, Deadline deadline) override;

 private:
  AbraOptions options_;
  TempDir dir_{"harness-abra"};
  LocalExecutor local_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<AbraApp> app_;
};

}  // namespace harness
