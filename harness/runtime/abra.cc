#include "runtime/abra.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/files.h"
#include "base/scope_guard.h"
#include "runtime/docker.h"

namespace harness {
namespace fs = std::filesystem;

std::string AbraStackName(const std::string& domain) {
  std::string s = domain;
  for (char& c : s) {
    if (c == '.') c = '_';
  }
  return s.substr(0, 45);
}

Status AbraApp::Checkout(const std::string& recipe_dir, const std::vector<std::string>& staged_files,
                         const std::vector<std::string>& compose_names) {
  if (staged_files.size() != compose_names.size() || staged_files.empty()) {
    return Status::InvalidArgument("abra checkout: one staged file per compose file is needed");
  }
  std::error_code ec;
  const std::string checkout = dir_ + "/recipes/" + recipe_;
  for (const std::string& dir : {dir_ + "/servers/" + options_.server, checkout}) {
    fs::create_directories(dir, ec);
    if (ec) return Status::Infra("cannot lay out ABRA_DIR " + dir_ + ": " + dir + ": " + ec.message());
  }
  // The staged folder holds the compose files (renamed back) and the files of configs and
  // secrets, which the compose files name relative to themselves.
  fs::path stage = fs::path(staged_files.front()).parent_path();
  auto staged = ListFolder(stage.string());
  if (!staged.ok()) return staged.status().Prefixed("the staged files for the abra checkout");
  for (const std::string& file : *staged) {
    const fs::path from = stage / file;
    std::string name = file;
    for (size_t i = 0; i < staged_files.size(); ++i) {
      if (from == fs::path(staged_files[i])) name = compose_names[i];
    }
    fs::create_directories(fs::path(checkout + "/" + name).parent_path(), ec);
    if (!ec) fs::copy_file(from, checkout + "/" + name, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::Infra("cannot copy " + from.string() + " into the abra checkout: " + ec.message());
  }
  if (fs::exists(recipe_dir + "/.env.sample", ec)) {
    fs::copy_file(recipe_dir + "/.env.sample", checkout + "/.env.sample", fs::copy_options::overwrite_existing, ec);
  }
  if (ec) return Status::Infra("cannot copy .env.sample into the abra checkout: " + ec.message());
  return Status::Ok();
}

Status AbraApp::Abra(std::vector<std::string> args, PhaseLog* log, Deadline deadline, const CancelToken& cancel) {
  Command cmd;
  cmd.argv = {options_.binary};
  cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
  cmd.env = {{"ABRA_DIR", dir_}, {"LC_ALL", "C"}, {"LANG", "C"}};
  cmd.deadline = deadline;
  auto r = exec_->Run(cmd, cancel);
  if (log != nullptr) log->RecordCommand(cmd, r);
  return CheckCommand("abra " + args[0] + " " + args[1], r);
}

Status AbraApp::New(const std::map<std::string, std::string>& env, PhaseLog* log, Deadline deadline,
                    const CancelToken& cancel) {
  if (Status s = Abra({"app", "new", recipe_, "--server", options_.server, "--domain", domain_, "--no-input", "--chaos"},
                      log, deadline, cancel);
      !s.ok()) {
    return s;
  }
  // The run's own values win over the sample's: appended, the last assignment counts.
  std::ofstream out(env_file(), std::ios::app);
  out << "\n# recipe-harness\n";
  for (const auto& [k, v] : env) out << k << "=" << v << "\n";
  if (!out) return Status::Infra("cannot write " + env_file());
  return Status::Ok();
}

Status AbraApp::InsertSecret(const std::string& secret, const std::string& version, const std::string& value,
                             PhaseLog* log, Deadline deadline, const CancelToken& cancel) {
  std::string file = dir_ + "/secret-" + secret;
  {
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::Infra("cannot write a secret file in " + dir_);
    bool ok = write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
    close(fd);
    if (!ok) return Status::Infra("cannot write a secret file in " + dir_);
  }
  ScopeGuard gone([&] { unlink(file.c_str()); });
  return Abra({"app", "secret", "insert", domain_, secret, version, file, "--file", "--no-input"}, log, deadline,
              cancel);
}

Status AbraApp::Deploy(PhaseLog* log, Deadline deadline, const CancelToken& cancel) {
  return Abra({"app", "deploy", domain_, "--no-input", "--chaos", "--no-converge-checks", "--no-domain-checks"}, log,
              deadline, cancel);
}

Status AbraApp::Remove(PhaseLog* log, Deadline deadline) {
  const CancelToken& never = CancelToken::None();
  Status undeploy = Abra({"app", "undeploy", domain_, "--no-input"}, log, deadline, never);
  Status remove = Abra({"app", "remove", domain_, "--no-input", "--force"}, log, deadline, never);
  if (!undeploy.ok() && !remove.ok()) return remove.Prefixed("after a failed undeploy (" + undeploy.message() + ")");
  return undeploy.ok() ? remove : undeploy;
}

}  // namespace harness
