#include "sched/load.h"

#include <unistd.h>

#include <iostream>
#include <sstream>

#include "base/files.h"
#include "base/temp_dir.h"
#include "base/time.h"
#include "recipe/naming.h"

namespace harness {

std::string LoadSpec::Describe() const {
  std::vector<std::string> parts;
  if (cpu > 0) parts.push_back(std::to_string(cpu) + " CPU spinner" + (cpu > 1 ? "s" : ""));
  if (io > 0) parts.push_back(std::to_string(io) + " disk writer" + (io > 1 ? "s" : ""));
  if (!recipes.empty()) {
    std::string r;
    for (const auto& n : recipes) r += (r.empty() ? "" : ", ") + n;
    parts.push_back("recipes " + r + " in a loop");
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "no load" : out;
}

LoadGenerator::LoadGenerator(Docker* docker, RunOptions base, LoadSpec spec, ProgressFn progress)
    : docker_(docker),
      base_(std::move(base)),
      spec_(std::move(spec)),
      progress_(std::move(progress)),
      swarm_(docker) {}

LoadGenerator::~LoadGenerator() {
  if (!started_) return;
  // Only when its owner left without Stop(): nobody will read a status, so it is said here.
  if (Status s = Stop(); !s.ok()) {
    std::string line = "load: " + s.message() + " (the ledger has it: `harness reap` removes what is left)";
    if (progress_) {
      progress_(line);
    } else {
      std::cerr << "harness: " << line << "\n";
    }
  }
}

bool HogStopped(const ConvergeSnapshot& snap) {
  if (!snap.containers.empty()) return false;
  for (const auto& t : snap.tasks) {
    for (const char* busy :
         {"New", "Pending", "Assigned", "Accepted", "Preparing", "Ready", "Starting", "Running"}) {
      if (t.current_state.rfind(busy, 0) == 0) return false;
    }
  }
  return true;
}

bool HogRunning(const ConvergeSnapshot& snap, const std::vector<std::string>& expected) {
  ConvergeSnapshot current = snap;
  std::erase_if(current.tasks, [](const TaskState& t) { return t.desired_state != "Running"; });
  return JudgeConvergence(current, expected).kind == Judgement::Kind::kConverged;
}

std::vector<std::string> LoadGenerator::HogServices() const {
  std::vector<std::string> services;
  if (spec_.cpu > 0) services.push_back(ns_ + "_cpu");
  if (spec_.io > 0) services.push_back(ns_ + "_io");
  return services;
}

Status LoadGenerator::DeployHog() {
  ns_ = NewNamespace("load");
  run_id_ = IsoTime(std::chrono::system_clock::now()).substr(0, 19) + "-" + ns_;
  auto lock = RunLock::Acquire(base_.state_dir, ns_);
  if (!lock.ok()) return lock.status();
  lock_ = std::make_unique<RunLock>(std::move(*lock));
  auto ledger = Ledger::Open(base_.state_dir);
  if (!ledger.ok()) return ledger.status();
  ledger_ = std::move(*ledger);
  RunRecord rec;
  rec.id = run_id_;
  rec.recipe = "(load)";
  rec.namespace_name = ns_;
  rec.pid = getpid();
  if (Status s = ledger_->BeginRun(rec); !s.ok()) return s;

  // The hog stack's compose file; every object carries the harness labels.
  std::string label_lines = "harness.run: \"" + run_id_ + "\"\n" + "harness.namespace: \"" + ns_ +
                            "\"\n" + "harness.owner: \"" + ThisProcessOwner() + "\"\n";
  auto indent = [&](int spaces) {
    std::string out, line;
    std::istringstream in(label_lines);
    while (std::getline(in, line)) out += std::string(spaces, ' ') + line + "\n";
    return out;
  };
  std::string compose = "version: \"3.8\"\nservices:\n";
  auto add = [&](const std::string& name, int replicas, const std::string& script) {
    compose += "  " + name + ":\n";
    compose += "    image: " + spec_.image + "\n";
    compose += "    command: [\"sh\", \"-c\", \"" + script + "\"]\n";
    compose += "    labels:\n" + indent(6);
    compose += "    deploy:\n      replicas: " + std::to_string(replicas) + "\n";
    compose += "      endpoint_mode: dnsrr\n      labels:\n" + indent(8);
  };
  if (spec_.cpu > 0) add("cpu", spec_.cpu, "trap 'exit 0' TERM INT; while :; do :; done");
  if (spec_.io > 0) {
    add("io", spec_.io,
        "trap 'exit 0' TERM INT; while :; do dd if=/dev/zero of=/tmp/load bs=1M count=64 "
        "conv=fsync 2>/dev/null; rm -f /tmp/load; done");
  }
  compose += "networks:\n  default:\n    labels:\n" + indent(6);
  TempDir dir("harness-load");
  if (dir.path().empty()) return Status::Infra("load: cannot create a temporary folder for the load's compose file");
  std::string file = dir.path() + "/compose.yml";
  if (Status s = WriteFileAtomic(file, compose); !s.ok()) return s;
  if (Status s = ledger_->PlanResource(run_id_, "stack", ns_); !s.ok()) return s;
  if (progress_) progress_("load: deploying " + spec_.Describe() + " as " + ns_);
  return swarm_.DeployStack(ns_, {file}, nullptr, Deadline::In(Duration(120000)),
                            CancelToken::Signals());
}

Status LoadGenerator::ScaleHog(bool on) {
  std::vector<std::string> args = {"service", "scale", "--detach"};
  if (spec_.cpu > 0) args.push_back(ns_ + "_cpu=" + std::to_string(on ? spec_.cpu : 0));
  if (spec_.io > 0) args.push_back(ns_ + "_io=" + std::to_string(on ? spec_.io : 0));
  // Scaling down is never cancelled: an alone run, or the teardown, comes next.
  auto r = docker_->Run(args, nullptr, Deadline::In(Duration(60000)),
                        on ? CancelToken::Signals() : CancelToken::None());
  return Docker::Check(args, r);
}

Status LoadGenerator::WaitForHog(bool on, Deadline deadline) {
  const std::vector<std::string> expected = HogServices();
  // Pausing is not cancelled by a signal: an alone run, or the teardown, comes next.
  const CancelToken& cancel = on ? CancelToken::Signals() : CancelToken::None();
  std::unique_ptr<ChangeWatch> watch = swarm_.Watch(ns_, deadline);
  while (true) {
    if (cancel.cancelled()) return Status::Cancelled("interrupted");
    auto snap = swarm_.Observe(ns_, expected, nullptr, deadline, cancel);
    if (snap.ok()) {
      if (on && HogRunning(*snap, expected)) return Status::Ok();
      if (!on && HogStopped(*snap)) return Status::Ok();
    }
    if (deadline.passed()) {
      return Status::Infra("the load stack " + ns_ + (on ? " did not start" : " did not stop") +
                           " within " + FormatDuration(Duration(120000)));
    }
    watch->Wait(Duration(1000), cancel);
  }
}

void LoadGenerator::StartLoops() {
  stop_ = false;
  for (const auto& recipe : spec_.recipes) {
    loops_.emplace_back([this, recipe] {
      while (!stop_ && !CancelToken::Signals().cancelled()) {
        RunOptions o = base_;
        o.recipe = recipe;
        o.isolated = false;
        RunRecipe(o, docker_, nullptr);
      }
    });
  }
}

void LoadGenerator::StopLoops() {
  stop_ = true;
  for (auto& t : loops_) t.join();
  loops_.clear();
}

Status LoadGenerator::Start() {
  if (on_) return Status::Ok();
  if (spec_.cpu > 0 || spec_.io > 0) {
    if (!started_) {
      started_ = true;  // from here on Stop() removes whatever was made
      if (Status s = DeployHog(); !s.ok()) return s;
    } else {
      if (progress_) progress_("load: scaling " + ns_ + " back up");
      if (Status s = ScaleHog(true); !s.ok()) return s;
    }
    if (Status s = WaitForHog(true, Deadline::In(Duration(120000))); !s.ok()) return s;
  }
  started_ = true;
  on_ = true;
  StartLoops();
  if (progress_) progress_("load: running (" + spec_.Describe() + ")");
  return Status::Ok();
}

Status LoadGenerator::Pause() {
  if (!on_) return Status::Ok();
  on_ = false;
  StopLoops();
  if (ns_.empty()) return Status::Ok();
  if (progress_) progress_("load: pausing " + ns_ + " (scaled to 0)");
  if (Status s = ScaleHog(false); !s.ok()) return s;
  return WaitForHog(false, Deadline::In(Duration(120000)));
}

Status LoadGenerator::Stop() {
  if (!started_) return Status::Ok();
  started_ = false;
  on_ = false;
  StopLoops();
  Status s;
  if (!ns_.empty()) {
    if (progress_) progress_("load: removing " + ns_);
    s = swarm_.Teardown(ns_, nullptr, Deadline::In(Duration(180000)));
    if (s.ok() && ledger_) s = ledger_->MarkRunResourcesRemoved(run_id_);
    if (ledger_) {
      Status ended = ledger_->EndRun(run_id_, "", s.ok() ? "passed" : "infra", s.ok() ? 0 : 3);
      if (!ended.ok()) {
        ended = ended.Prefixed("the ledger did not record the end of the load's run " + run_id_);
        s = s.ok() ? ended : s.WithMessage(s.message() + "; and " + ended.message());
      }
    }
    lock_.reset();
    ns_.clear();
  }
  return s;
}

}  // namespace harness
