// harness: command line → options → runs → exit status.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/cancel.h"
#include "base/temp_dir.h"
#include "doctor/doctor.h"
#include "events/console.h"
#include "events/events.h"
#include "exec/local_executor.h"
#include "exec/ssh_executor.h"
#include "exec/target.h"
#include "ledger/ledger.h"
#include "ledger/reaper.h"
#include "recipe/naming.h"
#include "recipe/releases.h"
#include "recipe/run.h"
#include "runtime/nodes.h"
#include "runtime/swarm.h"
#include "sched/scheduler.h"
#include "serve/queue.h"
#include "serve/server.h"
#include "source/git.h"
#include "source/recipe_source.h"
#include "warm/canon.h"
#include "warm/collision.h"
#include "warm/plan.h"
#include "warm/promote.h"
#include "sched/triage.h"
#include "script/engine.h"
#include "report/check.h"
#include "report/junit.h"
#include "report/phase_log.h"
#include "report/reports.h"
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
  bool plain = false;
  std::string target = "local";
  SshOptions ssh;
  std::string runtime = "swarm";
  std::string pull;  // "" the recipe's pull policy
  AbraOptions abra;
};

// The recipes of the folder and its catalogue; a bad catalogue is reported and lists none.
std::vector<std::string> ListRecipes(const GlobalOptions& g) {
  auto names = RecipeSources(g.recipes, g.state + "/git").List();
  if (!names.ok()) {
    std::cerr << "harness: " << names.status().message() << "\n";
    return {};
  }
  return *names;
}

struct ReportRequest {
  std::string run, sweep, since, recipe, out;
  int history = 30;
};

// Renders the report set of a run, a sweep or a time window from the ledger. With
// `fallback` (the sweep that just ran), reports are still written when the ledger cannot
// be read, without history.
int WriteReportSet(const GlobalOptions& g, ReportRequest req, const std::vector<RunOutcome>& fallback,
                   const std::function<void(const std::string&)>& say, nlohmann::json* written = nullptr) {
  auto fail = [&](int code, const std::string& msg) {
    std::cerr << "harness: " << msg << "\n";
    return code;
  };
  ReportSet set;
  set.generated_at = IsoTime(std::chrono::system_clock::now());
  auto ledger = Ledger::Open(g.state);
  RunQuery q;
  q.recipe = req.recipe;
  if (!req.run.empty()) {
    q.run_id = req.run;
    set.title = "Run " + req.run;
  } else if (!req.sweep.empty()) {
    q.sweep = req.sweep;
    set.title = "Canon sweep " + req.sweep.substr(req.sweep.rfind('-') + 1);
  } else {
    if (req.since.empty() && ledger.ok()) {
      auto latest = (*ledger)->LatestSweep();
      if (!latest.ok()) return fail(3, latest.status().message());
      q.sweep = *latest;
      set.title = "Canon sweep " + q.sweep.substr(q.sweep.rfind('-') + 1);
    }
    if (q.sweep.empty()) {
      auto since = ParseSince(req.since.empty() ? "24h" : req.since, std::chrono::system_clock::now());
      if (!since.ok()) return fail(2, since.status().message());
      q.since = *since;
      set.title = "Runs since " + q.since.substr(0, 16) + " UTC";
    }
  }
  if (!req.recipe.empty()) set.title += " — " + req.recipe;
  set.out_dir = !req.out.empty()  ? req.out
                : !q.sweep.empty() ? g.artifacts + "/" + q.sweep
                                   : g.artifacts + "/report-" + UtcStamp();
  if (ledger.ok()) {
    auto runs = LoadReportRuns(ledger->get(), q, set.out_dir);
    if (!runs.ok()) return fail(3, runs.status().message());
    set.selected = WithoutRetriedAttempts(std::move(*runs));
    auto history = LoadHistory(ledger->get(), set.selected, req.history, set.out_dir);
    if (!history.ok()) return fail(3, history.status().message());
    set.history = std::move(*history);
  } else if (fallback.empty()) {
    return fail(3, ledger.status().message());
  }
  if (set.selected.empty() && !fallback.empty()) {
    say("reports from this sweep's own results (the ledger had none: " +
        (ledger.ok() ? std::string("no runs recorded") : ledger.status().message()) + ")");
    for (const auto& r : fallback) set.selected.push_back({r, "", req.sweep, ""});
  }
  if (set.selected.empty()) {
    return fail(2, "no finished runs in the ledger " + g.state + " match " +
                       (!q.run_id.empty() ? "run " + q.run_id
                        : !q.sweep.empty() ? "sweep " + q.sweep
                                           : "runs since " + q.since) +
                       (req.recipe.empty() ? "" : " of recipe " + req.recipe));
  }
  if (Status s = WriteReports(set); !s.ok()) return fail(3, s.message());
  std::string files;
  for (const auto& f : ReportFiles()) files += (files.empty() ? "" : ",") + f;
  say("reports: " + set.out_dir + "/{" + files + "}");
  if (written != nullptr) {
    *written = {{"out_dir", set.out_dir}, {"files", ReportFiles()}, {"runs", set.selected.size()},
                {"title", set.title}};
  }
  return 0;
}

