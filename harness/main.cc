// harness: command line → the command chosen → exit status.
//
// The commands and their flags live in cli/ (cli/command.h has the table); main parses the
// command line, runs the chosen command and turns its status into the exit code
// (base/exit_code.h).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <vector>

#include "base/cancel.h"
#include "base/exit_code.h"
#include "cli/command.h"
#include "cli/context.h"

using namespace harness;

int main(int argc, char** argv) {
  InstallSignalHandlers();
  CLI::App app{"recipe-harness: deploy, test and tear down Co-op Cloud recipes on Docker Swarm"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  AddGlobalOptions(&app, &g);

  struct Registered {
    const CommandEntry* entry;
    CLI::App* sub;
    std::unique_ptr<Subcommand> command;
  };
  std::vector<Registered> commands;
  for (const CommandEntry& entry : CommandTable()) {
    CLI::App* sub = app.add_subcommand(entry.name, entry.help);
    std::unique_ptr<Subcommand> command = entry.make();
    command->AddFlags(sub);
    commands.push_back({&entry, sub, std::move(command)});
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  for (auto& c : commands) {
    if (!c.sub->parsed()) continue;
    Status s = Dispatch(*c.entry, *c.command, g);
    if (!s.ok() && !s.message().empty()) std::cerr << "harness: " << s.message() << "\n";
    return ExitCodeFor(s);
  }
  return 2;  // unreachable: CLI11 requires one subcommand
}
