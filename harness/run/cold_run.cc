#include "run/cold_run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "base/cancel.h"
#include "base/exit_code.h"
#include "base/time.h"
#include "recipe/deploy_env.h"
#include "runtime/images.h"
#include "recipe/naming.h"
#include "recipe/releases.h"
#include "report/summary.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr Duration kCheckTimeout{30000};

}  // namespace

ColdRun::ColdRun(RunOptions opts, Docker* docker, ProgressFn progress)
    : opts_(std::move(opts)),
      profile_(opts_.profile ? opts_.profile : ColdProfile()),
      progress_(std::move(progress)),
      cancel_(opts_.cancel != nullptr ? *opts_.cancel : CancelToken::Signals()),
      started_(Clock::now()),
      log_(&redactor_, progress_),
      runtime_(opts_.make_runtime ? opts_.make_runtime(docker) : NewRuntime(opts_, docker)) {
  out_.recipe = opts_.recipe;
}

RunOutcome ColdRun::Execute() {
  if (!Start() || !Prepare()) return Finish();
  if (opts_.check_only) {
    // `harness check`: everything prepare decided, and nothing created.
    out_.result = "passed";
    out_.exit_code = 0;
    return Finish();
  }
  guard_ = std::make_unique<TeardownGuard>([this] { return TeardownNow(); });
  Status status = Deploy();
  if (status.ok()) status = Converge();
  if (status.ok() && !opts_.upgrade_from.empty()) status = Upgrade();
  if (status.ok()) status = Test();
  JudgeInfrastructure();
  MatchTransientClass();
  out_.teardown = guard_->Run();
  if (!out_.teardown.ok()) {
    if (out_.failed_phase.empty()) {
      Fail("teardown", out_.teardown);
    } else {
      out_.reason += " (and teardown failed: " + out_.teardown.message() + ")";
    }
  }
  Conclude();
  return Finish();
}

// ---- helpers

void ColdRun::Say(const std::string& text) { log_.Line("[" + out_.recipe + "] " + text, true); }

int ColdRun::ExitCode(const Status& s) const { return ExitCodeFor(s, cancel_.signal()); }

Status ColdRun::Interrupted() const {
  return Status::Cancelled("interrupted by " +
                           std::string(cancel_.signal() == SIGTERM ? "SIGTERM" : "SIGINT"));
}

void ColdRun::NoteLedger(const Status& s) {
  if (!s.ok() && ledger_status_.ok()) ledger_status_ = s;
}

void ColdRun::NoteArtifacts(const Status& s) {
  if (s.ok()) return;
  Say("artifacts: " + s.message());
  if (artifacts_status_.ok()) artifacts_status_ = s;
}

void ColdRun::Emit(Event e) {
  if (opts_.events == nullptr) return;
  e.run_id = out_.run_id;
  e.recipe = out_.recipe;
  opts_.events->OnEvent(e);
}

void ColdRun::PhaseStarted(const PhaseLog& p, Duration budget) {
  Event e;
  e.kind = EventKind::kPhaseStarted;
  e.name = p.phase();
  e.budget = budget;
  Emit(e);
}

void ColdRun::RecordPhase(PhaseLog& p, const Status& s) {
  p.Finish(s);
  {
    Event e;
    e.kind = EventKind::kPhaseEnded;
    e.name = p.phase();
    e.status = s.ok() ? "ok" : CodeName(s.code());
    e.elapsed = p.elapsed();
    e.text = redactor_.Apply(s.message());
    Emit(e);
  }
  if (!out_.artifacts.empty()) NoteArtifacts(p.Write(out_.artifacts).Prefixed("proof packet of " + p.phase()));
  out_.phases.push_back({p.phase(), s.WithMessage(redactor_.Apply(s.message())), p.elapsed()});
  if (ledger_) {
    auto j = p.ToJson();
    NoteLedger(ledger_->RecordPhase({out_.run_id, p.number(), p.phase(), j["status"].get<std::string>(),
                                     j["started_at"].get<std::string>(), p.elapsed().count(),
                                     j.value("error", "")}));
  }
  Say(p.phase() + (s.ok() ? " ok" : " " + std::string(CodeName(s.code()))) + " (" +
      FormatDuration(p.elapsed()) + ")" + (s.ok() ? "" : ": " + s.message()));
}

// ---- start: everything the run needs before its first phase

