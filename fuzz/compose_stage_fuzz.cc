// Fuzz target: compose staging (runtime/compose.h) of an untrusted head's compose files,
// in the order a run takes: the compose policy first (recipe/compose_policy.h), staging
// only of files it does not refuse for reading outside the recipe.
//
// Input: up to two compose files, separated by a line "#==": compose.yml and
// compose.overlay.yml of a recipe folder of this process's own. Each is staged twice (with
// and without unique shared names) into a fresh staging folder, its images pinned, its
// derived names checked and its image references parsed. Checks that a staged file is
// YAML again with the harness labels on every service, and that no file from outside the
// recipe was copied into the staging folder.
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "base/files.h"
#include "base/temp_dir.h"
#include "fuzz_support.h"
#include "recipe/compose_policy.h"
#include "recipe/naming.h"
#include "runtime/compose.h"
#include "runtime/images.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kFiles = {"compose.yml", "compose.overlay.yml"};
const std::string kOutside = "this file is outside the recipe folder\n";
const std::string kNamespace = "pinboard-k3x9a2";
const std::string kRun = "20260101T000000-pinboard-k3x9a2";

struct Folders {
  TempDir tmp{"harness-fuzz-stage"};
  fs::path dir = fs::path(tmp.path()) / "pinboard";
  fs::path stage = fs::path(tmp.path()) / "stage";

  Folders() {
    fuzz::WriteText(dir / "entrypoint.sh", "#!/bin/sh\nexec httpd -f -p 8080\n");
    fuzz::WriteText(dir / "app.conf.tmpl", "title = {{ env \"PINBOARD_TITLE\" }}\n");
    fuzz::WriteText(dir / "configs" / "nginx.conf", "server { listen 8080; }\n");
    fuzz::WriteText(fs::path(tmp.path()) / "outside.txt", kOutside);
    std::error_code ec;
    fs::create_symlink("../outside.txt", dir / "link-out", ec);
    fs::create_symlink("loop", dir / "loop", ec);
    fs::create_symlink("entrypoint.sh", dir / "link-in", ec);
  }
  void FreshStage() const {
    std::error_code ec;
    fs::remove_all(stage, ec);
    fs::create_directories(stage);
  }
};

const std::map<std::string, std::string>& Env() {
  static const std::map<std::string, std::string> env = {
      {"STACK_NAME", "pinboard-k3x9a2"},
      {"DOMAIN", "pinboard-k3x9a2.test.local"},
      {"SECRET_DB_PASSWORD_VERSION", "v1"},
      {"ENTRYPOINT_VERSION", "v2"},
      {"EXTRA_DOMAINS", ", `www.pinboard-k3x9a2.test.local`"},
      {"EMPTY", ""}};
  return env;
}

const std::map<std::string, std::string>& Labels() {
  static const std::map<std::string, std::string> labels = {{"harness.run", kRun},
                                                            {"harness.namespace", kNamespace}};
  return labels;
}

bool HasRunLabel(const YAML::Node& labels) {
  if (labels.IsMap()) {
    for (const auto& kv : labels) {
      if (kv.first.Scalar() == "harness.run")
        return kv.second.IsScalar() && kv.second.Scalar() == kRun;
    }
  }
  if (labels.IsSequence()) {
    for (const auto& item : labels) {
      if (item.IsScalar() && item.Scalar() == "harness.run=" + kRun) return true;
    }
  }
  return false;
}

// Every staged file is YAML, a mapping, whose services carry the run's labels.
void CheckStaged(const StagedCompose& staged) {
  for (const auto& file : staged.files) {
    YAML::Node doc;
    try {
      doc = YAML::LoadFile(file);
    } catch (const YAML::Exception& e) {
      FUZZ_CHECK(false, file + " is not YAML again: " + e.what());
    }
    FUZZ_CHECK(doc.IsMap(), file);
    YAML::Node services = doc["services"];
    if (!services.IsMap()) continue;
    for (const auto& kv : services) {
      FUZZ_CHECK(kv.second.IsMap() && HasRunLabel(kv.second["labels"]) &&
                     kv.second["deploy"].IsMap() && HasRunLabel(kv.second["deploy"]["labels"]),
                 file + ": service " + kv.first.Scalar() + " without the run's labels");
    }
  }
}

void CheckNothingFromOutside(const Folders& f) {
  for (const auto& entry : fs::directory_iterator(f.stage)) {
    auto text = ReadFile(entry.path().string());
    FUZZ_CHECK(!text.ok() || *text != kOutside, entry.path().string() + " was copied from outside");
  }
}

void Stage(const Folders& f, const std::vector<std::string>& files, bool unique) {
  f.FreshStage();
  StageOptions options;
  options.unique_shared_names = unique;
  auto staged =
      StageCompose(f.dir.string(), files, Labels(), Env(), kNamespace, f.stage.string(), options);
  CheckNothingFromOutside(f);
  if (!staged.ok()) return;
  FUZZ_CHECK(staged->files.size() == files.size(), "one staged file per compose file");
  CheckStaged(*staged);
  std::map<std::string, std::string> pinned;
  for (const auto& image : staged->objects.images) {
    ImageRef ref = ParseImageRef(image);
    FUZZ_CHECK(!ref.registry.empty(), image);
    std::string digest = "sha256:" + std::string(64, 'a');
    DigestFor(image, {ref.Name() + "@" + digest});
    pinned[image] = PinnedReference(image, digest);
  }
  if (PinImages(*staged, Env(), pinned).ok()) CheckStaged(*staged);
  CheckDerivedNames(kNamespace, staged->objects).IgnoreError();  // a refusal is an answer too: only a crash is not
  for (const auto& s : staged->objects.services) SwarmServiceName(kNamespace, staged->objects, s);
}

}  // namespace
}  // namespace harness

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace harness;
  static const Folders folders;
  std::vector<std::string> parts = fuzz::SplitAt(fuzz::Text(data, size), "#==", kFiles.size());
  std::vector<std::string> files;
  for (size_t i = 0; i < kFiles.size(); ++i) {
    std::error_code ec;
    if (i >= parts.size()) {
      fs::remove(folders.dir / kFiles[i], ec);
      continue;
    }
    fuzz::WriteText(folders.dir / kFiles[i], parts[i]);
    files.push_back(kFiles[i]);
  }
  // As a run of an untrusted head: nothing the policy finds outside the recipe is staged.
  auto findings =
      CheckComposePolicy(folders.dir.string(), files, Env(), "pinboard", ComposePolicy{});
  if (!findings.ok()) return 0;
  for (const auto& f : *findings) {
    if (f.rule == "path-outside-recipe") return 0;
  }
  Stage(folders, files, false);
  Stage(folders, files, true);
  return 0;
}
