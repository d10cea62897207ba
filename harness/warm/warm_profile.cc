#include "warm/warm_profile.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/json_text.h"

namespace harness {
namespace {

class Warm final : public DeployProfile {
 public:
  Warm(std::string recipe, WarmSite site) : recipe_(std::move(recipe)), site_(std::move(site)) {}

  std::string kind() const override { return "warm"; }
  std::string Namespace(const std::string&) const override { return site_.namespace_name; }
  std::string Domain(const std::string&, const std::string&) const override { return site_.domain; }
  std::map<std::string, std::string> Labels(const std::string&) const override { return {{"harness.warm", recipe_}}; }
  bool stays() const override { return true; }
  std::string expect_version() const override { return site_.expect_version; }

  Result<std::map<std::string, std::string>> KeptSecrets() const override {
    std::map<std::string, std::string> kept;
    auto text = ReadFile(site_.secrets_file);
    if (!text.ok()) {
      if (text.status().code() == Status::Code::kNotFound) return kept;  // the first deploy
      return text.status();
    }
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object()) return Status::Infra("unreadable secrets file " + site_.secrets_file + ": not a JSON object");
    for (const auto& [name, value] : j.items()) {
      if (value.is_string()) kept[name] = value.get<std::string>();
    }
    return kept;
  }

  Status KeepSecrets(const std::map<std::string, std::string>& values) const override {
    if (values.empty()) return Status::Ok();
    // Values of secrets this release no longer declares stay: their Swarm secrets stay too,
    // and a later release that declares them again reuses both.
    auto kept = KeptSecrets();
    if (!kept.ok()) return kept.status();
    for (const auto& [name, value] : values) (*kept)[name] = value;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(site_.secrets_file).parent_path(), ec);
    if (ec) return Status::Infra("cannot create the folder of " + site_.secrets_file + ": " + ec.message());
    return WriteFileAtomic(site_.secrets_file, JsonText(nlohmann::json(*kept)), 0600);
  }

 private:
  std::string recipe_;
  WarmSite site_;
};

}  // namespace

std::shared_ptr<const DeployProfile> WarmProfile(const std::string& recipe, WarmSite site) {
  return std::make_shared<const Warm>(recipe, std::move(site));
}

}  // namespace harness
