// Promotion of the warm canon: advancing each enrolled recipe's long-lived deploy to a
// newer release, never backward, one writer at a time.
//
//   lock      one writer per recipe across processes (<state>/warm/<recipe>.lock, holding
//             the target); a promotion to an older or equal version than one in progress
//             or canonical does nothing and says so — before any side effect
//   checks    a newer release that passed a cold run (the ledger); major bumps and
//             releases whose notes ask for a manual migration are held unless forced;
//             the warm namespace collides with nothing (policy and Swarm)
//   enrol     the first deploy into the warm namespace; removed again if it fails
//   upgrade   snapshot the deploy's volumes, upgrade in place, converge, verify the
//             version label, run the recipe's tests; when it cannot upgrade in place,
//             a clean re-deploy keeping the data; on failure restore the snapshot and
//             re-deploy the canonical version, which serves again
//
// Every outcome is recorded in the ledger (warm, promotions).
//
// Promote() and RetireWarm() borrow Docker and progress for the call. Thread-safety: any
// thread; concurrent promotions of one recipe serialize on the recipe's lock.
#pragma once

#include <string>
#include <vector>

#include "run/run.h"
#include "runtime/docker.h"
#include "warm/collision.h"

namespace harness {

struct PromoteOptions {
  RunOptions base;            // recipes, artifacts, state, domain suffix, events
  std::string recipe;
  std::string version;        // "" → the newest release
  ReservedPolicy policy;
  bool force = false;         // past holds (major bumps, manual migrations)
  std::string helper_image = "recipe-harness/busybox:1";  // copies volumes for snapshots
};

struct PromoteOutcome {
  // enrolled | promoted | nothing | held | refused | restored | failed
  std::string result = "failed";
  std::string from;           // the canonical version before ("" when not enrolled)
  std::string to;             // the version tried
  std::string message;
  std::vector<std::string> runs;  // run ids of the deploys it made, in order
  int exit_code = 1;
};

PromoteOutcome Promote(const PromoteOptions& opts, Docker* docker, const ProgressFn& progress);

// Registers that a promotion of `recipe` to `version` was asked for, as early as possible:
// an older promotion that has not yet changed anything then gives way to it.
Status RequestPromotion(const std::string& state_dir, const std::string& recipe, const std::string& version);

// Removes a recipe's warm deploy completely (stack, secrets, volumes, snapshots, kept
// secret values) and its ledger record.
Status RetireWarm(const PromoteOptions& opts, Docker* docker, const ProgressFn& progress);

// The release notes of `version` ask for a manual migration: NOTES.md in the release's
// files, or Co-op Cloud's release note `release/<version>`, mentions "manual migration"
// (any case).
bool NeedsManualMigration(const std::string& release_dir, const std::string& version);

}  // namespace harness
