// A deploy profile: how a run's deploy lives, apart from the phases every run shares.
//
// The phases (prepare, deploy, converge, test, teardown) are the same for every run; the
// profile decides the rest:
//   where      the namespace (stack name) and the domain the run deploys into
//   labels     what it adds to the labels every object of the run carries
//   secrets    the values kept from an earlier deploy, and keeping the run's own
//   lifetime   whether the deploy outlives the run (no teardown, no resource of the run
//              for reapers, existing secrets reused, services on shared networks under
//              names no other stack uses)
//   version    the version every service's version label must reach at converge
//
// The cold profile (ColdProfile(), the default) deploys into a fresh namespace per run,
// generates every secret, and tears everything down. The warm canon's profile lives in
// warm/ (warm/warm_profile.h).
//
// Ownership: RunOptions holds a shared pointer; the run reads it on its own thread. A
// profile's read-only methods may be called from any thread; KeepSecrets from one at a time.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "base/status.h"

namespace harness {

class DeployProfile {
 public:
  virtual ~DeployProfile() = default;

  // "cold" or "warm": for the prepare packet and messages.
  virtual std::string kind() const = 0;
  // The namespace a run of `recipe` deploys into.
  virtual std::string Namespace(const std::string& recipe) const = 0;
  // The domain of namespace `ns`, given the operator's domain suffix.
  virtual std::string Domain(const std::string& ns, const std::string& suffix) const = 0;
  // Labels the profile adds to every object of the run (beside harness.run and friends).
  virtual std::map<std::string, std::string> Labels(const std::string& recipe) const = 0;
  // True: the deploy outlives the run. It is not torn down and is no dead run's leftover;
  // secrets that exist already are reused, not created again; services on shared networks
  // are deployed under names no other stack uses (StageOptions::unique_shared_names).
  virtual bool stays() const = 0;
  // The version every service's version label must become at converge; "" none.
  virtual std::string expect_version() const = 0;
  // Secret values kept from an earlier deploy (name → value); empty when none are kept.
  // Infra when the kept values cannot be read.
  virtual Result<std::map<std::string, std::string>> KeptSecrets() const = 0;
  // Keeps `values` (every secret of the run) for the next deploy; nothing for a profile
  // that keeps none. Infra when they cannot be written.
  virtual Status KeepSecrets(const std::map<std::string, std::string>& values) const = 0;
};

// The cold run's profile: a fresh namespace (NewNamespace), "<namespace>.<suffix>", no
// labels of its own, torn down, nothing kept.
std::shared_ptr<const DeployProfile> ColdProfile();

}  // namespace harness
