#include "warm/promote.h"

#include "source/recipe_source.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/cancel.h"
#include "base/exit_code.h"
#include "base/files.h"
#include "base/strings.h"
#include "base/temp_dir.h"
#include "base/wait.h"
#include "ledger/ledger.h"
#include "recipe/naming.h"
#include "recipe/releases.h"
#include "runtime/swarm.h"
#include "warm/plan.h"
#include "warm/warm_profile.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr Duration kStackRemoval{180000};
constexpr Duration kCopy{600000};

// One writer per recipe: an exclusive flock whose file names the version being promoted.
class WarmLock {
 public:
  ~WarmLock() {
    if (fd_ >= 0) close(fd_);
  }
  // Takes the lock for `target`. When another process holds it for `target` or newer,
  // returns false at once with `holder` set; for an older version, waits for it.
  Result<bool> Take(const std::string& state_dir, const std::string& recipe, const std::string& target,
                    std::string* holder, bool always_wait = false) {
    std::error_code ec;
    fs::create_directories(state_dir + "/warm", ec);
    if (ec) return Status::Infra("cannot create " + state_dir + "/warm: " + ec.message());
    std::string path = state_dir + "/warm/" + recipe + ".lock";
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::Infra("cannot open " + path + ": " + std::strerror(errno));
    bool waited = false;
    while (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (!waited) {
        *holder = Holder();
        if (!always_wait && !holder->empty() && CompareVersions(*holder, target) >= 0) return false;
        waited = true;
      }
      if (CancelToken::Signals().cancelled()) return Status::Cancelled("interrupted while waiting for the warm lock");
      WaitFor(Duration(200), CancelToken::Signals());
    }
    std::string content = target + "\n";
    // Only a hint for the next promotion (give way, or wait); the flock is the lock.
    (void)!ftruncate(fd_, 0);
    (void)!pwrite(fd_, content.data(), content.size(), 0);
    return true;
  }

 private:
  std::string Holder() const {
    char buf[128] = {};
    ssize_t n = pread(fd_, buf, sizeof buf - 1, 0);
    std::string s(buf, n > 0 ? static_cast<size_t>(n) : 0);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
  }
  int fd_ = -1;
};

std::string WantedFile(const std::string& state_dir, const std::string& recipe) {
  return state_dir + "/warm/" + recipe + ".wanted";
}

// The newest version asked for (see RequestPromotion), "" when none.
std::string Wanted(const std::string& state_dir, const std::string& recipe) {
  std::ifstream f(WantedFile(state_dir, recipe));
  std::string newest;
  for (std::string v; f >> v;) {
    if (newest.empty() || CompareVersions(v, newest) > 0) newest = v;
  }
  return newest;
}

// An in-place update that Swarm refuses by design: configs (and secrets) cannot change
// under the same name, so the stack must be re-deployed from clean.
bool CannotUpgradeInPlace(const RunOutcome& r) {
  if (r.result != "failed" && r.result != "infra") return false;
  std::string reason = Lower(r.reason);
  return r.failed_phase == "deploy" &&
         (reason.find("only updates to labels are allowed") != std::string::npos ||
          reason.find("read-only") != std::string::npos);
}

class Promotion {
 public:
  Promotion(const PromoteOptions& opts, Docker* docker, const ProgressFn& progress)
      : opts_(opts), docker_(docker), swarm_(docker), progress_(progress) {
    ns_ = WarmNamespace(opts.recipe, opts.policy.namespace_prefix);
  }

  PromoteOutcome Run();
  Status Retire();

