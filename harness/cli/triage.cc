// harness triage <recipe>: re-run a failing recipe alone and under load until a verdict.
#include <algorithm>
#include <iostream>
#include <thread>

#include "base/exit_code.h"
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
    sub->add_option("--min-decisive", policy_.min_decisive,
                    "Same outcome this often alone decides (genuine, or green alone)")
        ->capture_default_str()->check(CLI::Range(1, 50));
    sub->add_option("--max-alone", policy_.max_alone, "Most runs alone")->capture_default_str()->check(CLI::Range(1, 100));
    sub->add_option("--max-loaded", policy_.max_loaded, "Most runs under load")
        ->capture_default_str()->check(CLI::Range(0, 100));
    sub->add_option("--min-load-failures", policy_.min_load_failures,
                    "Failures under load (after green alone) that decide load-flake")
        ->capture_default_str()->check(CLI::Range(1, 50));
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
      std::cout << TriageJson(result).dump(2) << "\n";
    } else {
      std::cout << "\n" << TriageTable({result});
    }
    return StatusForExitCode(TriageExitCode(result));
  }

 private:
  std::string recipe_;
  TriagePolicy policy_;
  LoadSpec load_;
};

}  // namespace

std::unique_ptr<Subcommand> NewTriageCommand() { return std::make_unique<TriageSubcommand>(); }

}  // namespace harness
