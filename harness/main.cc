// harness: command line → options → runs → exit status.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "base/cancel.h"
#include "exec/local_executor.h"
#include "ledger/ledger.h"
#include "ledger/reaper.h"
#include "recipe/run.h"
#include "runtime/swarm.h"
#include "report/summary.h"

namespace fs = std::filesystem;
using namespace harness;

namespace {

struct GlobalOptions {
  std::string recipes = "recipes";
  std::string artifacts = "artifacts";
  std::string docker = "docker";
  std::string domain_suffix = "harness.localhost";
  std::string state = DefaultStateDir();
  bool json = false;
  bool quiet = false;
};

std::vector<std::string> ListRecipes(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / "recipe.lua")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

int Report(const GlobalOptions& g, const std::vector<RunOutcome>& runs, bool table) {
  int code = CombinedExitCode(runs);
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : runs) j.push_back(SummaryJson(r));
    std::cout << (runs.size() == 1 ? j[0] : nlohmann::json{{"runs", j}, {"exit_code", code}}).dump(2)
              << "\n";
    return code;
  }
  if (table) std::cout << "\n" << ResultsTable(runs);
  for (const auto& r : runs) {
    if (r.result != "passed" && !r.reason.empty() && !table) {
      std::cout << r.recipe << ": " << r.result << " in " << r.failed_phase << ": " << r.reason << "\n";
    }
    if (!r.artifacts.empty() && !table) std::cout << "artifacts: " << r.artifacts << "\n";
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  InstallSignalHandlers();
  CLI::App app{"recipe-harness: deploy, test and tear down Co-op Cloud recipes on Docker Swarm"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  app.add_option("--recipes", g.recipes, "Folder of recipes (<name>/recipe.lua)")
      ->capture_default_str();
  app.add_option("--artifacts", g.artifacts, "Folder for proof packets, logs and summaries")
      ->capture_default_str();
  app.add_option("--docker", g.docker, "Docker CLI to use")->capture_default_str();
  app.add_option("--domain-suffix", g.domain_suffix, "Domains are <namespace>.<suffix>")
      ->capture_default_str();
  app.add_option("--state", g.state, "Folder of the ledger and run locks")->capture_default_str();
  app.add_flag("--json", g.json, "Print the summary as JSON on stdout");
  app.add_flag("-q,--quiet", g.quiet, "No progress lines on stderr");

  std::string recipe;
  CLI::App* run = app.add_subcommand("run", "Cold-deploy one recipe, test it, tear it down");
  run->add_option("recipe", recipe, "Recipe name (a folder under --recipes)")->required();

  CLI::App* sweep = app.add_subcommand("sweep", "Cold-run every recipe under --recipes, one after another");
  std::vector<std::string> only;
  sweep->add_option("--only", only, "Run just these recipes");

  CLI::App* reap = app.add_subcommand(
      "reap", "Remove the leftovers of dead runs (found in the ledger and by label)");
  bool dry_run = false;
  reap->add_flag("-n,--dry-run", dry_run, "List what would be removed; remove nothing");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  LocalExecutor exec;
  Docker docker(&exec, g.docker);
  ProgressFn progress = [&](const std::string& line) {
    if (!g.quiet) std::cerr << "harness: " << line << std::endl;
  };
  // Reaps dead runs' leftovers; returns 0, or 3 when something could not be removed.
  auto reap_dead = [&](bool dry, bool verbose) -> int {
    auto ledger = Ledger::Open(g.state);
    if (!ledger.ok()) {
      std::cerr << "harness: " << ledger.status().message() << "\n";
      return 3;
    }
    SwarmRuntime swarm(&docker);
    Reaper reaper(ledger->get(), &swarm, g.state);
    auto outcomes = reaper.Reap(dry, Deadline::In(Duration(600000)));
    if (!outcomes.ok()) {
      std::cerr << "harness: reap: " << outcomes.status().message() << "\n";
      return 3;
    }
    int code = 0;
    for (const auto& o : *outcomes) {
      if (!o.status.ok()) code = 3;
      bool interesting = o.action != "skipped: live" && o.action != "nothing left";
      if (verbose || interesting) {
        progress("reap " + o.namespace_name + " (" + o.source + (o.run_id.empty() ? "" : ", run " + o.run_id) +
                 "): " + o.action + (o.detail.empty() ? "" : ": " + o.detail));
      }
    }
    if (g.json && verbose) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& o : *outcomes) {
        j.push_back({{"namespace", o.namespace_name}, {"run_id", o.run_id}, {"source", o.source},
                     {"action", o.action}, {"detail", o.detail}});
      }
      std::cout << j.dump(2) << "\n";
    } else if (verbose) {
      std::cout << (outcomes->empty() ? "nothing to reap\n" : "");
      for (const auto& o : *outcomes) {
        std::cout << o.namespace_name << "  " << o.action << (o.detail.empty() ? "" : "  " + o.detail) << "\n";
      }
    }
    return code;
  };
  if (*reap) return reap_dead(dry_run, true);

  RunOptions base;
  base.state_dir = g.state;
  base.recipes_dir = g.recipes;
  base.artifacts_dir = g.artifacts;
  base.domain_suffix = g.domain_suffix;

  if (*run) {
    if (!fs::is_directory(g.recipes)) {
      std::cerr << "harness: recipes folder not found: " << g.recipes << "\n";
      return 2;
    }
    RunOptions o = base;
    o.recipe = recipe;
    if (!fs::exists(fs::path(g.recipes) / recipe / "recipe.lua")) {
      auto names = ListRecipes(g.recipes);
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      std::cerr << "harness: no recipe named '" << recipe << "' in " << g.recipes
                << " (recipes: " << (known.empty() ? "none" : known) << ")\n";
      return 2;
    }
    if (int rc = reap_dead(false, false); rc != 0) {
      std::cerr << "harness: leftovers of dead runs could not be removed; not deploying\n";
      return rc;
    }
    return Report(g, {RunRecipe(o, &docker, progress)}, false);
  }

  // sweep
  std::vector<std::string> names = only.empty() ? ListRecipes(g.recipes) : only;
  if (names.empty()) {
    std::cerr << "harness: no recipes found in " << g.recipes
              << " — a sweep that tests nothing is a failure\n";
    return 2;
  }
  if (int rc = reap_dead(false, false); rc != 0) {
    std::cerr << "harness: leftovers of dead runs could not be removed; not deploying\n";
    return rc;
  }
  std::vector<RunOutcome> runs;
  for (size_t i = 0; i < names.size(); ++i) {
    if (CancelToken::Signals().cancelled()) break;
    progress("sweep " + std::to_string(i + 1) + "/" + std::to_string(names.size()) + ": " + names[i]);
    RunOptions o = base;
    o.recipe = names[i];
    runs.push_back(RunRecipe(o, &docker, progress));
  }
  int code = Report(g, runs, true);
  if (CancelToken::Signals().cancelled()) return ExitCodeForSignal(CancelToken::Signals().signal());
  return code;
}
