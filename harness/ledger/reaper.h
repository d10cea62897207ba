// Reaper: finds the leftovers of dead runs — from the ledger and from labels — and
// removes them with the same verified teardown a run uses.
//
// A namespace is reaped only when its run is provably dead (its lock is free, or its
// owner process is gone); a live run's objects are never touched, and a namespace whose
// owner cannot be judged (another host, no lock, no owner label) is left and reported.
// The shared networks the harness created (label harness.shared-network) are removed once
// no live run of ours holds them (NetworkLock) and nothing uses them.
//
// The Reaper borrows the ledger and the runtime it is given (both must outlive it).
// Thread-safety: one Reap() at a time per Reaper; several processes may reap at once
// (each namespace is reaped under its run lock).
#pragma once

#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "runtime/swarm.h"

namespace harness {

struct ReapOutcome {
  std::string namespace_name;
  std::string run_id;
  std::string source;    // "ledger", "labels" or "ledger+labels"
  std::string action;    // "removed", "would remove", "skipped: live", "skipped: owner unknown",
                         // "nothing left", "failed"
  std::string detail;    // what was (or would be) removed, or the error
  Status status;
};

class Reaper {
 public:
  // `ledger` may be null (then only labels are used).
  Reaper(Ledger* ledger, SwarmRuntime* swarm, std::string state_dir)
      : ledger_(ledger), swarm_(swarm), state_dir_(std::move(state_dir)) {}

  Result<std::vector<ReapOutcome>> Reap(bool dry_run, Deadline deadline);

 private:
  Status ReapSharedNetworks(bool dry_run, Deadline deadline, std::vector<ReapOutcome>* outcomes);
  Ledger* ledger_;
  SwarmRuntime* swarm_;
  std::string state_dir_;
};

}  // namespace harness
