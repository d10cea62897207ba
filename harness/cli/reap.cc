// harness reap: remove the leftovers of dead runs.
#include "cli/command.h"

namespace harness {
namespace {

class ReapSubcommand final : public Subcommand {
 public:
  void AddFlags(CLI::App* sub) override {
    sub->add_flag("-n,--dry-run", dry_run_, "List what would be removed; remove nothing");
  }
  Status Run(Context& ctx) override { return ReapDeadRuns(ctx, dry_run_, true); }

 private:
  bool dry_run_ = false;
};

}  // namespace

std::unique_ptr<Subcommand> NewReapCommand() { return std::make_unique<ReapSubcommand>(); }

}  // namespace harness
