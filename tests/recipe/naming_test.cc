#include "recipe/naming.h"

#include <catch2/catch.hpp>
#include <regex>
#include <set>

namespace harness {
namespace {

TEST_CASE("recipe names are validated", "[naming]") {
  CHECK(ValidateRecipeName("web").ok());
  CHECK(ValidateRecipeName("mattermost-lts").ok());
  for (const char* bad : {"", "Web", "-web", "../etc", "a b", "a;rm -rf /", "$(id)", "a`b`",
                          "x\ny", "caf\xc3\xa9", "a_b",
                          "a-very-long-recipe-name-that-goes-on-and-on-and-on"}) {
    INFO(bad);
    CHECK(ValidateRecipeName(bad).code() == Status::Code::kInvalidArgument);
  }
}

TEST_CASE("domains are validated", "[naming]") {
  CHECK(ValidateDomain("web-k3x9a2.harness.localhost").ok());
  for (const char* bad : {"", ".x", "x.", "a..b", "a b", "a;b", "A.b"}) {
    INFO(bad);
    CHECK_FALSE(ValidateDomain(bad).ok());
  }
}

TEST_CASE("namespaces are short, valid and unique", "[naming]") {
  std::set<std::string> seen;
  std::regex shape("^[a-z0-9]([a-z0-9-]{0,11})-[a-z0-9]{6}$");
  for (int i = 0; i < 1000; ++i) {
    std::string ns = NewNamespace("a-recipe-with-a-long-name");
    CHECK(std::regex_match(ns, shape));
    CHECK(ns.size() <= 19);
    seen.insert(ns);
  }
  CHECK(seen.size() == 1000);
  CHECK(NewNamespace("abcdefghijk-xyz").substr(0, 12) == "abcdefghijk-");
  CHECK(NewNamespace("abcdefghijk-xyz")[11] == '-');
  CHECK(std::regex_match(NewNamespace("abcdefghijk-xyz"), std::regex("^abcdefghijk-[a-z0-9]{6}$")));
}

TEST_CASE("run ids: a stamp and the namespace; a reused namespace's ids differ within a second", "[naming]") {
  std::regex fresh("^[0-9]{8}T[0-9]{6}-web-k3x9a2$");
  CHECK(std::regex_match(NewRunId("web-k3x9a2", true), fresh));
  std::regex reused("^[0-9]{8}T[0-9]{6}-wc-web-[a-z0-9]{4}$");
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    std::string id = NewRunId("wc-web", false);
    CHECK(std::regex_match(id, reused));
    ids.insert(id);
  }
  CHECK(ids.size() >= 49);   // 36^4 choices: a repeat among 50 is very unlikely, two all but impossible
}

TEST_CASE("derived names over Swarm's limits are refused, all listed", "[naming]") {
  ComposeObjects ok;
  ok.services = {"app", "db"};
  ok.secrets = {{"db_password", "web-k3x9a2_db_password_v1"}};
  CHECK(CheckDerivedNames("web-k3x9a2", ok).ok());

  ComposeObjects bad;
  bad.services = {std::string(60, 's')};
  bad.secrets = {{"k", "web-k3x9a2_" + std::string(60, 'x')}};
  bad.configs = {{"c", "web-k3x9a2_" + std::string(60, 'c')}};
  Status s = CheckDerivedNames("web-k3x9a2", bad);
  CHECK(s.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Contains("service name"));
  CHECK_THAT(s.message(), Catch::Contains("secret name"));
  CHECK_THAT(s.message(), Catch::Contains("config name"));
  CHECK_THAT(s.message(), Catch::Contains("limit 63"));
}

TEST_CASE("generated secrets have the declared length and charset", "[naming]") {
  std::string a = GenerateSecret(32, "alnum");
  CHECK(a.size() == 32);
  CHECK(std::regex_match(a, std::regex("^[A-Za-z0-9]{32}$")));
  std::string h = GenerateSecret(40, "hex");
  CHECK(std::regex_match(h, std::regex("^[0-9a-f]{40}$")));
  CHECK(GenerateSecret(32, "alnum") != a);
}

}  // namespace
}  // namespace harness
