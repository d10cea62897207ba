#include "run/run.h"

#include "base/cancel.h"
#include "base/temp_dir.h"
#include "events/events.h"
#include "run/cold_run.h"
#include "runtime/abra_runtime.h"
#include "runtime/swarm.h"

namespace harness {

RunOutcome RunRecipeWithRetry(const RunOptions& opts, Docker* docker, const ProgressFn& progress) {
  RunOutcome first = RunRecipe(opts, docker, progress);
  if ((first.result != "failed" && first.result != "infra") || first.transient_class.empty() ||
      (opts.cancel != nullptr ? *opts.cancel : CancelToken::Signals()).cancelled()) {
    return first;
  }
  if (progress) {
    progress("[" + opts.recipe + "] failure matches the declared transient class '" +
             first.transient_class + "': retrying once");
  }
  if (opts.events) {
    Event e;
    e.kind = EventKind::kAttempt;
    e.recipe = opts.recipe;
    e.run_id = first.run_id;
    e.attempt = 2;
    e.text = "failure matches the declared transient class '" + first.transient_class + "': " + first.reason;
    opts.events->OnEvent(e);
  }
  RunOptions retry = opts;
  retry.retry_of = RunOptions::FirstAttempt{first.run_id, first.reason, first.transient_class};
  return RunRecipe(retry, docker, progress);
}

nlohmann::json CheckRecipe(RunOptions opts, Docker* docker) {
  opts.check_only = true;
  // The run's folder holds only what prepare wrote; a check keeps none of it.
  TempDir artifacts("harness-check");
  opts.artifacts_dir = artifacts.path();
  opts.events = nullptr;
  ColdRun run(opts, docker, nullptr);
  RunOutcome out = run.Execute();
  nlohmann::json j = run.check_report();
  j["schema"] = "recipe-harness/check/v1";
  j["recipe"] = out.recipe;
  j["version"] = out.version;
  j["namespace"] = out.namespace_name;
  j["exit_code"] = out.exit_code;
  j["result"] = out.exit_code == 0 ? "ready" : out.result;
  if (!out.reason.empty()) j["reason"] = out.reason;
  if (out.exit_code != 0 && j["problems"].empty()) {
    j["problems"].push_back({{"error", out.reason}, {"kind", out.result}, {"fix", ""}});
  }
  return j;
}

std::unique_ptr<Runtime> NewRuntime(const RunOptions& opts, Docker* docker) {
  std::unique_ptr<SwarmRuntime> runtime;
  if (opts.runtime == "abra") {
    runtime = std::make_unique<AbraRuntime>(docker, opts.abra);
  } else {
    runtime = std::make_unique<SwarmRuntime>(docker);
  }
  runtime->set_nodes(opts.nodes);
  runtime->UseCheckedApi(opts.api != nullptr ? opts.api->Get() : nullptr);
  return runtime;
}

RunOutcome RunRecipe(const RunOptions& opts, Docker* docker, const ProgressFn& progress) {
  return ColdRun(opts, docker, progress).Execute();
}

}  // namespace harness