// harness promote --status: each enrolled recipe, its canonical version, the last advance,
// any hold, and its last promotion.
int PromoteStatus(const GlobalOptions& g) {
  auto ledger = Ledger::Open(g.state);
  if (!ledger.ok()) {
    std::cerr << "harness: " << ledger.status().message() << "\n";
    return 3;
  }
  auto warm = (*ledger)->WarmRecords();
  if (!warm.ok()) {
    std::cerr << "harness: " << warm.status().message() << "\n";
    return 3;
  }
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
    std::cout << nlohmann::json{{"schema", "recipe-harness/warm-status/v1"}, {"recipes", all}}.dump(2) << "\n";
    return 0;
  }
  if (all.empty()) {
    std::cout << "no recipe is enrolled in the warm canon\n";
    return 0;
  }
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
  return 0;
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
  app.add_option("--runtime", g.runtime, "How deploys are made: 'swarm' (docker stack deploy) or 'abra'")
      ->capture_default_str()
      ->check(CLI::IsMember({"swarm", "abra"}));
  app.add_option("--pull", g.pull,
                 "Image pull policy for every run: 'missing' (pull what the nodes lack), 'always', 'never' "
                 "(default: the recipe's, else missing)")
      ->check(CLI::IsMember({"missing", "always", "never"}));
  app.add_option("--abra", g.abra.binary, "The abra command line to use with --runtime abra")->capture_default_str();
  app.add_option("--target", g.target,
                 "Where the Swarm is: 'local', or a manager over SSH, ssh://[user@]host[:port]")
      ->capture_default_str();
  app.add_option("--ssh-key", g.ssh.identity_file,
                 "Private key for --target (default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa)");
  app.add_option("--known-hosts", g.ssh.known_hosts, "known_hosts file for --target (default: ~/.ssh/known_hosts)");
  app.add_flag("--accept-new-host-key", g.ssh.accept_new_host_key,
               "Trust and record the key of a host not yet in known_hosts (a changed key is always refused)");
  app.add_flag("--json", g.json,
               "Machine output: the summary as JSON on stdout, progress as JSON lines on stderr");
  app.add_flag("-q,--quiet", g.quiet, "No progress on stderr");
  app.add_flag("--plain", g.plain,
               "Progress as plain lines, also on a terminal (the default for pipes and files)");

  std::string recipe;
  CLI::App* run = app.add_subcommand("run", "Cold-deploy one recipe, test it, tear it down");
  run->add_option("recipe", recipe,
                  "Recipe name (a folder under --recipes), or <name>@<version> for one of its releases")
      ->required();
  bool isolated = false, no_wait = false;
  std::string upgrade_from, run_commit;
  run->add_option("--commit", run_commit,
                  "A git-sourced recipe at this commit (a full id, e.g. a pull request's head) instead of a release");
  run->add_option("--upgrade-from", upgrade_from,
                  "An upgrade run: deploy this release first, then upgrade it in place to the recipe's version, and test");
  run->add_flag("--isolated", isolated, "Run with nothing else of ours on the Swarm (waits for other runs)");
  run->add_flag("--no-wait", no_wait, "With --isolated: refuse (exit 3) instead of waiting");

  CLI::App* sweep = app.add_subcommand("sweep", "Cold-run every recipe under --recipes");
  std::vector<std::string> only;
  int jobs = 2;
  sweep->add_option("--only", only, "Run just these recipes");
  bool canon = false;
  std::string sweep_policy = "warm/reserved.yaml";
  sweep->add_flag("--canon", canon,
                  "The nightly canon sweep: each enrolled recipe's newest release newer than its canonical "
                  "version, cold-run, then promoted when green");
  sweep->add_option("--warm-policy", sweep_policy, "With --canon: the reserved-names policy")->capture_default_str();
  sweep->add_option("-j,--jobs", jobs, "Slots for concurrent runs (a recipe takes its weight)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));

  CLI::App* serve = app.add_subcommand("serve", "Receive !testme from Gitea/Forgejo and test pull requests");
  ServeOptions serve_opts;
  std::string listen = "127.0.0.1:8088", forge_url, forge_token_file, secret_file;
  int poll_seconds = 0;
  ForgeOptions forge_opts;
  serve->add_option("--listen", listen, "Address and port for webhooks (port 0: any free one)")->capture_default_str();
  serve->add_option("--port-file", serve_opts.port_file, "Write the port listened on to this file");
  serve->add_option("--forge-url", forge_url, "The forge's address, e.g. https://git.coopcloud.tech")->required();
  serve->add_option("--forge-token-file", forge_token_file,
                    "File holding the forge API token (or $HARNESS_FORGE_TOKEN)");
  serve->add_option("--webhook-secret-file", secret_file,
                    "File holding the webhooks' shared secret (or $HARNESS_WEBHOOK_SECRET)");
  serve->add_option("--allow-user", serve_opts.allow_users, "A user who may start runs (repeatable)");
  serve->add_option("--allow-org", serve_opts.allow_orgs, "Members of this organisation may start runs (repeatable)");
  serve->add_flag("--allow-collaborators", serve_opts.allow_collaborators,
                  "Collaborators of the recipe's repository may start runs");
  serve->add_option("--max-body", serve_opts.max_body, "Largest webhook body in bytes (413 beyond)")
      ->capture_default_str()->check(CLI::Range(1024, 64 << 20));
  serve->add_option("--per-pr-per-hour", serve_opts.per_pr_per_hour, "Runs per pull request per hour")
      ->capture_default_str()->check(CLI::Range(1, 1000));
  serve->add_option("--per-user-per-hour", serve_opts.per_user_per_hour, "Runs per user per hour")
      ->capture_default_str()->check(CLI::Range(1, 1000));
  serve->add_option("-j,--jobs", serve_opts.jobs, "Runs at a time")->capture_default_str()->check(CLI::Range(1, 16));
  serve->add_option("--poll-repo", serve_opts.poll_repos,
                    "Poll this repository (owner/name) for !testme comments instead of, or besides, webhooks");
  serve->add_option("--poll-interval", poll_seconds, "Seconds between polls (with --poll-repo)")
      ->capture_default_str()->check(CLI::Range(0, 86400));
  serve->add_option("--status-context", serve_opts.status_context, "Commit status context (/<recipe> is added)")
      ->capture_default_str();

  CLI::App* triage = app.add_subcommand(
      "triage", "Re-run a failing recipe alone and under load until a verdict is decisive");
  std::string triage_recipe;
  TriagePolicy policy;
  LoadSpec load;
  load.cpu = 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  load.io = 1;
  triage->add_option("recipe", triage_recipe, "Recipe name")->required();
  triage->add_option("--min-decisive", policy.min_decisive,
                     "Same outcome this often alone decides (genuine, or green alone)")
      ->capture_default_str()->check(CLI::Range(1, 50));
  triage->add_option("--max-alone", policy.max_alone, "Most runs alone")->capture_default_str()->check(CLI::Range(1, 100));
  triage->add_option("--max-loaded", policy.max_loaded, "Most runs under load")->capture_default_str()->check(CLI::Range(0, 100));
  triage->add_option("--min-load-failures", policy.min_load_failures,
                     "Failures under load (after green alone) that decide load-flake")
      ->capture_default_str()->check(CLI::Range(1, 50));
  triage->add_option("--load-cpu", load.cpu, "CPU spinner tasks beside loaded runs")->capture_default_str()->check(CLI::Range(0, 256));
  triage->add_option("--load-io", load.io, "Disk writer tasks beside loaded runs")->capture_default_str()->check(CLI::Range(0, 64));
  triage->add_option("--load-recipes", load.recipes, "Recipes run in a loop beside loaded runs");
  triage->add_option("--load-image", load.image, "Image of the load tasks")->capture_default_str();

  CLI::App* reap = app.add_subcommand(
      "reap", "Remove the leftovers of dead runs (found in the ledger and by label)");
  bool dry_run = false;
  reap->add_flag("-n,--dry-run", dry_run, "List what would be removed; remove nothing");

  CLI::App* report = app.add_subcommand(
      "report", "Write junit.xml, summary.md, summary.json and report.html from the ledger");
  ReportRequest report_req;
  auto* report_run = report->add_option("--run", report_req.run, "One run (its id)");
  auto* report_sweep = report->add_option("--sweep", report_req.sweep, "One sweep (sweep-<time>; default: the latest)");
  auto* report_since = report->add_option("--since", report_req.since,
                     "Runs started in a time window: an age (36h, 7d) or a date/time (2026-11-20)");
  report_run->excludes(report_sweep)->excludes(report_since);
  report_sweep->excludes(report_since);
  report->add_option("--recipe", report_req.recipe, "Only this recipe's runs");
  report->add_option("-o,--out", report_req.out,
                     "Folder for the reports (default: the sweep's folder, or <artifacts>/report-<time>)");
  report->add_option("--history", report_req.history, "Recent runs per recipe in the history strip and chart")
      ->capture_default_str()->check(CLI::Range(1, 1000));

  CLI::App* promote = app.add_subcommand(
      "promote", "Warm canon: advance a recipe's long-lived deploy to a newer release that passed a cold run");
  std::string promote_recipe, promote_version, warm_policy = "warm/reserved.yaml";
  bool promote_check = false, promote_status = false, promote_retire = false, promote_force = false;
  promote->add_option("recipe", promote_recipe, "Recipe name");
  promote->add_option("version", promote_version, "Release (default: the newest)");
  auto* check_flag = promote->add_flag("--check", promote_check,
                                       "Plan the warm deploy and check it for collisions; create nothing");
  auto* status_flag = promote->add_flag("--status", promote_status,
                                        "List the enrolled recipes: canonical version, last advance, holds");
  auto* retire_flag = promote->add_flag("--retire", promote_retire, "Remove the recipe's warm deploy completely");
  check_flag->excludes(status_flag)->excludes(retire_flag);
  status_flag->excludes(retire_flag);
  promote->add_flag("--force", promote_force, "Promote past a hold (major version bump, manual migration)");
  promote->add_option("--warm-policy", warm_policy, "The reserved-names policy")->capture_default_str();

  std::string check_recipe;
  CLI::App* check = app.add_subcommand(
      "check", "Show everything a run of a recipe would decide and need, creating nothing");
  check->add_option("recipe", check_recipe, "Recipe name, or <name>@<version> for one of its releases")->required();

  CLI::App* doctor = app.add_subcommand(
      "doctor", "Check Docker, the Swarm, images, disk, clock and the state folder, with fix hints");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  // Where commands run: here, or on the target over SSH (connected once up front, so that
  // a bad host key, key or address is reported before anything starts).
  if (Status s = ValidateDomain(g.domain_suffix); !s.ok()) {
    std::cerr << "harness: --domain-suffix: " << s.message() << "\n";
    return 2;
  }
  auto target = ParseTarget(g.target);
  if (!target.ok()) {
    std::cerr << "harness: --target: " << target.status().message() << "\n";
    return 2;
  }
  std::unique_ptr<Executor> exec;
  std::vector<Finding> target_findings;  // doctor reports the connection as a finding
  bool needs_target = !(*report) && !(*promote && promote_status);
  if (target->local || !needs_target) {
    exec = std::make_unique<LocalExecutor>();
  } else {
    auto ssh = SshExecutor::Open(*target, g.ssh);
    if (!ssh.ok()) {
      if (*doctor) {
        target_findings.push_back({"target", Finding::Level::kFail, ssh.status().message(),
                                   "check --target, --ssh-key and --known-hosts (docs/cli.md, Targets)"});
        std::cout << (g.json ? DoctorJson(target_findings).dump(2) + "\n" : DoctorText(target_findings));
        return DoctorExitCode(target_findings);
      }
      std::cerr << "harness: " << ssh.status().message() << "\n";
      return 3;
    }
    exec = std::move(*ssh);
    target_findings.push_back({"target", Finding::Level::kOk,
                               target->Describe() + ": host key known, key accepted", ""});
  }
  Docker docker(exec.get(), g.docker);
  // The Swarm's other nodes are reached over SSH like the target (never from a local one).
  NodeReach reach(exec.get(), target->local ? std::nullopt : std::optional<Target>(*target), g.ssh);
  // Progress: a live view on a terminal, plain lines otherwise, JSON lines with --json.
  EventBus events;
  std::unique_ptr<EventSink> console;
  if (!g.quiet) {
    if (g.json) {
      console = std::make_unique<JsonConsole>(&std::cerr);
    } else if (!g.plain && ConsoleLive(STDERR_FILENO)) {
      auto live = std::make_unique<LiveConsole>(&std::cerr, ConsoleColor(STDERR_FILENO),
                                                [] { return ConsoleWidth(STDERR_FILENO); });
      live->StartTicker(Duration(250));
      console = std::move(live);
    } else {
      console = std::make_unique<PlainConsole>(&std::cerr, ConsoleColor(STDERR_FILENO));
    }
    events.Add(console.get());
  }
  ProgressFn progress = [&](const std::string& line) { events.Message(line); };
  // Reaps dead runs' leftovers; returns 0, or 3 when something could not be removed.
  auto reap_dead = [&](bool dry, bool verbose) -> int {
    auto ledger = Ledger::Open(g.state);
    if (!ledger.ok()) {
      std::cerr << "harness: " << ledger.status().message() << "\n";
      return 3;
    }
    SwarmRuntime swarm(&docker);
    swarm.set_nodes(&reach);
    Reaper reaper(ledger->get(), &swarm, g.state);
    auto outcomes = reaper.Reap(dry, Deadline::In(Duration(600000)));
    if (!outcomes.ok()) {
      std::cerr << "harness: reap: " << outcomes.status().message() << "\n";
      return 3;
    }
    int code = 0;
    for (const auto& o : *outcomes) {
      if (!o.status.ok()) code = 3;
      bool interesting = o.action != "skipped: live" && o.action != "skipped: in use" && o.action != "nothing left";
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
  if (*report) {
    nlohmann::json written;
    int rc = WriteReportSet(g, report_req, {}, [&](const std::string& line) {
      if (!g.json) std::cout << line << "\n";
    }, &written);
    if (rc == 0 && g.json) std::cout << written.dump(2) << "\n";
    return rc;
  }
  if (*doctor) {
    SwarmRuntime swarm(&docker);
    auto findings = target_findings;
    for (auto& f : RunDoctor({g.recipes, g.state, g.artifacts, &reach}, &swarm, &docker)) {
      findings.push_back(std::move(f));
    }
    std::cout << (g.json ? DoctorJson(findings).dump(2) + "\n" : DoctorText(findings));
    return DoctorExitCode(findings);
  }

  RunOptions base;
  base.events = &events;
  base.state_dir = g.state;
  base.recipes_dir = g.recipes;
  base.artifacts_dir = g.artifacts;
  base.domain_suffix = g.domain_suffix;
  base.nodes = &reach;
  base.runtime = g.runtime;
  base.pull = g.pull;
  base.abra = g.abra;
  // abra reaches the target through its own server entry: the SSH host, or "default".
  if (!target->local) base.abra.server = target->host;

  if (*serve) {
    auto secret_from = [](const std::string& file, const char* env, std::string* out) -> Status {
      if (!file.empty()) {
        std::ifstream f(file);
        if (!f) return Status::InvalidArgument("cannot read " + file);
        std::getline(f, *out);
      } else if (const char* v = std::getenv(env); v != nullptr) {
        *out = v;
      }
      while (!out->empty() && (out->back() == '\r' || out->back() == ' ')) out->pop_back();
      return Status::Ok();
    };
    if (Status s = secret_from(forge_token_file, "HARNESS_FORGE_TOKEN", &forge_opts.token); !s.ok()) {
      std::cerr << "harness: serve: --forge-token-file: " << s.message() << "\n";
      return 2;
    }
    if (Status s = secret_from(secret_file, "HARNESS_WEBHOOK_SECRET", &serve_opts.webhook_secret); !s.ok()) {
      std::cerr << "harness: serve: --webhook-secret-file: " << s.message() << "\n";
      return 2;
    }
    if (forge_opts.token.empty()) {
      std::cerr << "harness: serve: no forge token (--forge-token-file or $HARNESS_FORGE_TOKEN): results could not be posted\n";
      return 2;
    }
    if (serve_opts.webhook_secret.empty() && serve_opts.poll_repos.empty()) {
      std::cerr << "harness: serve: no webhook secret (--webhook-secret-file or $HARNESS_WEBHOOK_SECRET); without one "
                   "every delivery is refused — give one, or poll with --poll-repo\n";
      return 2;
    }
    if (serve_opts.allow_users.empty() && serve_opts.allow_orgs.empty() && !serve_opts.allow_collaborators) {
      std::cerr << "harness: serve: nobody may start runs: give --allow-user, --allow-org or --allow-collaborators\n";
      return 2;
    }
    for (const auto& r : serve_opts.poll_repos) {
      if (r.find('/') == std::string::npos || r.front() == '/' || r.back() == '/') {
        std::cerr << "harness: serve: --poll-repo '" << r << "' is not owner/name\n";
        return 2;
      }
    }
    if (!serve_opts.poll_repos.empty() && poll_seconds == 0) poll_seconds = 60;
    serve_opts.poll_interval = Duration(static_cast<int64_t>(poll_seconds) * 1000);
    auto colon = listen.rfind(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument("no port");
      serve_opts.host = listen.substr(0, colon);
      serve_opts.port = std::stoi(listen.substr(colon + 1));
      if (serve_opts.port < 0 || serve_opts.port > 65535 || serve_opts.host.empty()) throw std::out_of_range("port");
    } catch (const std::exception&) {
      std::cerr << "harness: serve: --listen '" << listen << "' is not HOST:PORT\n";
      return 2;
    }
    forge_opts.base_url = forge_url;
    forge_opts.cancel = &CancelToken::Signals();
    auto forge = NewGiteaClient(forge_opts);
    auto queue = ServeQueue::Open(g.state);
    if (!queue.ok()) {
      std::cerr << "harness: " << queue.status().message() << "\n";
      return 3;
    }
    if (int rc = reap_dead(false, false); rc != 0) {
      std::cerr << "harness: leftovers of dead runs could not be removed; not serving\n";
      return rc;
    }
    serve_opts.base = base;
    Server server(serve_opts, forge.get(), queue->get(), &docker, progress);
    Status s = server.Run(CancelToken::Signals());
    if (!s.ok()) {
      std::cerr << "harness: serve: " << s.message() << "\n";
      return 3;
    }
    return ExitCodeForSignal(CancelToken::Signals().signal());
  }

  if (*promote) {
    if (g.runtime != "swarm") {
      std::cerr << "harness: promote: the warm canon deploys with the swarm runtime; --runtime " << g.runtime
                << " is for run, sweep and triage\n";
      return 2;
    }
    if (promote_status) return PromoteStatus(g);
    if (promote_recipe.empty()) {
      std::cerr << "harness: promote: a recipe is required (or --status)\n";
      return 2;
    }
    auto reserved = LoadReservedPolicy(warm_policy);
    if (!reserved.ok()) {
      std::cerr << "harness: " << reserved.status().message() << "\n";
      return 2;
    }
    if (!promote_check) {
      if (!promote_retire) {
        // Asked for first of all, so that an older promotion still checking gives way.
        std::string wanted = promote_version;
        RecipeSources sources(g.recipes, g.state + "/git");
        auto releases = sources.Releases(promote_recipe, true, CancelToken::Signals());
        if (wanted.empty() && releases.ok() && !releases->empty()) wanted = releases->back();
        if (!wanted.empty() && releases.ok() && std::find(releases->begin(), releases->end(), wanted) != releases->end()) {
          RequestPromotion(g.state, promote_recipe, wanted);
        }
      }
      if (int rc = reap_dead(false, false); rc != 0) {
        std::cerr << "harness: leftovers of dead runs could not be removed; not deploying\n";
        return rc;
      }
      PromoteOptions p;
      p.base = base;
      p.recipe = promote_recipe;
      p.version = promote_version;
      p.policy = *reserved;
      p.force = promote_force;
      if (promote_retire) {
        Status s = RetireWarm(p, &docker, progress);
        if (!s.ok()) std::cerr << "harness: " << s.message() << "\n";
        return s.ok() ? 0 : s.code() == Status::Code::kInvalidArgument ? 2 : 3;
      }
      PromoteOutcome o = Promote(p, &docker, progress);
      if (g.json) {
        std::cout << nlohmann::json{{"schema", "recipe-harness/promotion/v1"}, {"recipe", promote_recipe},
                                    {"result", o.result}, {"from", o.from}, {"to", o.to}, {"message", o.message},
                                    {"runs", o.runs}, {"exit_code", o.exit_code}}.dump(2)
                  << "\n";
      } else {
        std::cout << promote_recipe << ": " << o.result << ": " << o.message << "\n";
      }
      if (CancelToken::Signals().cancelled()) return ExitCodeForSignal(CancelToken::Signals().signal());
      return o.exit_code;
    }
    TempDir stage("warm-plan");
    RecipeSources sources(g.recipes, g.state + "/git");
    std::string version = promote_version;
    if (version.empty()) {
      auto releases = sources.Releases(promote_recipe, true, CancelToken::Signals());
      if (!releases.ok()) {
        std::cerr << "harness: " << releases.status().message() << "\n";
        return releases.status().code() == Status::Code::kInfra ? 3 : 2;
      }
      if (!releases->empty()) version = releases->back();
    }
    auto files = sources.Checkout(promote_recipe, version, "", CancelToken::Signals());
    auto plan = files.ok() ? PlanWarmDeploy(*files, promote_recipe, *reserved, stage.path())
                           : Result<WarmPlan>(files.status());
    if (!plan.ok()) {
      std::cerr << "harness: " << plan.status().message() << "\n";
      return plan.status().code() == Status::Code::kInfra ? 3 : 2;
    }
    auto live = ReadInventory(&docker, nullptr, Deadline::In(Duration(60000)));
    if (!live.ok()) {
      std::cerr << "harness: cannot read what runs on the Swarm: " << live.status().message() << "\n";
      return 3;
    }
    auto collisions = FindCollisions(*plan, *live, *reserved);
    if (g.json) {
      nlohmann::json services = nlohmann::json::object();
      for (const auto& s : plan->objects.services) services[s] = SwarmServiceName(plan->namespace_name, plan->objects, s);
      nlohmann::json shared = nlohmann::json::object();
      for (const auto& fp : plan->objects.footprints) {
        for (const auto& [net, names] : fp.external_aliases) {
          for (const auto& n : names) shared[net].push_back(n);
        }
      }
      nlohmann::json found = nlohmann::json::array();
      for (const auto& c : collisions) found.push_back({{"kind", c.kind}, {"what", c.what}, {"with", c.with}});
      std::cout << nlohmann::json{{"schema", "recipe-harness/warm-check/v1"}, {"recipe", plan->recipe},
                                  {"version", plan->version}, {"namespace", plan->namespace_name},
                                  {"domain", plan->domain}, {"services", services}, {"shared_names", shared},
                                  {"collisions", found}}.dump(2)
                << "\n";
    } else {
      std::cout << "recipe     " << plan->recipe << " " << plan->version << "\n"
                << "namespace  " << plan->namespace_name << "\n"
                << "domain     " << plan->domain << "\n";
      for (const auto& s : plan->objects.services) {
        std::cout << "service    " << s << " → " << SwarmServiceName(plan->namespace_name, plan->objects, s) << "\n";
      }
      Status verdict = CollisionStatus(*plan, collisions);
      std::cout << (verdict.ok() ? "clear: nothing of it collides with the policy or with what runs on the Swarm\n"
                                 : verdict.message() + "\n");
    }
    return collisions.empty() ? 0 : 2;
  }

  if (*check) {
    RunOptions o = base;
    std::tie(o.recipe, o.version) = SplitRecipeVersion(check_recipe);
    if (Status s = ValidateRecipeName(o.recipe); !s.ok()) {
      std::cerr << "harness: " << s.message() << "\n";
      return 2;
    }
    auto names = RecipeSources(g.recipes, g.state + "/git").List();
    if (!names.ok()) {
      std::cerr << "harness: " << names.status().message() << "\n";
      return 2;
    }
    if (std::find(names->begin(), names->end(), o.recipe) == names->end()) {
      std::cerr << "harness: no recipe named '" << o.recipe << "' in " << g.recipes << "\n";
      return 2;
    }
    nlohmann::json checked = CheckRecipe(o, &docker);
    std::cout << (g.json ? checked.dump(2) + "\n" : CheckText(checked));
    return checked.value("exit_code", 3);
  }

  if (*run) {
    if (!fs::is_directory(g.recipes)) {
      std::cerr << "harness: recipes folder not found: " << g.recipes << "\n";
      return 2;
    }
    RunOptions o = base;
    std::tie(o.recipe, o.version) = SplitRecipeVersion(recipe);
    o.isolated = isolated;
    o.wait_for_isolation = !no_wait;
    o.upgrade_from = upgrade_from;
    o.commit = run_commit;
    if (!run_commit.empty() && (!IsCommitId(run_commit) || !o.version.empty())) {
      std::cerr << "harness: --commit takes a full commit id (40 hex digits), and no @version beside it\n";
      return 2;
    }
    if (Status s = ValidateRecipeName(o.recipe); !s.ok()) {
      std::cerr << "harness: " << s.message() << "\n";
      return 2;
    }
    if (!o.version.empty()) {
      // Before anything runs (no command on the target for a bad version): the version is
      // well-formed, and a recipe carried in its folder has that release folder.
      if (Status s = ValidateVersion(o.version); !s.ok()) {
        std::cerr << "harness: " << s.message() << "\n";
        return 2;
      }
      RecipeSources sources(g.recipes, g.state + "/git");
      if (auto origin = sources.OriginOf(o.recipe); origin.ok() && !origin->has_value()) {
        if (auto dir = RecipeDir(g.recipes, o.recipe, o.version); !dir.ok()) {
          std::cerr << "harness: " << dir.status().message() << "\n";
          return 2;
        }
      }
    }
    if (!RecipeSources(g.recipes, g.state + "/git").Exists(o.recipe)) {
      auto names = ListRecipes(g);
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      std::cerr << "harness: no recipe named '" << o.recipe << "' in " << g.recipes
                << " (recipes: " << (known.empty() ? "none" : known) << ")\n";
      return 2;
    }
    if (int rc = reap_dead(false, false); rc != 0) {
      std::cerr << "harness: leftovers of dead runs could not be removed; not deploying\n";
      return rc;
    }
    return Report(g, {RunRecipe(o, &docker, progress)}, false);
  }

  if (*triage) {
    RecipeSources sources(g.recipes, g.state + "/git");
    if (!sources.Exists(triage_recipe)) {
      std::cerr << "harness: no recipe named '" << triage_recipe << "' in " << g.recipes << "\n";
      return 2;
    }
    for (const auto& r : load.recipes) {
      if (!sources.Exists(r)) {
        std::cerr << "harness: --load-recipes: no recipe named '" << r << "' in " << g.recipes << "\n";
        return 2;
      }
    }
    if (int rc = reap_dead(false, false); rc != 0) {
      std::cerr << "harness: leftovers of dead runs could not be removed; not deploying\n";
      return rc;
    }
    TriageOptions t;
    t.base = base;
    t.base.recipe = triage_recipe;
    t.policy = policy;
    t.load = load;
    TriageResult result = Triage(t, &docker, progress);
    Event verdict;
    verdict.kind = EventKind::kVerdict;
    verdict.recipe = result.recipe;
    verdict.status = result.verdict.kind;
    verdict.text = result.verdict.reason;
    events.OnEvent(verdict);
    if (auto ledger = Ledger::Open(g.state); ledger.ok() && !result.interrupted) {
      Status recorded = (*ledger)->RecordVerdict(
          {result.recipe, result.verdict.kind, result.verdict.confidence, result.verdict.reason, ""});
      if (!recorded.ok()) std::cerr << "harness: " << recorded.message() << "\n";
    }
    if (g.json) {
      std::cout << TriageJson(result).dump(2) << "\n";
    } else {
      std::cout << "\n" << TriageTable({result});
    }
    return TriageExitCode(result);
  }

  if (canon) {
    if (!only.empty()) {
      std::cerr << "harness: sweep --canon tests the enrolled recipes; --only is for a plain sweep\n";
      return 2;
    }
    if (g.runtime != "swarm") {
      std::cerr << "harness: sweep --canon promotes into the warm canon, which deploys with the swarm runtime\n";
      return 2;
    }
    auto reserved = LoadReservedPolicy(sweep_policy);
    if (!reserved.ok()) {
      std::cerr << "harness: " << reserved.status().message() << "\n";
      return 2;
    }
    auto ledger = Ledger::Open(g.state);
    if (!ledger.ok()) {
      std::cerr << "harness: " << ledger.status().message() << "\n";
      return 3;
    }
    RecipeSources sources(g.recipes, g.state + "/git");
    auto candidates = PlanCanonSweep(ledger->get(), &sources, g.state, CancelToken::Signals());
    if (!candidates.ok()) {
      std::cerr << "harness: " << candidates.status().message() << "\n";
      return candidates.status().code() == Status::Code::kInfra ? 3 : 2;
    }
    if (int rc = reap_dead(false, false); rc != 0) {
      std::cerr << "harness: leftovers of dead runs could not be removed; not deploying\n";
      return rc;
    }
    CanonSweepOptions c;
    c.base = base;
    c.base.sweep_id = "sweep-" + UtcStamp();
    c.policy = *reserved;
    c.jobs = jobs;
    progress("canon sweep: " + std::to_string(candidates->size()) + " enrolled recipes, " + std::to_string(jobs) + " slots");
    auto outcomes = RunCanonSweep(*candidates, c, &docker, progress);
    std::vector<RunOutcome> runs;
    for (const auto& o : outcomes) {
      if (o.cold) runs.push_back(*o.cold);
    }
    if (!runs.empty()) {
      ReportRequest req;
      req.sweep = c.base.sweep_id;
      WriteReportSet(g, req, runs, progress);
    }
    int code = CanonExitCode(outcomes);
    if (g.json) {
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
      std::cout << nlohmann::json{{"schema", "recipe-harness/canon-sweep/v1"}, {"sweep", c.base.sweep_id},
                                  {"recipes", all}, {"exit_code", code}}.dump(2)
                << "\n";
    } else {
      std::cout << "\n" << CanonTable(outcomes);
    }
    if (CancelToken::Signals().cancelled()) return ExitCodeForSignal(CancelToken::Signals().signal());
    return code;
  }

  // sweep
  std::vector<std::string> names = only.empty() ? ListRecipes(g) : only;
  if (names.empty()) {
    std::cerr << "harness: no recipes found in " << g.recipes
              << " — a sweep that tests nothing is a failure\n";
    return 2;
  }
  if (int rc = reap_dead(false, false); rc != 0) {
    std::cerr << "harness: leftovers of dead runs could not be removed; not deploying\n";
    return rc;
  }
  // Plan: weights from the scripts, expected durations from the ledger's history.
  std::vector<Job> plan;
  {
    auto ledger = Ledger::Open(g.state);
    RecipeSources plan_sources(g.recipes, g.state + "/git");
    for (size_t i = 0; i < names.size(); ++i) {
      Job j;
      j.name = names[i];
      j.index = i;
      // A script that does not load is the run's to report, in prepare, with file and line.
      if (auto script = plan_sources.Script(names[i]); script.ok()) {
        ScriptEngine probe(script->second, names[i]);
        if (auto spec = probe.Load(script->first); spec.ok()) j.weight = spec->weight;
      }
      if (ledger.ok()) {
        if (auto d = (*ledger)->ExpectedDuration(names[i]); d.ok()) j.expected = *d;
      }
      plan.push_back(j);
    }
  }
  plan = PlanOrder(plan);
  std::vector<RunOutcome> runs(names.size());
  const std::string sweep_id = "sweep-" + UtcStamp();
  Pool pool(jobs);
  progress("sweep: " + std::to_string(names.size()) + " recipes, " + std::to_string(jobs) + " slots");
  pool.Run(plan, [&](const Job& j) {
    progress("sweep: starting " + j.name + " (weight " + std::to_string(j.weight) +
             (j.expected.count() ? ", expected " + FormatDuration(j.expected) : "") + ")");
    RunOptions o = base;
    o.recipe = j.name;
    o.sweep_id = sweep_id;
    runs[j.index] = RunRecipeWithRetry(o, &docker, progress);
  }, CancelToken::Signals());
  // Recipes never started (interrupted sweep) are left out of the table.
  runs.erase(std::remove_if(runs.begin(), runs.end(), [](const RunOutcome& r) { return r.recipe.empty(); }),
             runs.end());
  // The sweep's own reports, next to the runs' folders.
  ReportRequest req;
  req.sweep = sweep_id;
  WriteReportSet(g, req, runs, progress);
  int code = Report(g, runs, true);
  if (CancelToken::Signals().cancelled()) return ExitCodeForSignal(CancelToken::Signals().signal());
  return code;
}
