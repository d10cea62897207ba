// Subcommand: one subcommand of `harness` (run, sweep, triage, promote, reap, report, serve,
// doctor, check), and the table of them.
//
// A command registers its own flags on its CLI11 subcommand, then, once the command line
// is parsed, runs in three steps driven by Dispatch():
//   Check   validate what was asked, creating nothing (a bad name is exit 2 before any
//           Docker command)
//   (reap)  when the table says so, the leftovers of dead runs are removed first; a
//           leftover that cannot be removed refuses the command (exit 3)
//   Run     do the work, print the results, return the status the process exits with
// A command returns a Status; ExitCodeFor() (base/exit_code.h) turns it into the exit
// code. A status whose message is empty has already been reported (a results table, a
// verdict) and is not printed again.
//
// The table is the one list of commands (as git's and ninja's are): adding a command is
// one entry there and one file in cli/. Commands are created and run on main's thread.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/context.h"

namespace harness {

class Subcommand {
 public:
  virtual ~Subcommand() = default;
  // Registers the command's flags and arguments.
  virtual void AddFlags(CLI::App* sub) = 0;
  // After parsing: what the command needs, given its flags (the table's defaults).
  virtual bool NeedsTarget(bool declared) const { return declared; }
  virtual bool ReapsFirst(bool declared) const { return declared; }
  // Validation before anything changes (see above).
  virtual Status Check(Context& /*ctx*/) { return Status::Ok(); }
  virtual Status Run(Context& ctx) = 0;
};

struct CommandEntry {
  const char* name;
  const char* help;
  std::unique_ptr<Subcommand> (*make)();
  bool needs_target;        // runs commands on the target (else here, whatever --target says)
  bool reaps_first;         // removes dead runs' leftovers before it starts
  const char* reap_refusal;  // what is not done when that fails ("not deploying")
  bool tolerate_no_target;  // an unreachable target is the command's to report (doctor)
};

// Every command, in the order `harness --help` lists them.
const std::vector<CommandEntry>& CommandTable();

// Opens the context `entry` needs, then checks, reaps and runs `command`.
Status Dispatch(const CommandEntry& entry, Subcommand& command, const GlobalOptions& g);

// Removes the leftovers of dead runs (the ledger's and what carries our labels). `verbose`
// lists every namespace on stdout (the reap command); otherwise only what was removed or
// failed goes to progress. Infra when something could not be removed.
Status ReapDeadRuns(Context& ctx, bool dry_run, bool verbose);

// The commands' constructors, one per file in cli/.
std::unique_ptr<Subcommand> NewRunCommand();
std::unique_ptr<Subcommand> NewSweepCommand();
std::unique_ptr<Subcommand> NewServeCommand();
std::unique_ptr<Subcommand> NewTriageCommand();
std::unique_ptr<Subcommand> NewReapCommand();
std::unique_ptr<Subcommand> NewReportCommand();
std::unique_ptr<Subcommand> NewPromoteCommand();
std::unique_ptr<Subcommand> NewCheckCommand();
std::unique_ptr<Subcommand> NewDoctorCommand();

}  // namespace harness
