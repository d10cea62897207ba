// harness promote: the warm canon — advance a recipe's long-lived deploy to a newer release
// that passed a cold run (--check plans it, --status lists the canon, --retire removes it).
#include <algorithm>
#include <iostream>

#include "base/exit_code.h"
#include "base/json_text.h"
#include "base/temp_dir.h"
#include "cli/command.h"
#include "runtime/compose.h"
#include "source/recipe_source.h"
#include "warm/collision.h"
#include "warm/plan.h"
#include "warm/promote.h"

namespace harness {
namespace {

// A recipe source's failure: infra stays infra, anything else is the user's (exit 2).
Status SourceStatus(const Status& s) {
  return s.code() == Status::Code::kInfra ? s : Status::InvalidArgument(s.message());
}

// promote --status: each enrolled recipe, its canonical version, the last advance, any hold,
// and its last promotion.
Status PrintWarmStatus(const GlobalOptions& g) {
  auto ledger = OpenLedger(g);
  if (!ledger.ok()) return ledger.status();
  auto warm = (*ledger)->WarmRecords();
  if (!warm.ok()) return Status::Infra(warm.status().message());
  nlohmann::json all = nlohmann::json::array();
  for (const auto& w : *warm) {
    nlohmann::json j = {{"recipe", w.recipe}, {"namespace", w.namespace_name}, {"version", w.version},
                        {"advanced_at", w.advanced_at}, {"hold", w.hold}};
    if (auto last = (*ledger)->Promotions(w.recipe, 1); last.ok() && !last->empty()) {
      const auto& p = last->front();
      j["last_promotion"] = {{"from", p.from_version}, {"to", p.to_version}, {"started_at", p.started_at},
                             {"result", p.result.empty() ? "running" : p.result}, {"detail", p.detail}};
    }
    all.push_back(j);
  }
  if (g.json) {
    std::cout << JsonText(nlohmann::json{{"schema", "recipe-harness/warm-status/v1"}, {"recipes", all}}, 2) << "\n";
    return Status::Ok();
  }
  if (all.empty()) std::cout << "no recipe is enrolled in the warm canon\n";
  for (const auto& j : all) {
    std::cout << j["recipe"].get<std::string>() << "  " << j["version"].get<std::string>() << "  since "
              << j["advanced_at"].get<std::string>().substr(0, 16) << "  " << j["namespace"].get<std::string>();
    if (!j["hold"].get<std::string>().empty()) std::cout << "  HOLD: " << j["hold"].get<std::string>();
    if (j.contains("last_promotion")) {
      const auto& p = j["last_promotion"];
      std::cout << "\n    last: " << (p["from"].get<std::string>().empty() ? "enrol" : p["from"].get<std::string>())
                << " → " << p["to"].get<std::string>() << ": " << p["result"].get<std::string>();
      if (!p["detail"].get<std::string>().empty()) std::cout << " (" << p["detail"].get<std::string>() << ")";
    }
    std::cout << "\n";
  }
  return Status::Ok();
}

void PrintWarmPlan(const WarmPlan& plan, const std::vector<Collision>& collisions, bool json) {
  if (json) {
    nlohmann::json services = nlohmann::json::object();
    for (const auto& s : plan.objects.services) services[s] = SwarmServiceName(plan.namespace_name, plan.objects, s);
    nlohmann::json shared = nlohmann::json::object();
    for (const auto& fp : plan.objects.footprints) {
      for (const auto& [net, names] : fp.external_aliases) {
        for (const auto& n : names) shared[net].push_back(n);
      }
    }
    nlohmann::json found = nlohmann::json::array();
    for (const auto& c : collisions) found.push_back({{"kind", c.kind}, {"what", c.what}, {"with", c.with}});
    std::cout << JsonText(nlohmann::json{{"schema", "recipe-harness/warm-check/v1"}, {"recipe", plan.recipe},
                                         {"version", plan.version}, {"namespace", plan.namespace_name},
                                         {"domain", plan.domain}, {"services", services},
                                         {"shared_names", shared}, {"collisions", found}},
                          2)
              << "\n";
    return;
  }
  std::cout << "recipe     " << plan.recipe << " " << plan.version << "\n"
            << "namespace  " << plan.namespace_name << "\n"
            << "domain     " << plan.domain << "\n";
  for (const auto& s : plan.objects.services) {
    std::cout << "service    " << s << " → " << SwarmServiceName(plan.namespace_name, plan.objects, s) << "\n";
  }
  Status verdict = CollisionStatus(plan, collisions);
  std::cout << (verdict.ok() ? "clear: nothing of it collides with the policy or with what runs on the Swarm\n"
                             : verdict.message() + "\n");
}

class PromoteSubcommand final : public Subcommand {
 public:
  void AddFlags(CLI::App* sub) override {
    sub->add_option("recipe", recipe_, "Recipe name");
    sub->add_option("version", version_, "Release (default: the newest)");
    auto* check = sub->add_flag("--check", check_, "Plan the warm deploy and check it for collisions; create nothing");
    auto* status = sub->add_flag("--status", status_, "List the enrolled recipes: canonical version, last advance, holds");
    auto* retire = sub->add_flag("--retire", retire_, "Remove the recipe's warm deploy completely");
    check->excludes(status)->excludes(retire);
    status->excludes(retire);
    sub->add_flag("--force", force_, "Promote past a hold (major version bump, manual migration)");
    sub->add_option("--warm-policy", policy_file_, "The reserved-names policy")->capture_default_str();
  }

