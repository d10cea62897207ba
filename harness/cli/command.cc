#include "cli/command.h"

#include <iostream>

#include "base/json_text.h"
#include "ledger/reaper.h"
#include "runtime/swarm.h"

namespace harness {

const std::vector<CommandEntry>& CommandTable() {
  // name, help, constructor, needs a target, reaps first, refusal, an unreachable target is
  // the command's to report
  static const std::vector<CommandEntry> table = {
      {"run", "Cold-deploy one recipe, test it, tear it down", NewRunCommand, true, true, "not deploying", false},
      {"sweep", "Cold-run every recipe under --recipes", NewSweepCommand, true, true, "not deploying", false},
      {"serve", "Receive !testme from Gitea/Forgejo and test pull requests", NewServeCommand, true, true,
       "not serving", false},
      {"triage", "Re-run a failing recipe alone and under load until a verdict is decisive", NewTriageCommand, true,
       true, "not deploying", false},
      {"reap", "Remove the leftovers of dead runs (found in the ledger and by label)", NewReapCommand, true, false, "",
       false},
      {"report", "Write junit.xml, summary.md, summary.json and report.html from the ledger", NewReportCommand, false,
       false, "", false},
      {"promote", "Warm canon: advance a recipe's long-lived deploy to a newer release that passed a cold run",
       NewPromoteCommand, true, true, "not deploying", false},
      {"check", "Show everything a run of a recipe would decide and need, creating nothing", NewCheckCommand, true,
       false, "", false},
      {"doctor", "Check Docker, the Swarm, images, disk, clock and the state folder, with fix hints",
       NewDoctorCommand, true, false, "", true},
  };
  return table;
}

Status Dispatch(const CommandEntry& entry, Subcommand& command, const GlobalOptions& g) {
  auto ctx = OpenContext(g, {command.NeedsTarget(entry.needs_target), entry.tolerate_no_target});
  if (!ctx.ok()) return ctx.status();
  if (Status s = command.Check(**ctx); !s.ok()) return s;
  if (command.ReapsFirst(entry.reaps_first)) {
    if (Status s = ReapDeadRuns(**ctx, false, false); !s.ok()) {
      std::string what = s.message().empty() ? "" : s.message() + "\n";
      return Status::Infra(what + "harness: leftovers of dead runs could not be removed; " + entry.reap_refusal);
    }
  }
  return command.Run(**ctx);
}

Status ReapDeadRuns(Context& ctx, bool dry_run, bool verbose) {
  auto ledger = OpenLedger(ctx.g);
  if (!ledger.ok()) return ledger.status();
  SwarmRuntime swarm(ctx.docker.get());
  swarm.set_nodes(ctx.reach.get());
  swarm.UseCheckedApi(ctx.api != nullptr ? ctx.api->Get() : nullptr);
  Reaper reaper(ledger->get(), &swarm, ctx.g.state);
  auto outcomes = reaper.Reap(dry_run, Deadline::In(Duration(600000)));
  if (!outcomes.ok()) return Status::Infra("reap: " + outcomes.status().message());
  bool failed = false;
  for (const auto& o : *outcomes) {
    if (!o.status.ok()) failed = true;
    bool interesting = o.action != "skipped: live" && o.action != "skipped: in use" && o.action != "nothing left";
    if (verbose || interesting) {
      ctx.progress("reap " + o.namespace_name + " (" + o.source + (o.run_id.empty() ? "" : ", run " + o.run_id) +
                   "): " + o.action + (o.detail.empty() ? "" : ": " + o.detail));
    }
  }
  if (verbose && ctx.g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& o : *outcomes) {
      j.push_back({{"namespace", o.namespace_name}, {"run_id", o.run_id}, {"source", o.source},
                   {"action", o.action}, {"detail", o.detail}});
    }
    std::cout << JsonText(j, 2) << "\n";
  } else if (verbose) {
    std::cout << (outcomes->empty() ? "nothing to reap\n" : "");
    for (const auto& o : *outcomes) {
      std::cout << o.namespace_name << "  " << o.action << (o.detail.empty() ? "" : "  " + o.detail) << "\n";
    }
  }
  // What failed is in the lines above.
  return failed ? Status::Infra("") : Status::Ok();
}

}  // namespace harness
