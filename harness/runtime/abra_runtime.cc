#include "runtime/abra_runtime.h"

#include <cctype>

namespace harness {

Status AbraRuntime::PrepareApp(const App& app) {
  if (dir_.path().empty()) return Status::Infra("cannot create a folder for ABRA_DIR");
  env_ = app.env;
  app_ = std::make_unique<AbraApp>(&local_, options_, dir_.path(), app.recipe, app.domain);
  return app_->Checkout(app.recipe_dir, app.staged_files, app.compose_names);
}

Status AbraRuntime::CreateApp(PhaseLog* log, Deadline deadline, const CancelToken& cancel) {
  if (!app_) return Status::Infra("abra: the app was not prepared");
  return app_->New(env_, log, deadline, cancel);
}

Status AbraRuntime::CreateSecret(const Secret& secret, PhaseLog* log, Deadline deadline, const CancelToken& cancel) {
  if (!app_) return Status::Infra("abra: the app was not prepared");
  std::string upper = secret.key;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto version = env_.find("SECRET_" + upper + "_VERSION");
  return app_->InsertSecret(secret.key, version == env_.end() ? "v1" : version->second, secret.value, log, deadline,
                            cancel);
}

Status AbraRuntime::Deploy(const std::string&, const std::vector<std::string>&,
                           const std::map<std::string, std::string>&, PhaseLog* log, Deadline deadline,
                           const CancelToken& cancel) {
  if (!app_) return Status::Infra("abra: the app was not prepared");
  return app_->Deploy(log, deadline, cancel);
}

Status AbraRuntime::Teardown(const std::string& ns, PhaseLog* log, Deadline deadline) {
  Status via_abra = app_ ? app_->Remove(log, deadline) : Status::Ok();
  Status s = SwarmRuntime::Teardown(ns, log, deadline);
  if (s.ok() && !via_abra.ok()) s = via_abra.Prefixed("teardown through abra (the harness removed what it left)");
  return s;
}

}  // namespace harness
