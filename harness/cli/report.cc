// harness report: the report set of a run, a sweep or a time window, from the ledger.
#include <iostream>

#include "base/json_text.h"
#include "cli/command.h"
#include "cli/reports.h"

namespace harness {
namespace {

class ReportSubcommand final : public Subcommand {
 public:
  void AddFlags(CLI::App* sub) override {
    auto* run = sub->add_option("--run", req_.run, "One run (its id)");
    auto* sweep = sub->add_option("--sweep", req_.sweep, "One sweep (sweep-<time>; default: the latest)");
    auto* since = sub->add_option("--since", req_.since,
                                  "Runs started in a time window: an age (36h, 7d) or a date/time (2026-11-20)");
    run->excludes(sweep)->excludes(since);
    sweep->excludes(since);
    sub->add_option("--recipe", req_.recipe, "Only this recipe's runs");
    sub->add_option("-o,--out", req_.out,
                    "Folder for the reports (default: the sweep's folder, or <artifacts>/report-<time>)");
    sub->add_option("--history", req_.history, "Recent runs per recipe in the history strip and chart")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
  }

  Status Run(Context& ctx) override {
    nlohmann::json written;
    bool json = ctx.g.json;
    Status s = WriteReportSet(ctx.g, req_, {}, [json](const std::string& line) {
      if (!json) std::cout << line << "\n";
    }, &written);
    if (s.ok() && json) std::cout << JsonText(written, 2) << "\n";
    return s;
  }

 private:
  ReportRequest req_;
};

}  // namespace

std::unique_ptr<Subcommand> NewReportCommand() { return std::make_unique<ReportSubcommand>(); }

}  // namespace harness
