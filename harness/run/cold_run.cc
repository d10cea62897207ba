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

#include "base/time.h"
#include "base/cancel.h"
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

Status ColdRun::Interrupted() const {
  return Status::Cancelled("interrupted by " +
                           std::string(cancel_.signal() == SIGTERM ? "SIGTERM" : "SIGINT"));
}

void ColdRun::NoteLedger(const Status& s) {
  if (!s.ok() && ledger_status_.ok()) ledger_status_ = s;
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
  p.Write(out_.artifacts);
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
  auto stop = [&](const std::string& reason, const char* result, int code) {
    out_.reason = reason;
    out_.failed_phase = "prepare";
    out_.result = result;
    out_.exit_code = code;
    return false;
  };
  if (Status s = ValidateRecipeName(opts_.recipe); !s.ok()) return stop(s.message(), "error", 2);
  RecipeSources sources(opts_.recipes_dir, (opts_.state_dir.empty() ? DefaultStateDir() : opts_.state_dir) + "/git");
  auto checkout = sources.Checkout(opts_.recipe, opts_.version, opts_.commit, cancel_);
  if (!checkout.ok()) {
    Status s = checkout.status();
    bool infra = s.code() == Status::Code::kInfra;
    return stop(s.message(), infra ? "infra" : s.code() == Status::Code::kCancelled ? "interrupted" : "error",
                infra ? 3 : s.code() == Status::Code::kCancelled ? ExitCodeForSignal(cancel_.signal()) : 2);
  }
  checkout_ = std::move(*checkout);
  out_.version = checkout_.version;
  if (!opts_.upgrade_from.empty()) {
    if (opts_.warm || !runtime_->can_upgrade()) {
      return stop("an upgrade run deploys with the swarm runtime into a cold namespace", "error", 2);
    }
    auto from = sources.Checkout(opts_.recipe, opts_.upgrade_from, "", cancel_);
    if (!from.ok()) {
      return stop("the release to upgrade from: " + from.status().message(),
                  from.status().code() == Status::Code::kInfra ? "infra" : "error",
                  from.status().code() == Status::Code::kInfra ? 3 : 2);
    }
    from_ = std::move(*from);
    out_.upgraded_from = from_.version.empty() ? opts_.upgrade_from : from_.version;
  }
  recipe_dir_ = checkout_.files_dir;
  auto script = RecipeSources::ScriptText(checkout_);
  if (!script.ok()) return stop(script.status().message(), "error", 2);
  source_ = std::move(*script);

  out_.namespace_name = opts_.warm ? opts_.warm->namespace_name : NewNamespace(opts_.recipe);
  out_.run_id = UtcStamp() + "-" + out_.namespace_name;
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
    return stop(why, "infra", 3);
  }
  log_.Open(out_.artifacts + "/run.log");

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
    if (swarm_lock.status().code() == Status::Code::kCancelled) {
      return stop(swarm_lock.status().message(), "interrupted", ExitCodeForSignal(cancel_.signal()));
    }
    return stop(swarm_lock.status().message(), "infra", 3);
  }
  swarm_lock_.emplace(std::move(*swarm_lock));
  auto run_lock = RunLock::Acquire(opts_.state_dir, out_.namespace_name);
  if (!run_lock.ok()) return stop(run_lock.status().message(), "infra", 3);
  run_lock_.emplace(std::move(*run_lock));
  auto ledger = Ledger::Open(opts_.state_dir);
  if (!ledger.ok()) return stop(ledger.status().message(), "infra", 3);
  ledger_ = std::move(*ledger);
  RunRecord record;
  record.id = out_.run_id;
  record.recipe = opts_.recipe;
  record.namespace_name = out_.namespace_name;
  record.pid = static_cast<int64_t>(getpid());
  record.sweep = opts_.sweep_id;
  record.artifacts = out_.artifacts;
  record.target = runtime_->target()->Describe();
  if (Status s = ledger_->BeginRun(record); !s.ok()) return stop(s.message(), "infra", 3);
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
  // A warm deploy stays, and is no dead run's leftover: not armed, not in the resources.
  if (!opts_.warm) guard_->Arm();
  out_.deployed = !opts_.warm;
  Status status = ProvideNetworks(deploy);
  if (status.ok()) status = runtime_->CreateApp(&deploy, deploy_deadline_, cancel_);
  for (const auto& sec : spec_->secrets) {
    if (!status.ok()) break;
    std::string name = staged_->objects.secrets.count(sec.name)
                           ? staged_->objects.secrets.at(sec.name)
                           : out_.namespace_name + "_" + sec.name + "_v1";
    if (opts_.warm) {
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
  if (status.ok() && !opts_.warm) status = ledger_->PlanResource(out_.run_id, "stack", out_.namespace_name);
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

Status ColdRun::Converge() {
  PhaseLog converge(phase_number_++, "converge", &redactor_);
  PhaseStarted(converge, deploy_deadline_.remaining());
  Say("converge started (budget " + FormatDuration(deploy_deadline_.remaining()) + ")");
  Status status = WaitForSwarm(converge);
  if (status.ok() && opts_.warm && !expect_version_.empty()) status = WaitForVersion(converge);
  if (status.ok() && spec_->ready.valid()) status = WaitForReadiness(converge);
  if (!status.ok()) {
    Fail("converge", status);
    if (status.code() != Status::Code::kCancelled) CollectEvidence(converge);
  }
  RecordPhase(converge, status);
  return status;
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
  if (status.ok()) status = WaitForSwarm(upgrade);
  if (status.ok() && !expect_version_.empty()) status = WaitForVersion(upgrade);
  if (status.ok() && spec_->ready.valid()) status = WaitForReadiness(upgrade);
  if (status.code() == Status::Code::kTimeout) {
    status = Status::Timeout("the upgrade did not converge within the deploy budget of " +
                             FormatDuration(spec_->deploy_timeout) + ": " + status.message());
  }
  if (!status.ok()) {
    Fail("upgrade", status);
    if (status.code() != Status::Code::kCancelled) CollectEvidence(upgrade);
  }
  RecordPhase(upgrade, status);
  return status;
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
