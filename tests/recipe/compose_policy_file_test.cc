// The compose policy's values: the operator's policy file, the allow-list, the rule ids and
// how a finding reads.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "base/temp_dir.h"
#include "recipe/compose_policy.h"

namespace harness {
namespace {

Result<ComposePolicy> LoadText(const TempDir& dir, const std::string& text) {
  std::string path = dir.path() + "/compose-policy.yml";
  std::ofstream(path) << text;
  return LoadComposePolicy(path);
}

TEST_CASE("the policy file: registries and per-recipe allowances", "[policy]") {
  TempDir dir("policy-file");
  SECTION("a missing file is the default policy") {
    auto policy = LoadComposePolicy(dir.path() + "/none.yml");
    REQUIRE(policy.ok());
    CHECK(policy->allowed_registries.empty());
    CHECK(policy->allow.empty());
  }
  SECTION("an empty file is the default policy") {
    auto policy = LoadText(dir, "# nothing allowed yet\n");
    REQUIRE(policy.ok());
    CHECK(policy->allow.empty());
  }
  SECTION("a full file") {
    auto policy = LoadText(dir,
                           "registries:\n  - docker.io\n  - 127.0.0.1:5000\n  - Index.Docker.IO\n"
                           "allow:\n  backup-bot:\n    - docker-socket\n  monitoring:\n"
                           "    - node-exporter:host-pid\n    - registry\n");
    INFO(policy.status().ToString());
    REQUIRE(policy.ok());
    CHECK(policy->allowed_registries == std::vector<std::string>{"docker.io", "127.0.0.1:5000", "docker.io"});
    CHECK(policy->allow.at("backup-bot") == std::set<std::string>{"docker-socket"});
    CHECK(policy->allow.at("monitoring") == std::set<std::string>{"node-exporter:host-pid", "registry"});
    PolicyFinding pid{"compose.yml", "node-exporter", "pid", "host", "host-pid"};
    CHECK(policy->Allows("monitoring", pid));
    pid.service = "grafana";
    CHECK_FALSE(policy->Allows("monitoring", pid));
    CHECK_FALSE(policy->Allows("backup-bot", pid));
    CHECK(policy->Allows("backup-bot", {"compose.yml", "", "volumes.x.driver_opts", "o=bind", "docker-socket"}));
  }
  SECTION("malformed files are errors naming file and line") {
    struct Case {
      const char* text;
      const char* message;  // after "<path>:"
    };
    const Case cases[] = {
        {"allow:\n  gitea: [privileged\n", "3: "},
        {"allow:\n  gitea:\n    - privilegd\n", "3: 'privilegd' is not a rule id"},
        {"allow:\n  gitea:\n    - :privileged\n", "3: ':privileged' is not a rule id"},
        {"allow:\n  gitea: privileged\n", "2: allow.gitea is not a list of rule ids"},
        {"registries: [docker.io]\nalow: {}\n", "2: unknown key 'alow' (registries, allow)"},
        {"registries:\n  - ghcr.io/org\n", "2: 'ghcr.io/org' is not a registry"},
        {"registries: docker.io\n", "1: 'registries' is not a list"},
        {"- docker.io\n", "1: the policy is not a mapping"},
    };
    for (const auto& c : cases) {
      INFO(c.text);
      auto policy = LoadText(dir, c.text);
      REQUIRE_FALSE(policy.ok());
      CHECK(policy.status().code() == Status::Code::kInvalidArgument);
      std::string prefix = dir.path() + "/compose-policy.yml:" + c.message;
      CHECK(policy.status().message().substr(0, prefix.size()) == prefix);
    }
  }
}

TEST_CASE("PolicyRuleIds lists every rule once", "[policy]") {
  const auto& ids = PolicyRuleIds();
  CHECK(ids.size() == 15);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
  CHECK(std::find(ids.begin(), ids.end(), "docker-socket") != ids.end());
  CHECK(std::find(ids.begin(), ids.end(), "foreign-object") != ids.end());
}

TEST_CASE("a finding is described on one line", "[policy]") {
  PolicyFinding f{"compose.yml", "app", "volumes", "/:/host", "docker-socket"};
  CHECK(f.Describe() == "compose.yml: service app: volumes: /:/host (docker-socket)");
  PolicyFinding top{"compose.db.yml", "", "volumes.data.driver_opts", "o=bind device=/srv", "host-bind"};
  CHECK(top.Describe() == "compose.db.yml: volumes.data.driver_opts: o=bind device=/srv (host-bind)");
  PolicyFinding multi{"compose.yml", "app", "cap_add", "SYS_ADMIN\nforged line\x1b[2J", "cap-add"};
  CHECK(multi.Describe() == "compose.yml: service app: cap_add: SYS_ADMIN\\nforged line?[2J (cap-add)");
  PolicyFinding outside{"compose.evil.yml", "", "", "resolves to /etc/passwd", "path-outside-recipe"};
  CHECK(outside.Describe() == "compose.evil.yml: resolves to /etc/passwd (path-outside-recipe)");
  PolicyFinding longer{"compose.yml", "app", "image", std::string(500, 'a'), "registry"};
  CHECK(longer.Describe().size() < 300);
  // Found by fuzzing: names come from the files as well, and were not escaped.
  PolicyFinding named{"compose.yml", "app\nforged: line", "secrets.\vpw.file", "link-out", "path-outside-recipe"};
  CHECK(named.Describe() == "compose.yml: service app\\nforged: line: secrets.?pw.file: link-out (path-outside-recipe)");
  PolicyFinding long_name{"compose.yml", std::string(5000, 's'), std::string(5000, 'k'), "x", "privileged"};
  CHECK(long_name.Describe().size() < 700);
}

}  // namespace
}  // namespace harness