 private:
  // The first deploy into the warm namespace; removed again when it fails.
  PromoteOutcome Enrol(const std::string& target);
  // Snapshot, upgrade in place (or a clean re-deploy keeping the data), and on failure
  // restore the canonical version with its data.
  PromoteOutcome Upgrade(const std::string& target);
  void Say(const std::string& s) {
    if (progress_) progress_("[" + opts_.recipe + "] promote: " + s);
  }
  PromoteOutcome& Done(const std::string& result, int code, const std::string& message) {
    out_.result = result;
    out_.exit_code = code;
    out_.message = message;
    Say(result + ": " + message);
    // What the promotion could not record is said, and its exit code is infra's: a ledger
    // without its end, or a request list still asking for it, misleads the next one.
    auto note = [&](const Status& s) {
      if (s.ok()) return;
      Say(s.message());
      out_.message += "; " + s.message();
      out_.exit_code = WorseExitCode(out_.exit_code, 3);
    };
    if (ledger_ && promotion_ > 0) {
      note(ledger_->EndPromotion(promotion_, result, message).Prefixed("the ledger did not record the promotion's end"));
    }
    note(PruneWanted());
    return out_;
  }
  // This request is answered; with the lock held, so are those of older versions.
  Status PruneWanted() {
    if (out_.to.empty()) return Status::Ok();
    std::string path = WantedFile(opts_.base.state_dir, opts_.recipe);
    std::ifstream f(path);
    if (!f) return Status::Ok();  // no requests written (RequestPromotion reports its own failure)
    std::string keep;
    bool own_removed = false;
    for (std::string v; f >> v;) {
      int c = CompareVersions(v, out_.to);
      if (c > 0 || (c < 0 && !locked_)) {
        keep += v + "\n";
      } else if (c == 0 && own_removed && !locked_) {
        keep += v + "\n";  // another requester of the same version is still waiting
      } else if (c == 0) {
        own_removed = true;
      }
    }
    return WriteFileAtomic(path, keep).Prefixed("the answered request for " + out_.to + " stays asked for");
  }
  RunOutcome Deploy(const std::string& version);
  Result<std::vector<std::string>> Volumes();
  Status Snapshot(bool restore);
  void DropSnapshots();
  std::string SecretsFile() const { return opts_.base.state_dir + "/warm/" + opts_.recipe + "/secrets.json"; }

  const PromoteOptions& opts_;
  Docker* docker_;
  SwarmRuntime swarm_;
  ProgressFn progress_;
  std::string ns_;
  std::string domain_;
  std::unique_ptr<Ledger> ledger_;
  int64_t promotion_ = 0;
  PromoteOutcome out_;
  std::vector<std::string> volumes_;
  bool locked_ = false;
};

RunOutcome Promotion::Deploy(const std::string& version) {
  RunOptions run = opts_.base;
  run.recipe = opts_.recipe;
  run.version = version;
  run.profile = WarmProfile(opts_.recipe, WarmSite{ns_, domain_, SecretsFile(), version});
  RunOutcome r = RunRecipe(run, docker_, progress_);
  out_.runs.push_back(r.run_id);
  return r;
}

Result<std::vector<std::string>> Promotion::Volumes() {
  std::vector<std::string> args = {"volume", "ls", "-q", "--filter", "label=com.docker.stack.namespace=" + ns_};
  auto r = docker_->Run(args, nullptr, Deadline::In(Duration(30000)), CancelToken::None());
  if (Status s = Docker::Check(args, r); !s.ok()) return s;
  std::vector<std::string> out;
  std::istringstream in(r->out);
  for (std::string v; in >> v;) out.push_back(v);
  return out;
}

// Copies each volume of the deploy to "<volume>-snapshot" (restore: the other way).
Status Promotion::Snapshot(bool restore) {
  const CancelToken& never = CancelToken::None();
  for (const auto& vol : volumes_) {
    std::string snap = vol + "-snapshot";
    if (!restore) {
      std::vector<std::string> create = {"volume", "create", "--label", "harness.warm=" + opts_.recipe,
                                         "--label", "harness.namespace=" + ns_, snap};
      if (Status s = Docker::Check(create, docker_->Run(create, nullptr, Deadline::In(Duration(30000)), never)); !s.ok()) {
        return s;
      }
    }
    const std::string& from = restore ? snap : vol;
    const std::string& to = restore ? vol : snap;
    std::vector<std::string> copy = {"run", "--rm", "--label", "harness.warm=" + opts_.recipe,
                                     "-v", from + ":/from:ro", "-v", to + ":/to", opts_.helper_image,
                                     "sh", "-c", "rm -rf /to/* /to/.[!.]* 2>/dev/null; cp -a /from/. /to/"};
    if (Status s = Docker::Check(copy, docker_->Run(copy, nullptr, Deadline::In(kCopy), never)); !s.ok()) {
      return s.Prefixed(restore ? "restore of " + vol : "snapshot of " + vol);
    }
  }
  return Status::Ok();
}