bool ColdRun::Start() {
  // Nothing is deployed yet: whatever stops the run here is a refusal (exit 2), unless the
  // infrastructure failed (3) or a signal arrived.
  auto stop = [&](const Status& s) {
    out_.reason = s.message();
    out_.failed_phase = "prepare";
    bool infra = s.code() == Status::Code::kInfra, cancelled = s.code() == Status::Code::kCancelled;
    out_.result = infra ? "infra" : cancelled ? "interrupted" : "error";
    out_.exit_code = infra || cancelled ? ExitCode(s) : 2;
    return false;
  };
  if (Status s = ValidateRecipeName(opts_.recipe); !s.ok()) return stop(s);
  RecipeSources sources(opts_.recipes_dir, (opts_.state_dir.empty() ? DefaultStateDir() : opts_.state_dir) + "/git");
  auto checkout = sources.Checkout(opts_.recipe, opts_.version, opts_.commit, cancel_);
  if (!checkout.ok()) return stop(checkout.status());
  checkout_ = std::move(*checkout);
  out_.version = checkout_.version;
  if (!opts_.upgrade_from.empty()) {
    if (profile_->stays() || !runtime_->can_upgrade()) {
      return stop(Status::InvalidArgument("an upgrade run deploys with the swarm runtime into a namespace of its own"));
    }
    auto from = sources.Checkout(opts_.recipe, opts_.upgrade_from, "", cancel_);
    if (!from.ok()) return stop(from.status().Prefixed("the release to upgrade from"));
    from_ = std::move(*from);
    out_.upgraded_from = from_.version.empty() ? opts_.upgrade_from : from_.version;
  }
  recipe_dir_ = checkout_.files_dir;
  auto script = RecipeSources::ScriptText(checkout_);
  if (!script.ok()) return stop(script.status());
  source_ = std::move(*script);

  out_.namespace_name = profile_->Namespace(opts_.recipe);
  out_.run_id = NewRunId(out_.namespace_name, !profile_->stays());
  if (opts_.artifacts_dir.empty()) return stop(Status::Infra("no artifact folder (a temporary one could not be created)"));
  out_.artifacts = opts_.artifacts_dir + "/" + out_.run_id;
  {
    Event e;
    e.kind = EventKind::kRunStarted;
    e.text = out_.namespace_name;
    e.attempt = opts_.retry_of ? 2 : 1;
    Emit(e);
  }
  std::error_code ec;
  fs::create_directories(out_.artifacts, ec);
  if (ec) {
    std::string why = "cannot create the artifact folder " + out_.artifacts + ": " + ec.message();
    out_.artifacts.clear();
    return stop(Status::Infra(why));
  }
  if (Status s = log_.Open(out_.artifacts + "/run.log"); !s.ok()) return stop(s);

  // A check creates nothing and records no run.
  if (opts_.check_only) return true;
  // The Swarm lock (shared, or exclusive for an isolated run), the run's own lock (its
  // liveness for reapers) and its ledger entry come before anything is created.
  auto swarm_lock = SwarmLock::Take(
      runtime_->target()->Describe(), opts_.isolated ? SwarmLock::Mode::kExclusive : SwarmLock::Mode::kShared,
      opts_.wait_for_isolation, cancel_, [&] {
        Say(opts_.isolated ? "waiting until no other harness run is active (isolated run)"
                           : "waiting for an isolated harness run to finish");
      });
  if (!swarm_lock.ok()) {
    Status s = swarm_lock.status();
    return stop(s.code() == Status::Code::kCancelled ? s : Status::Infra(s.message()));
  }
  swarm_lock_.emplace(std::move(*swarm_lock));
  auto run_lock = RunLock::Acquire(opts_.state_dir, out_.namespace_name);
  if (!run_lock.ok()) return stop(Status::Infra(run_lock.status().message()));
  run_lock_.emplace(std::move(*run_lock));
  auto ledger = Ledger::Open(opts_.state_dir);
  if (!ledger.ok()) return stop(Status::Infra(ledger.status().message()));
  ledger_ = std::move(*ledger);
  RunRecord record;
  record.id = out_.run_id;
  record.recipe = opts_.recipe;
  record.namespace_name = out_.namespace_name;
  record.pid = static_cast<int64_t>(getpid());
  record.sweep = opts_.sweep_id;
  record.artifacts = out_.artifacts;
  record.target = runtime_->target()->Describe();
  if (Status s = ledger_->BeginRun(record); !s.ok()) return stop(Status::Infra(s.message()));
  return true;
}

Status ColdRun::ProvideNetworks(PhaseLog& deploy) {
  for (const auto& name : networks_to_create_) {
    if (Status s = ledger_->PlanResource(out_.run_id, "shared-network", name); !s.ok()) return s;  // write-ahead
    if (Status s = runtime_->CreateSharedNetwork(name, labels_, &deploy, deploy_deadline_, cancel_); !s.ok()) return s;
    Say("created the external network " + name + " (attachable overlay) for the run");
  }
  return Status::Ok();
}

Status ColdRun::ReleaseNetworks(PhaseLog& teardown) {
  nlohmann::json released = nlohmann::json::array();
  Status status;
  for (auto& [name, lock] : network_locks_) {
    // Only when no other run of ours holds it; Docker refuses while anything uses it.
    if (!lock.TryExclusive()) {
      released.push_back({{"name", name}, {"action", "kept: another run of ours uses it"}});
      continue;
    }
    auto removed = runtime_->RemoveSharedNetwork(name, &teardown, Deadline::In(kCheckTimeout));
    if (!removed.ok()) {
      if (status.ok()) status = removed.status().Prefixed("removing the shared network " + name);
      continue;
    }
    released.push_back({{"name", name}, {"action", *removed ? "removed or absent" : "kept: not ours or still in use"}});
  }
  if (!released.empty()) teardown.Observe("shared_networks", released);
  return status;
}

// ---- deploy

