// AbraApp: one run's app deployed through abra, Co-op Cloud's command line, the way
// operators deploy recipes (--runtime abra).
//
// abra runs on this machine, as a client of the target's Docker (like the docker CLI).
// Each run gets an ABRA_DIR of its own — a shared one races between concurrent runs —
// holding the server folder and a checkout of the recipe made from the run's staged
// compose folder (so the harness labels are in what abra deploys). Commands follow abra
// 0.13's documented command line, canonical names and long flags, always --no-input:
//   app new <recipe> --server S --domain D --no-input --chaos
//   app secret insert D <secret> <version> <file> --file --no-input
//   app deploy D --no-input --chaos --no-converge-checks --no-domain-checks
//   app undeploy D --no-input
//   app remove D --no-input --force
// Secret values go to abra as files (0600), never on a command line. abra's own
// convergence wait is skipped: the harness judges convergence itself.
//
// Thread-safety: one run's thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "proof/phase_log.h"

namespace harness {

struct AbraOptions {
  std::string binary = "abra";
  std::string server = "default";  // abra's name for the target ("default": this machine)
};

// The stack name abra gives an app: its domain with '.' turned into '_', at most 45 long.
std::string AbraStackName(const std::string& domain);

class AbraApp {
 public:
  // REQUIRES: `abra_dir` exists and belongs to this run.
  AbraApp(Executor* local, AbraOptions options, std::string abra_dir, std::string recipe, std::string domain)
      : exec_(local), options_(std::move(options)), dir_(std::move(abra_dir)), recipe_(std::move(recipe)),
        domain_(std::move(domain)) {}

  // Lays out ABRA_DIR: servers/<server>/, and recipes/<recipe>/ from the staged compose
  // files (under the recipe's own names, `compose_names`, in order), the other staged
  // files, and the recipe's .env.sample.
  Status Checkout(const std::string& recipe_dir, const std::vector<std::string>& staged_files,
                  const std::vector<std::string>& compose_names);
  // `app new`, then the run's environment (and COMPOSE_FILE) into the app's .env.
  Status New(const std::map<std::string, std::string>& env, PhaseLog* log, Deadline deadline,
             const CancelToken& cancel);
  Status InsertSecret(const std::string& secret, const std::string& version, const std::string& value,
                      PhaseLog* log, Deadline deadline, const CancelToken& cancel);
  Status Deploy(PhaseLog* log, Deadline deadline, const CancelToken& cancel);
  // `app undeploy`, then `app remove --force` (volumes, secrets, the .env). Never cancelled.
  Status Remove(PhaseLog* log, Deadline deadline);

  std::string env_file() const { return dir_ + "/servers/" + options_.server + "/" + domain_ + ".env"; }

 private:
  Status Abra(std::vector<std::string> args, PhaseLog* log, Deadline deadline, const CancelToken& cancel);
  Executor* exec_;
  AbraOptions options_;
  std::string dir_;
  std::string recipe_;
  std::string domain_;
};

}  // namespace harness