  bool NeedsTarget(bool declared) const override { return declared && !status_; }
  bool ReapsFirst(bool declared) const override { return declared && !status_ && !check_; }

  Status Check(Context& ctx) override {
    if (ctx.g.runtime != "swarm") {
      return Status::InvalidArgument("promote: the warm canon deploys with the swarm runtime; --runtime " +
                                     ctx.g.runtime + " is for run, sweep and triage");
    }
    if (status_) return Status::Ok();
    if (recipe_.empty()) return Status::InvalidArgument("promote: a recipe is required (or --status)");
    auto reserved = LoadReservedPolicy(policy_file_);
    if (!reserved.ok()) return Status::InvalidArgument(reserved.status().message());
    policy_ = *reserved;
    if (!check_ && !retire_) {
      // Asked for first of all, so that an older promotion still checking gives way.
      std::string wanted = version_;
      RecipeSources sources(ctx.g.recipes, ctx.g.state + "/git");
      auto releases = sources.Releases(recipe_, true, CancelToken::Signals());
      if (wanted.empty() && releases.ok() && !releases->empty()) wanted = releases->back();
      if (!wanted.empty() && releases.ok() &&
          std::find(releases->begin(), releases->end(), wanted) != releases->end()) {
        if (Status s = RequestPromotion(ctx.g.state, recipe_, wanted); !s.ok()) {
          ctx.progress("promote: the request could not be recorded: " + s.message());
        }
      }
    }
    return Status::Ok();
  }

  Status Run(Context& ctx) override {
    if (status_) return PrintWarmStatus(ctx.g);
    if (check_) return CheckPlan(ctx);
    PromoteOptions p;
    p.base = ctx.base;
    p.recipe = recipe_;
    p.version = version_;
    p.policy = policy_;
    p.force = force_;
    if (retire_) {
      Status s = RetireWarm(p, ctx.docker.get(), ctx.progress);
      return s.ok() || s.code() == Status::Code::kInvalidArgument ? s : Status::Infra(s.message());
    }
    PromoteOutcome o = Promote(p, ctx.docker.get(), ctx.progress);
    if (ctx.g.json) {
      std::cout << JsonText(nlohmann::json{{"schema", "recipe-harness/promotion/v1"}, {"recipe", recipe_},
                                           {"result", o.result}, {"from", o.from}, {"to", o.to},
                                           {"message", o.message}, {"runs", o.runs}, {"exit_code", o.exit_code}},
                            2)
                << "\n";
    } else {
      std::cout << recipe_ << ": " << o.result << ": " << o.message << "\n";
    }
    if (CancelToken::Signals().cancelled()) return Status::Cancelled("");
    return StatusForExitCode(o.exit_code);
  }

 private:
  // promote --check: the warm deploy's plan and its collisions; creates nothing.
  Status CheckPlan(Context& ctx) {
    TempDir stage("warm-plan");
    RecipeSources sources(ctx.g.recipes, ctx.g.state + "/git");
    std::string version = version_;
    if (version.empty()) {
      auto releases = sources.Releases(recipe_, true, CancelToken::Signals());
      if (!releases.ok()) return SourceStatus(releases.status());
      if (!releases->empty()) version = releases->back();
    }
    auto files = sources.Checkout(recipe_, version, "", CancelToken::Signals());
    auto plan = files.ok() ? PlanWarmDeploy(*files, recipe_, policy_, stage.path()) : Result<WarmPlan>(files.status());
    if (!plan.ok()) return SourceStatus(plan.status());
    auto live = ReadInventory(ctx.docker.get(), nullptr, Deadline::In(Duration(60000)));
    if (!live.ok()) return Status::Infra("cannot read what runs on the Swarm: " + live.status().message());
    auto collisions = FindCollisions(*plan, *live, policy_);
    PrintWarmPlan(*plan, collisions, ctx.g.json);
    return collisions.empty() ? Status::Ok() : Status::InvalidArgument("");
  }

  std::string recipe_, version_, policy_file_ = "warm/reserved.yaml";
  bool check_ = false, status_ = false, retire_ = false, force_ = false;
  ReservedPolicy policy_;
};

}  // namespace

std::unique_ptr<Subcommand> NewPromoteCommand() { return std::make_unique<PromoteSubcommand>(); }

}  // namespace harness
