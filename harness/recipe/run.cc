#include "recipe/run.h"

#include "base/cancel.h"
#include "recipe/cold_run.h"

namespace harness {

RunOutcome RunRecipeWithRetry(const RunOptions& opts, Docker* docker, const ProgressFn& progress) {
  RunOutcome first = RunRecipe(opts, docker, progress);
  if (first.result != "failed" || first.transient_class.empty() ||
      CancelToken::Signals().cancelled()) {
    return first;
  }
  if (progress) {
    progress("[" + opts.recipe + "] failure matches the declared transient class '" +
             first.transient_class + "': retrying once");
  }
  RunOutcome second = RunRecipe(opts, docker, progress);
  second.retry_of = first.run_id;
  second.first_reason = first.reason;
  second.transient_class = first.transient_class;
  if (second.result == "failed") {
    second.escalated = true;
    second.reason = "failed again after one retry for the transient class '" + first.transient_class +
                    "' (escalated): " + second.reason;
  }
  return second;
}

int CombinedExitCode(const std::vector<RunOutcome>& runs) {
  int code = 0;
  auto rank = [](int c) {
    if (c >= 128) return 4;
    if (c == 3) return 3;
    if (c == 2) return 2;
    if (c == 1) return 1;
    return 0;
  };
  for (const auto& r : runs) {
    if (rank(r.exit_code) > rank(code)) code = r.exit_code;
  }
  return code;
}

RunOutcome RunRecipe(const RunOptions& opts, Docker* docker, const ProgressFn& progress) {
  return ColdRun(opts, docker, progress).Execute();
}

}  // namespace harness