void Promotion::DropSnapshots() {
  if (volumes_.empty()) return;
  std::vector<std::string> rm = {"volume", "rm"};
  for (const auto& v : volumes_) rm.push_back(v + "-snapshot");
  // Best effort: the promotion's outcome stands; what is left is said, to be removed by hand.
  if (Status s = Docker::Check(rm, docker_->Run(rm, nullptr, Deadline::In(Duration(60000)), CancelToken::None()));
      !s.ok()) {
    Say("the snapshot volumes were not removed (" + Join(std::vector<std::string>(rm.begin() + 2, rm.end()), ", ") +
        "): " + s.message());
  }
}

PromoteOutcome Promotion::Run() {
  const std::string& recipe = opts_.recipe;
  if (Status s = ValidateRecipeName(recipe); !s.ok()) return Done("refused", 2, s.message());
  RecipeSources sources(opts_.base.recipes_dir, opts_.base.state_dir + "/git");
  auto releases = sources.Releases(recipe, true, CancelToken::Signals());
  if (!releases.ok()) {
    return Done(releases.status().code() == Status::Code::kInfra ? "failed" : "refused",
                releases.status().code() == Status::Code::kInfra ? 3 : 2, releases.status().message());
  }
  if (releases->empty()) {
    return Done("refused", 2, "recipe '" + recipe + "' has no releases (release folders under " + opts_.base.recipes_dir +
                                  "/" + recipe + "/releases/, or tags of its git source): nothing can be promoted");
  }
  std::string target = opts_.version.empty() ? releases->back() : opts_.version;
  out_.to = target;
  auto release = sources.Checkout(recipe, target, "", CancelToken::Signals());
  if (!release.ok()) return Done("refused", 2, release.status().message());
  const std::string* release_dir = &release->files_dir;
  auto ledger = Ledger::Open(opts_.base.state_dir);
  if (!ledger.ok()) return Done("failed", 3, ledger.status().message());
  ledger_ = std::move(*ledger);

  // Superseded before any side effect: a promotion to this version or a newer one is
  // running, or already canonical.
  WarmLock lock;
  std::string holder;
  auto taken = lock.Take(opts_.base.state_dir, recipe, target, &holder);
  if (!taken.ok()) return Done(taken.status().code() == Status::Code::kCancelled ? "refused" : "failed", 3,
                               taken.status().message());
  if (!*taken) {
    return Done("nothing", 0, "a promotion to " + holder + " is in progress; " + target + " is not newer: nothing to do");
  }
  locked_ = true;
  auto canonical = ledger_->Warm(recipe);
  if (!canonical.ok()) return Done("failed", 3, canonical.status().message());
  if (canonical->has_value()) {
    out_.from = (*canonical)->version;
    ns_ = (*canonical)->namespace_name;
    if (CompareVersions(target, out_.from) <= 0) {
      return Done("nothing", 0, "the canonical version is " + out_.from + "; " + target +
                                    " is not newer: nothing to do (the warm canon never goes backward)");
    }
    if (!opts_.force) {
      std::string hold;
      if (MajorVersion(target) > MajorVersion(out_.from)) {
        hold = "major version bump " + out_.from + " → " + target + ": review it, then promote with --force";
      } else if (NeedsManualMigration(*release_dir, target)) {
        hold = "the release notes of " + target + " ask for a manual migration: promote with --force once done";
      }
      if (!hold.empty()) {
        if (Status s = ledger_->SetHold(recipe, hold); !s.ok()) {
          return Done("failed", 3, hold + "; but the ledger did not record the hold: " + s.message());
        }
        auto id = ledger_->BeginPromotion(recipe, out_.from, target);
        if (!id.ok()) return Done("failed", 3, hold + "; but the ledger did not record the promotion: " + id.status().message());
        promotion_ = *id;
        return Done("held", 0, hold);
      }
    }
  }
  auto passed = ledger_->PassedColdRun(recipe, target);
  if (!passed.ok()) return Done("failed", 3, passed.status().message());
  if (!*passed) {
    return Done("refused", 2, target + " has not passed a cold run; run `harness run " + recipe + "@" + target +
                                  "` first");
  }
  // Nothing may collide with the policy or what runs on the Swarm.
  TempDir stage("warm-plan");
  auto plan = PlanWarmDeploy(*release, recipe, opts_.policy, stage.path());
  if (!plan.ok()) return Done("refused", plan.status().code() == Status::Code::kInfra ? 3 : 2, plan.status().message());
  plan->namespace_name = ns_;
  domain_ = plan->domain;
  auto live = ReadInventory(docker_, nullptr, Deadline::In(Duration(60000)));
  if (!live.ok()) return Done("failed", 3, "cannot read what runs on the Swarm: " + live.status().message());
  if (Status s = CollisionStatus(*plan, FindCollisions(*plan, *live, opts_.policy)); !s.ok()) {
    return Done("refused", 2, s.message());
  }
  // The last moment to give way: a newer version was asked for meanwhile.
  if (std::string wanted = Wanted(opts_.base.state_dir, recipe);
      !wanted.empty() && CompareVersions(wanted, target) > 0) {
    return Done("nothing", 0, "a promotion to " + wanted + " was asked for meanwhile; " + target +
                                  " gives way to it: nothing to do");
  }
  auto id = ledger_->BeginPromotion(recipe, out_.from, target);
  if (!id.ok()) return Done("failed", 3, id.status().message());
  promotion_ = *id;

  if (!canonical->has_value()) return Enrol(target);
  return Upgrade(target);
}

