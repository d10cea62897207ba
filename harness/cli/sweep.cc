// harness sweep: every recipe cold-run in parallel slots; with --canon, the nightly canon
// sweep (each enrolled recipe's newest release, cold-run, then promoted when green).
#include <algorithm>
#include <iostream>

#include "base/exit_code.h"
#include "base/json_text.h"
#include "cli/command.h"
#include "cli/reports.h"
#include "base/time.h"
#include "report/summary.h"
#include "sched/scheduler.h"
#include "sched/sweep_plan.h"
#include "source/recipe_source.h"
#include "warm/canon.h"
#include "warm/collision.h"

namespace harness {
namespace {

nlohmann::json CanonJson(const std::string& sweep_id, const std::vector<CanonOutcome>& outcomes, int code) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& o : outcomes) {
    nlohmann::json j = {{"recipe", o.plan.recipe}, {"canonical", o.plan.canonical}, {"candidate", o.plan.candidate},
                        {"state", o.plan.state}, {"detail", o.plan.detail}, {"exit_code", o.exit_code}};
    if (o.cold) j["cold"] = SummaryJson(*o.cold);
    if (o.promotion) {
      j["promotion"] = {{"result", o.promotion->result}, {"from", o.promotion->from}, {"to", o.promotion->to},
                        {"message", o.promotion->message}};
    }
    all.push_back(j);
  }
  return {{"schema", "recipe-harness/canon-sweep/v1"}, {"sweep", sweep_id}, {"recipes", all}, {"exit_code", code}};
}

// The sweep's own reports, next to the runs' folders. A report that cannot be written is
// said on the console; the sweep's outcome stands.
void WriteSweepReports(Context& ctx, const std::string& sweep_id, const std::vector<RunOutcome>& runs) {
  ReportRequest req;
  req.sweep = sweep_id;
  if (Status s = WriteReportSet(ctx.g, req, runs, ctx.progress); !s.ok()) {
    std::cerr << "harness: " << s.message() << "\n";
  }
}

// A sweep's status: an interrupted sweep exits with its signal.
Status SweepStatus(Status outcome) {
  if (CancelToken::Signals().cancelled()) return Status::Cancelled("");
  return outcome;
}

class SweepSubcommand final : public Subcommand {
 public:
  void AddFlags(CLI::App* sub) override {
    sub->add_option("--only", only_, "Run just these recipes");
    sub->add_flag("--canon", canon_,
                  "The nightly canon sweep: each enrolled recipe's newest release newer than its canonical "
                  "version, cold-run, then promoted when green");
    sub->add_option("--warm-policy", policy_file_, "With --canon: the reserved-names policy")->capture_default_str();
    sub->add_option("-j,--jobs", jobs_, "Slots for concurrent runs (a recipe takes its weight)")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
  }

  Status Check(Context& ctx) override { return canon_ ? CheckCanon(ctx) : CheckPlain(ctx); }
  Status Run(Context& ctx) override { return SweepStatus(canon_ ? RunCanon(ctx) : RunPlain(ctx)); }

 private:
  Status CheckPlain(Context& ctx) {
    names_ = only_.empty() ? ListRecipes(ctx.g) : only_;
    if (names_.empty()) {
      return Status::InvalidArgument("no recipes found in " + ctx.g.recipes +
                                     " — a sweep that tests nothing is a failure");
    }
    return Status::Ok();
  }

  Status RunPlain(Context& ctx) {
    std::vector<Job> plan;
    for (auto& planned : PlanSweep({ctx.g.recipes, ctx.g.state, names_})) {
      if (!planned.load_error.empty()) {
        ctx.progress("sweep: " + planned.job.name + ": its script does not load, so its weight is taken as " +
                     std::to_string(planned.job.weight) + "; its run will fail in prepare: " + planned.load_error);
      }
      plan.push_back(std::move(planned.job));
    }
    std::vector<RunOutcome> runs(names_.size());
    const std::string sweep_id = "sweep-" + UtcStamp();
    Pool pool(jobs_);
    ctx.progress("sweep: " + std::to_string(names_.size()) + " recipes, " + std::to_string(jobs_) + " slots");
    pool.Run(plan, [&](const Job& j) {
      ctx.progress("sweep: starting " + j.name + " (weight " + std::to_string(j.weight) +
                   (j.expected.count() ? ", expected " + FormatDuration(j.expected) : "") + ")");
      RunOptions o = ctx.base;
      o.recipe = j.name;
      o.sweep_id = sweep_id;
      runs[j.index] = RunRecipeWithRetry(o, ctx.docker.get(), ctx.progress);
    }, CancelToken::Signals());
    // Recipes never started (interrupted sweep) are left out of the table.
    runs.erase(std::remove_if(runs.begin(), runs.end(), [](const RunOutcome& r) { return r.recipe.empty(); }),
               runs.end());
    WriteSweepReports(ctx, sweep_id, runs);
    return PrintRunOutcomes(ctx.g, runs, true);
  }

  Status CheckCanon(Context& ctx) {
    if (!only_.empty()) {
      return Status::InvalidArgument("sweep --canon tests the enrolled recipes; --only is for a plain sweep");
    }
    if (ctx.g.runtime != "swarm") {
      return Status::InvalidArgument(
          "sweep --canon promotes into the warm canon, which deploys with the swarm runtime");
    }
    auto reserved = LoadReservedPolicy(policy_file_);
    if (!reserved.ok()) return Status::InvalidArgument(reserved.status().message());
    policy_ = *reserved;
    auto ledger = OpenLedger(ctx.g);
    if (!ledger.ok()) return ledger.status();
    RecipeSources sources(ctx.g.recipes, ctx.g.state + "/git");
    auto candidates = PlanCanonSweep(ledger->get(), &sources, ctx.g.state, CancelToken::Signals());
    if (!candidates.ok()) {
      const Status& s = candidates.status();
      return s.code() == Status::Code::kInfra ? s : Status::InvalidArgument(s.message());
    }
    candidates_ = std::move(*candidates);
    return Status::Ok();
  }

  Status RunCanon(Context& ctx) {
    CanonSweepOptions c;
    c.base = ctx.base;
    c.base.sweep_id = "sweep-" + UtcStamp();
    c.policy = policy_;
    c.jobs = jobs_;
    ctx.progress("canon sweep: " + std::to_string(candidates_.size()) + " enrolled recipes, " +
                 std::to_string(jobs_) + " slots");
    auto outcomes = RunCanonSweep(candidates_, c, ctx.docker.get(), ctx.progress);
    std::vector<RunOutcome> runs;
    for (const auto& o : outcomes) {
      if (o.cold) runs.push_back(*o.cold);
    }
    if (!runs.empty()) WriteSweepReports(ctx, c.base.sweep_id, runs);
    int code = CanonExitCode(outcomes);
    if (ctx.g.json) {
      std::cout << JsonText(CanonJson(c.base.sweep_id, outcomes, code), 2) << "\n";
    } else {
      std::cout << "\n" << CanonTable(outcomes);
    }
    return StatusForExitCode(code);
  }

  std::vector<std::string> only_;
  bool canon_ = false;
  std::string policy_file_ = "warm/reserved.yaml";
  int jobs_ = 2;
  std::vector<std::string> names_;
  ReservedPolicy policy_;
  std::vector<CanonCandidate> candidates_;
};

}  // namespace

std::unique_ptr<Subcommand> NewSweepCommand() { return std::make_unique<SweepSubcommand>(); }

}  // namespace harness