Status ColdRun::Deploy() {
  PhaseLog deploy(phase_number_++, "deploy", &redactor_);
  Say("deploy started");
  deploy_deadline_ = Deadline::In(spec_->deploy_timeout);
  PhaseStarted(deploy, spec_->deploy_timeout);
  // A deploy that stays is no dead run's leftover: not armed, not in the resources.
  if (!profile_->stays()) guard_->Arm();
  out_.deployed = true;
  Status status = ProvideNetworks(deploy);
  if (status.ok()) status = runtime_->CreateApp(&deploy, deploy_deadline_, cancel_);
  for (const auto& sec : spec_->secrets) {
    if (!status.ok()) break;
    std::string name = staged_->objects.secrets.count(sec.name)
                           ? staged_->objects.secrets.at(sec.name)
                           : out_.namespace_name + "_" + sec.name + "_v1";
    if (profile_->stays()) {
      auto exists = runtime_->SecretExists(name, &deploy, deploy_deadline_, cancel_);
      if (!exists.ok()) status = exists.status();
      if (!status.ok()) break;
      if (*exists) continue;
    } else {
      status = ledger_->PlanResource(out_.run_id, "secret", name);  // write-ahead
    }
    if (status.ok()) {
      status = runtime_->CreateSecret({sec.name, name, secret_values_[sec.name], labels_}, &deploy, deploy_deadline_,
                                      cancel_);
    }
    if (!status.ok()) break;
  }
  if (status.ok() && !profile_->stays()) status = ledger_->PlanResource(out_.run_id, "stack", out_.namespace_name);
  if (status.ok()) {
    status = runtime_->Deploy(out_.namespace_name, staged_from_ ? staged_from_->files : staged_->files,
                                staged_from_ ? from_env_ : env_, &deploy, deploy_deadline_, cancel_);
  }
  if (status.ok() && cancel_.cancelled()) status = Interrupted();
  if (status.code() == Status::Code::kTimeout) {
    status = Status::Timeout("deploy did not finish within the deploy budget of " +
                             FormatDuration(spec_->deploy_timeout));
  }
  if (!status.ok()) Fail("deploy", status);
  RecordPhase(deploy, status);
  return status;
}

// ---- converge: Swarm settles, then the recipe's readiness probe passes

Status ColdRun::WaitSettled(PhaseLog& phase, bool own_version) {
  Status status = WaitForSwarm(phase);
  if (status.ok() && own_version && !expect_version_.empty()) status = WaitForVersion(phase);
  if (status.ok() && spec_->ready.valid()) status = WaitForReadiness(phase);
  return status;
}

Status ColdRun::EndDeployPhase(PhaseLog& phase, Status status) {
  if (!status.ok()) {
    Fail(phase.phase(), status);
    if (status.code() != Status::Code::kCancelled) CollectEvidence(phase);
  }
  RecordPhase(phase, status);
  return status;
}

Status ColdRun::Converge() {
  PhaseLog converge(phase_number_++, "converge", &redactor_);
  PhaseStarted(converge, deploy_deadline_.remaining());
  Say("converge started (budget " + FormatDuration(deploy_deadline_.remaining()) + ")");
  // An upgrade run's first deploy is the release it upgrades from: its version is not the
  // run's, and the upgrade phase checks the label.
  return EndDeployPhase(converge, WaitSettled(converge, opts_.upgrade_from.empty()));
}

// ---- upgrade: the run's own version over the release, in place

Status ColdRun::Upgrade() {
  PhaseLog upgrade(phase_number_++, "upgrade", &redactor_);
  deploy_deadline_ = Deadline::In(spec_->deploy_timeout);
  PhaseStarted(upgrade, spec_->deploy_timeout);
  Say("upgrade from " + out_.upgraded_from + " to " + out_.version + " started");
  upgrade.Observe("upgrade", {{"from", out_.upgraded_from}, {"to", out_.version}});
  Status status = runtime_->Deploy(out_.namespace_name, staged_->files, env_, &upgrade, deploy_deadline_, cancel_);
  if (status.ok() && cancel_.cancelled()) status = Interrupted();
  if (status.ok()) status = WaitSettled(upgrade, true);
  if (status.code() == Status::Code::kTimeout) {
    status = Status::Timeout("the upgrade did not converge within the deploy budget of " +
                             FormatDuration(spec_->deploy_timeout) + ": " + status.message());
  }
  return EndDeployPhase(upgrade, status);
}

Status ColdRun::TeardownNow() {
  SetTeardownInProgress(true);
  PhaseLog p(99, "teardown", &redactor_);
  PhaseStarted(p, spec_->teardown_timeout);
  Say("teardown of " + out_.namespace_name);
  Deadline teardown_deadline = Deadline::In(spec_->teardown_timeout);
  Status s = runtime_->Teardown(out_.namespace_name, &p, teardown_deadline);
  if (s.ok()) s = ReleaseNetworks(p);
  if (s.ok()) s = ledger_->MarkRunResourcesRemoved(out_.run_id);
  RecordPhase(p, s);
  SetTeardownInProgress(false);
  return s;
}

}  // namespace harness