// What a passed deploy's serving check says of the warm domain, for the promotion's detail
// (promote --status shows it).
std::string Routing(const RunOutcome& r, const std::string& domain) {
  for (const auto& t : r.tests) {
    if (t.name == kServingCheck) return t.status.ok() ? domain + " serves through the proxy" : t.status.message();
  }
  return "routing of " + domain + " not checked (no proxy on the Swarm, no router rule, or serving = false)";
}

PromoteOutcome Promotion::Enrol(const std::string& target) {
  Say("enrolling " + target + " in " + ns_);
  RunOutcome r = Deploy(target);
  if (r.result == "passed") {
    if (Status s = ledger_->SetWarm({opts_.recipe, ns_, target, "", ""}); !s.ok()) return Done("failed", 3, s.message());
    return Done("enrolled", 0, target + " serves at " + domain_ + " (namespace " + ns_ + "); " + Routing(r, domain_));
  }
  // A failed enrolment leaves nothing: there is no canonical version to fall back to.
  Status removed = swarm_.Teardown(ns_, nullptr, Deadline::In(kStackRemoval));
  std::error_code ec;
  fs::remove(SecretsFile(), ec);
  std::string secrets_left;
  if (ec) secrets_left = "; its kept secret values " + SecretsFile() + " could not be removed: " + ec.message();
  int code = r.exit_code == 0 ? 1 : r.exit_code;
  if (!removed.ok() || ec) code = WorseExitCode(code, 3);
  return Done("failed", code,
              "enrolment of " + target + " failed in " + r.failed_phase + ": " + r.reason +
                  (removed.ok() ? "; its deploy was removed" : "; and its removal failed: " + removed.message()) +
                  secrets_left);
}

