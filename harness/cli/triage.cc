// harness triage <recipe>: re-run a failing recipe alone and under load until a verdict.
#include <algorithm>
#include <iostream>
#include <thread>

#include "base/exit_code.h"
#include "base/json_text.h"
#include "cli/command.h"
#include "sched/triage.h"
#include "source/recipe_source.h"

namespace harness {
namespace {

class TriageSubcommand final : public Subcommand {
 public:
  TriageSubcommand() {
    load_.cpu = 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    load_.io = 1;
  }

  void AddFlags(CLI::App* sub) override {
    sub->add_option("recipe", recipe_, "Recipe name")->required();
    sub->add_option("--error-level", error_percent_,
                    "Most chance of a wrong verdict, in percent (genuine and load-flake get half each)")
        ->capture_default_str()->check(CLI::Range(0.001, 20.0));
    sub->add_option("--max-runs", policy_.max_runs,
                    "Most attempts in all (infrastructure failures included)")
        ->capture_default_str()->check(CLI::Range(1, 200));
    sub->add_option("--max-minutes", max_minutes_,
                    "Start no attempt that would end after this many minutes")
        ->capture_default_str()->check(CLI::Range(1, 24 * 60));
    sub->add_option("--min-decisive", policy_.min_decisive,
                    "Fewest runs alone before genuine or known-transient (the error level may need more)")
        ->capture_default_str()->check(CLI::Range(1, 50));
    sub->add_option("--max-alone", policy_.max_alone, "Most runs alone")
        ->capture_default_str()->check(CLI::Range(1, 200));
    sub->add_option("--max-loaded", policy_.max_loaded, "Most runs under load")
        ->capture_default_str()->check(CLI::Range(0, 200));
    sub->add_option("--min-load-failures", policy_.min_load_failures,
                    "Failures under load that load-flake needs besides its test")
        ->capture_default_str()->check(CLI::Range(1, 50));
    sub->add_option("--not-reproduced-after", policy_.not_reproduced_after,
                    "Runs without any failure after which triage stops (undecided: not reproduced)")
        ->capture_default_str()->check(CLI::Range(1, 200));
    sub->add_option("--load-cpu", load_.cpu, "CPU spinner tasks beside loaded runs")
        ->capture_default_str()->check(CLI::Range(0, 256));
    sub->add_option("--load-io", load_.io, "Disk writer tasks beside loaded runs")
        ->capture_default_str()->check(CLI::Range(0, 64));
    sub->add_option("--load-recipes", load_.recipes, "Recipes run in a loop beside loaded runs");
    sub->add_option("--load-image", load_.image, "Image of the load tasks")->capture_default_str();
  }

  Status Check(Context& ctx) override {
    RecipeSources sources(ctx.g.recipes, ctx.g.state + "/git");
    if (!sources.Exists(recipe_)) {
      return Status::InvalidArgument("no recipe named '" + recipe_ + "' in " + ctx.g.recipes);
    }
    for (const auto& r : load_.recipes) {
      if (!sources.Exists(r)) {
        return Status::InvalidArgument("--load-recipes: no recipe named '" + r + "' in " + ctx.g.recipes);
      }
    }
    return Status::Ok();
  }

  Status Run(Context& ctx) override {
    TriageOptions t;
    t.base = ctx.base;
    t.base.recipe = recipe_;
    t.policy = policy_;
    t.policy.error_level = error_percent_ / 100.0;
    t.policy.max_time = Duration(static_cast<int64_t>(max_minutes_) * 60000);
    t.load = load_;
    TriageResult result = Triage(t, ctx.docker.get(), ctx.progress);
    Event verdict;
    verdict.kind = EventKind::kVerdict;
    verdict.recipe = result.recipe;
    verdict.status = result.verdict.kind;
    verdict.text = result.verdict.reason;
    ctx.events.OnEvent(verdict);
    if (auto ledger = Ledger::Open(ctx.g.state); ledger.ok() && !result.interrupted) {
      Status recorded = (*ledger)->RecordVerdict(
          {result.recipe, result.verdict.kind, result.verdict.confidence, result.verdict.reason, ""});
      if (!recorded.ok()) std::cerr << "harness: " << recorded.message() << "\n";
    }
    if (ctx.g.json) {
      std::cout << JsonText(TriageJson(result), 2) << "\n";
    } else {
      std::cout << "\n" << TriageTable({result});
    }
    return StatusForExitCode(TriageExitCode(result));
  }

 private:
  std::string recipe_;
  TriagePolicy policy_;
  double error_percent_ = 1.0;
  int max_minutes_ = 60;
  LoadSpec load_;
};

}  // namespace

std::unique_ptr<Subcommand> NewTriageCommand() { return std::make_unique<TriageSubcommand>(); }

}  // namespace harness
