#include "ledger/reaper.h"

#include <map>

#include "ledger/liveness.h"

namespace harness {

Result<std::vector<ReapOutcome>> Reaper::Reap(bool dry_run, Deadline deadline) {
  struct Candidate {
    std::string run_id;
    std::string owner;
    bool in_ledger = false;
    bool labelled = false;
    bool ended = false;
  };
  std::map<std::string, Candidate> targets;
  if (ledger_ != nullptr) {
    // Only this target's runs: another target's leftovers are not visible from here.
    auto runs = ledger_->RunsWithOpenResources(swarm_->docker()->executor()->Describe());
    if (!runs.ok()) return runs.status();
    for (const auto& r : *runs) {
      Candidate& t = targets[r.namespace_name];
      t.run_id = r.id;
      t.in_ledger = true;
      t.ended = !r.ended_at.empty();
    }
  }
  auto labelled = swarm_->LabelledNamespaces(deadline);
  if (!labelled.ok()) return labelled.status();
  for (const auto& l : *labelled) {
    Candidate& t = targets[l.namespace_name];
    t.labelled = true;
    if (t.run_id.empty()) t.run_id = l.run_id;
    t.owner = l.owner;
  }

  std::vector<ReapOutcome> outcomes;
  for (auto& [ns, t] : targets) {
    ReapOutcome o;
    o.namespace_name = ns;
    o.run_id = t.run_id;
    o.source = t.in_ledger && t.labelled ? "ledger+labels" : t.in_ledger ? "ledger" : "labels";
    Liveness live = LockLiveness(state_dir_, ns);
    if (live == Liveness::kUnknown && !t.owner.empty()) live = OwnerLiveness(t.owner);
    if (live == Liveness::kUnknown && t.ended) live = Liveness::kDead;  // it ended, teardown failed
    if (live == Liveness::kLive) {
      o.action = "skipped: live";
      outcomes.push_back(o);
      continue;
    }
    if (live == Liveness::kUnknown) {
      o.action = "skipped: owner unknown";
      o.detail = t.owner.empty() ? "no lock file and no owner label" : "owner " + t.owner;
      outcomes.push_back(o);
      continue;
    }
    auto left = swarm_->FindLeftovers(ns, nullptr, deadline);
    if (!left.ok()) return left.status();
    o.detail = left->ToString();
    if (left->empty()) {
      o.action = "nothing left";
    } else if (dry_run) {
      o.action = "would remove";
    } else {
      o.status = swarm_->Teardown(ns, nullptr, deadline);
      o.action = o.status.ok() ? "removed" : "failed";
      if (!o.status.ok()) o.detail = o.status.message();
    }
    if (!dry_run && o.status.ok()) {
      if (ledger_ != nullptr && !t.run_id.empty()) {
        if (Status s = ledger_->MarkRunResourcesRemoved(t.run_id); !s.ok()) o.status = s;
      }
      RemoveDeadLock(state_dir_, ns);
    }
    outcomes.push_back(o);
  }
  if (Status s = ReapSharedNetworks(dry_run, deadline, &outcomes); !s.ok()) return s;
  return outcomes;
}

Status Reaper::ReapSharedNetworks(bool dry_run, Deadline deadline, std::vector<ReapOutcome>* outcomes) {
  // The external networks the harness created for its runs: removed once no live run of
  // ours holds them and Docker says nothing uses them (a warm deploy may).
  auto shared = swarm_->SharedNetworks(deadline);
  if (!shared.ok()) return shared.status();
  const std::string target = swarm_->docker()->executor()->Describe();
  for (const auto& name : *shared) {
    ReapOutcome o;
    o.namespace_name = "network " + name;
    o.source = "labels";
    auto lock = NetworkLock::Exclusive(target, name);
    if (!lock.ok()) {
      o.action = "skipped: live";
      o.detail = lock.status().message();
    } else if (dry_run) {
      o.action = "would remove";
      o.detail = "shared network " + name + " (if nothing uses it)";
    } else {
      auto removed = swarm_->RemoveSharedNetwork(name, nullptr, deadline);
      if (!removed.ok()) {
        o.status = removed.status();
        o.action = "failed";
        o.detail = removed.status().message();
      } else {
        o.action = *removed ? "removed" : "skipped: in use";
        o.detail = "shared network " + name;
      }
    }
    outcomes->push_back(o);
  }
  return Status::Ok();
}

}  // namespace harness
