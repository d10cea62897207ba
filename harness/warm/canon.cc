#include "warm/canon.h"

#include <algorithm>
#include <sstream>

#include "base/exit_code.h"
#include "ledger/ledger.h"
#include "recipe/releases.h"
#include "report/summary.h"
#include "sched/scheduler.h"
#include "source/recipe_source.h"

namespace harness {

Result<std::vector<CanonCandidate>> PlanCanonSweep(Ledger* ledger, RecipeSources* sources, const std::string& state_dir,
                                                   const CancelToken& cancel) {
  auto warm = ledger->WarmRecords();
  if (!warm.ok()) return warm.status();
  if (warm->empty()) {
    return Status::InvalidArgument("no recipe is enrolled in the warm canon of " + state_dir +
                                   " (enrol one with `harness promote <recipe>`; is --state right?): a canon sweep "
                                   "that tests nothing is a failure");
  }
  std::vector<CanonCandidate> plan;
  for (const auto& w : *warm) {
    CanonCandidate c;
    c.recipe = w.recipe;
    c.canonical = w.version;
    auto releases = sources->Releases(w.recipe, true, cancel);
    if (!releases.ok()) {
      c.status = releases.status();
      c.state = c.status.code() == Status::Code::kInfra ? "unreachable" : "broken";
      c.detail = c.status.message();
    } else if (releases->empty() || CompareVersions(releases->back(), w.version) <= 0) {
      c.state = "nothing new";
      c.detail = releases->empty() ? "it has no releases" : "newest release " + releases->back() + " is canonical";
    } else {
      c.candidate = releases->back();
      c.state = "new";
      // A release held back (major bump, manual migration) waits for `promote --force`;
      // it is not tested again every night.
      if (!w.hold.empty()) {
        if (auto last = ledger->Promotions(w.recipe, 1);
            last.ok() && !last->empty() && last->front().to_version == c.candidate && last->front().result == "held") {
          c.state = "held";
          c.detail = w.hold;
        }
      }
    }
    plan.push_back(std::move(c));
  }
  return plan;
}

std::vector<CanonOutcome> RunCanonSweep(const std::vector<CanonCandidate>& plan, const CanonSweepOptions& opts,
                                        Docker* docker, const ProgressFn& progress) {
  std::vector<CanonOutcome> out(plan.size());
  std::vector<Job> jobs;
  auto ledger = Ledger::Open(opts.base.state_dir);
  for (size_t i = 0; i < plan.size(); ++i) {
    out[i].plan = plan[i];
    const auto& c = plan[i];
    if (c.state == "unreachable") out[i].exit_code = 3;
    if (c.state == "broken") out[i].exit_code = 2;
    if (c.state != "new") {
      progress("canon: " + c.recipe + " " + c.canonical + ": " + c.state + (c.detail.empty() ? "" : " (" + c.detail + ")"));
      continue;
    }
    progress("canon: " + c.recipe + " " + c.canonical + " → " + c.candidate);
    Job j;
    j.name = c.recipe;
    j.index = i;
    if (ledger.ok()) {
      if (auto d = (*ledger)->ExpectedDuration(c.recipe); d.ok()) j.expected = *d;
    }
    jobs.push_back(j);
  }
  Pool pool(opts.jobs);
  pool.Run(PlanOrder(jobs), [&](const Job& j) {
    CanonOutcome& o = out[j.index];
    RunOptions run = opts.base;
    run.recipe = o.plan.recipe;
    run.version = o.plan.candidate;
    o.cold = RunRecipeWithRetry(run, docker, progress);
    o.exit_code = o.cold->exit_code;
    if (o.cold->result != "passed" || CancelToken::Signals().cancelled()) return;
    PromoteOptions p;
    p.base = opts.base;
    p.recipe = o.plan.recipe;
    p.version = o.plan.candidate;
    p.policy = opts.policy;
    if (Status s = RequestPromotion(opts.base.state_dir, p.recipe, p.version); !s.ok()) {
      // The promotion still runs; only an older one could miss that it should give way.
      progress("canon: " + p.recipe + ": the promotion request could not be recorded: " + s.message());
    }
    o.promotion = Promote(p, docker, progress);
    o.exit_code = o.promotion->exit_code;
    progress("canon: " + p.recipe + " " + p.version + ": " + o.promotion->result + ": " + o.promotion->message);
  }, CancelToken::Signals());
  return out;
}

std::string CanonTable(const std::vector<CanonOutcome>& outcomes) {
  std::vector<std::vector<std::string>> rows = {{"RECIPE", "CANONICAL", "CANDIDATE", "COLD", "PROMOTION", "NOTE"}};
  size_t tested = 0, promoted = 0, failed = 0, quiet = 0;
  for (const auto& o : outcomes) {
    std::string note = o.plan.detail;
    if (o.cold && o.cold->result != "passed") note = o.cold->failed_phase + ": " + o.cold->reason;
    if (o.promotion) note = o.promotion->message;
    if (auto nl = note.find('\n'); nl != std::string::npos) note = note.substr(0, nl);
    if (note.size() > 100) note = note.substr(0, 97) + "...";
    rows.push_back({o.plan.recipe, o.plan.canonical, o.plan.candidate.empty() ? "-" : o.plan.candidate,
                    o.cold ? o.cold->result : o.plan.state, o.promotion ? o.promotion->result : "-",
                    note.empty() ? "-" : note});
    tested += o.cold ? 1 : 0;
    promoted += o.promotion && (o.promotion->result == "promoted" || o.promotion->result == "enrolled") ? 1 : 0;
    failed += o.exit_code != 0 ? 1 : 0;
    quiet += o.plan.state == "nothing new" ? 1 : 0;
  }
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  std::ostringstream os;
  for (const auto& r : rows) {
    for (size_t i = 0; i + 1 < r.size(); ++i) os << r[i] << std::string(w[i] - r[i].size() + 2, ' ');
    os << r.back() << "\n";
  }
  os << tested << " tested, " << promoted << " promoted, " << quiet << " with nothing new, " << failed << " failed\n";
  return os.str();
}

int CanonExitCode(const std::vector<CanonOutcome>& outcomes) {
  int code = 0;
  for (const auto& o : outcomes) {
    code = WorseExitCode(code, o.exit_code);
  }
  return code;
}

}  // namespace harness