PromoteOutcome Promotion::Upgrade(const std::string& target) {
  // Upgrade: snapshot, in place (or a clean re-deploy keeping the data), verify, test.
  auto volumes = Volumes();
  if (!volumes.ok()) return Done("failed", 3, volumes.status().message());
  volumes_ = *volumes;
  if (Status s = Snapshot(false); !s.ok()) {
    DropSnapshots();
    return Done("failed", 3, "could not snapshot the warm deploy (nothing was changed): " + s.message());
  }
  Say("snapshot of " + std::to_string(volumes_.size()) + " volume(s) taken; upgrading " + out_.from + " → " + target);
  RunOutcome r = Deploy(target);
  std::string how = "in place";
  if (r.result != "passed" && CannotUpgradeInPlace(r)) {
    Say("cannot upgrade in place (" + r.reason + "): a clean re-deploy keeping the data");
    Status removed = swarm_.RemoveStackKeepingData(ns_, nullptr, Deadline::In(kStackRemoval));
    if (removed.ok()) {
      r = Deploy(target);
      how = "by a clean re-deploy keeping the data";
    } else {
      r.reason += "; the stack could not be removed for a clean re-deploy: " + removed.message();
    }
  }
  if (r.result == "passed") {
    if (Status s = ledger_->SetWarm({opts_.recipe, ns_, target, "", ""}); !s.ok()) return Done("failed", 3, s.message());
    DropSnapshots();
    return Done("promoted", 0, out_.from + " → " + target + " " + how + "; " + Routing(r, domain_));
  }

  // Restore: the canonical version, with its data, serves again.
  std::string failure = "upgrade to " + target + " failed in " + r.failed_phase + ": " + r.reason;
  Say(failure + "; restoring " + out_.from);
  Status restored = swarm_.RemoveStackKeepingData(ns_, nullptr, Deadline::In(kStackRemoval));
  if (restored.ok()) restored = Snapshot(true);
  if (restored.ok()) {
    RunOutcome back = Deploy(out_.from);
    if (back.result != "passed") {
      restored = Status::Failed("re-deploying " + out_.from + " failed in " + back.failed_phase + ": " + back.reason);
    }
  }
  if (!restored.ok()) {
    return Done("failed", 3, failure + "; and restoring " + out_.from + " failed: " + restored.message() +
                                 " (the snapshots are kept: " + std::to_string(volumes_.size()) + " volume(s) *-snapshot)");
  }
  DropSnapshots();
  return Done("restored", 1, failure + "; " + out_.from + " was restored with its data and serves again");
}

Status Promotion::Retire() {
  if (Status s = ValidateRecipeName(opts_.recipe); !s.ok()) return s;
  auto ledger = Ledger::Open(opts_.base.state_dir);
  if (!ledger.ok()) return ledger.status();
  WarmLock lock;
  std::string holder;
  // Retiring waits for any promotion of the recipe to end.
  auto taken = lock.Take(opts_.base.state_dir, opts_.recipe, "retire", &holder, /*always_wait=*/true);
  if (!taken.ok()) return taken.status();
  auto canonical = (*ledger)->Warm(opts_.recipe);
  if (!canonical.ok()) return canonical.status();
  if (canonical->has_value()) ns_ = (*canonical)->namespace_name;
  Say("retiring " + ns_);
  if (Status s = swarm_.Teardown(ns_, nullptr, Deadline::In(kStackRemoval)); !s.ok()) return s;
  // The kept secret values go before the ledger forgets the recipe, so that a retire
  // that could not remove them can be run again.
  const std::string kept = opts_.base.state_dir + "/warm/" + opts_.recipe;
  std::error_code ec;
  fs::remove_all(kept, ec);
  if (ec) return Status::Infra("retire: the deploy is gone, but " + kept + " (its kept secret values) could not be removed: " + ec.message());
  if (Status s = (*ledger)->RemoveWarm(opts_.recipe); !s.ok()) return s;
  Say(canonical->has_value() ? "retired: " + ns_ + " removed completely"
                             : "was not enrolled; nothing of " + ns_ + " is left");
  return Status::Ok();
}

}  // namespace

Status RequestPromotion(const std::string& state_dir, const std::string& recipe, const std::string& version) {
  if (Status s = ValidateRecipeName(recipe); !s.ok()) return s;
  std::error_code ec;
  fs::create_directories(state_dir + "/warm", ec);
  if (ec) return Status::Infra("cannot create " + state_dir + "/warm: " + ec.message());
  // O_APPEND writes of one short line are atomic: several requesters may append at once.
  int fd = open(WantedFile(state_dir, recipe).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Infra("cannot write " + WantedFile(state_dir, recipe));
  std::string line = version + "\n";
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  return ok ? Status::Ok() : Status::Infra("cannot write " + WantedFile(state_dir, recipe));
}

bool NeedsManualMigration(const std::string& release_dir, const std::string& version) {
  for (const std::string& notes : {release_dir + "/NOTES.md", release_dir + "/release/" + version}) {
    auto text = ReadFile(notes);
    if (text.ok() && Lower(*text).find("manual migration") != std::string::npos) return true;
  }
  return false;
}

PromoteOutcome Promote(const PromoteOptions& opts, Docker* docker, const ProgressFn& progress) {
  return Promotion(opts, docker, progress).Run();
}

Status RetireWarm(const PromoteOptions& opts, Docker* docker, const ProgressFn& progress) {
  return Promotion(opts, docker, progress).Retire();
}

}  // namespace harness
