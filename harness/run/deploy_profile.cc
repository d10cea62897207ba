#include "run/deploy_profile.h"

#include "recipe/naming.h"

namespace harness {
namespace {

class Cold final : public DeployProfile {
 public:
  std::string kind() const override { return "cold"; }
  std::string Namespace(const std::string& recipe) const override { return NewNamespace(recipe); }
  std::string Domain(const std::string& ns, const std::string& suffix) const override { return ns + "." + suffix; }
  std::map<std::string, std::string> Labels(const std::string&) const override { return {}; }
  bool stays() const override { return false; }
  std::string expect_version() const override { return ""; }
  Result<std::map<std::string, std::string>> KeptSecrets() const override {
    return std::map<std::string, std::string>{};
  }
  Status KeepSecrets(const std::map<std::string, std::string>&) const override { return Status::Ok(); }
};

}  // namespace

std::shared_ptr<const DeployProfile> ColdProfile() {
  static const auto cold = std::make_shared<const Cold>();
  return cold;
}

}  // namespace harness
