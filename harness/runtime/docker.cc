#include "runtime/docker.h"

#include <sstream>
#include <thread>

#include "base/strings.h"

namespace harness {

Result<ProcessResult> Docker::Run(const std::vector<std::string>& args, PhaseLog* log,
                                  Deadline deadline, const CancelToken& cancel,
                                  const std::string& stdin_data,
                                  const std::vector<std::pair<std::string, std::string>>& env) {
  Command cmd;
  cmd.argv.push_back(binary_);
  cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
  cmd.stdin_data = stdin_data;
  cmd.env = env;
  cmd.deadline = deadline;
  Result<ProcessResult> r = exec_->Run(cmd, cancel);
  if (log != nullptr) log->RecordCommand(cmd, r);
  return r;
}

std::vector<Result<ProcessResult>> Docker::RunAll(const std::vector<Job>& jobs, PhaseLog* log, Deadline deadline,
                                                  const CancelToken& cancel) {
  std::vector<Command> cmds(jobs.size());
  std::vector<Result<ProcessResult>> results(jobs.size(), Status::Infra("not run"));
  std::vector<std::thread> threads;
  threads.reserve(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    cmds[i].argv.push_back(jobs[i].on->binary_);
    cmds[i].argv.insert(cmds[i].argv.end(), jobs[i].args.begin(), jobs[i].args.end());
    cmds[i].deadline = deadline;
    threads.emplace_back([&, i] { results[i] = jobs[i].on->exec_->Run(cmds[i], cancel); });
  }
  for (auto& t : threads) t.join();
  if (log != nullptr) {
    for (size_t i = 0; i < jobs.size(); ++i) log->RecordCommand(cmds[i], results[i]);
  }
  return results;
}

Status Docker::Check(const std::vector<std::string>& args, const Result<ProcessResult>& r) {
  return CheckCommand("docker " + (args.empty() ? std::string() : args[0]) +
                          (args.size() > 1 ? " " + args[1] : std::string()),
                      r);
}

Status CheckCommand(const std::string& what, const Result<ProcessResult>& r) {
  if (!r.ok()) return r.status().Prefixed(what);
  if (r->cancelled) return Status::Cancelled(what + " interrupted");
  if (r->timed_out) return Status::Timeout(what + " " + r->Describe());
  if (!r->ok()) {
    std::string err = TailLines(r->err.empty() ? r->out : r->err, 3);
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return Status::Infra(what + " failed (" + r->Describe() + "): " + err);
  }
  return Status::Ok();
}

std::vector<std::string> Docker::Lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '{') lines.push_back(line);
  }
  return lines;
}

}  // namespace harness
