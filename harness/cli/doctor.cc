// harness doctor: Docker, the Swarm, images, disk, clock and the state folder, with fix hints.
#include <iostream>

#include "base/exit_code.h"
#include "base/json_text.h"
#include "cli/command.h"
#include "doctor/doctor.h"
#include "runtime/swarm.h"

namespace harness {
namespace {

class DoctorSubcommand final : public Subcommand {
 public:
  void AddFlags(CLI::App* /*sub*/) override {}

  Status Run(Context& ctx) override {
    std::vector<Finding> findings = ctx.target_findings;
    if (!ctx.target_error) {
      SwarmRuntime swarm(ctx.docker.get());
      for (auto& f : RunDoctor({ctx.g.recipes, ctx.g.state, ctx.g.artifacts, ctx.reach.get()}, &swarm,
                               ctx.docker.get())) {
        findings.push_back(std::move(f));
      }
    }
    std::cout << (ctx.g.json ? JsonText(DoctorJson(findings), 2) + "\n" : DoctorText(findings));
    return StatusForExitCode(DoctorExitCode(findings));
  }
};

}  // namespace

std::unique_ptr<Subcommand> NewDoctorCommand() { return std::make_unique<DoctorSubcommand>(); }

}  // namespace harness
