// Triage on the fixtures that behave like the field failures: each gets its documented
// verdict, and nothing is left deployed afterwards.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "support/e2e.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

struct CounterFiles {
  // The handshake and transient fixtures keep a deploy counter in the host's /tmp.
  ~CounterFiles() {
    for (const char* f : {"/tmp/recipe-harness-fixture-handshake.count",
                          "/tmp/recipe-harness-fixture-transient.count"}) {
      fs::remove(f);
    }
  }
};

nlohmann::json Triage(const std::string& recipe, const std::string& recipes_dir,
                      std::vector<std::string> extra, int* exit_code, std::string* err) {
  std::vector<std::string> args = {"triage", recipe, "--json", "--recipes", recipes_dir, "--state",
                                   (fs::temp_directory_path() / "harness-e2e-state-triage").string(),
                                   "--artifacts",
                                   (fs::temp_directory_path() / "harness-e2e-artifacts").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = RunHarness(args, Duration(900000));
  *exit_code = r.exit_code;
  *err = r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

// Every namespace the triage made (its attempts and its load stack) is gone.
void RequireAllGone(const nlohmann::json& j, const std::string& err) {
  std::vector<std::string> namespaces;
  for (const auto& a : j["attempts"]) {
    std::string id = a["run_id"];
    namespaces.push_back(id.substr(id.find('-') + 1));
  }
  std::smatch m;
  std::string rest = err;
  static const std::regex load("deploying .* as (load-[a-z0-9]+)");
  while (std::regex_search(rest, m, load)) {
    namespaces.push_back(m[1]);
    rest = m.suffix();
  }
  for (const auto& ns : namespaces) {
    Leftovers left = LeftoversOf(ns);
    INFO("left behind by " << ns << ": " << left.ToString());
    CHECK(left.empty());
    CleanUp(ns);
  }
}

TEST_CASE("triage: the genuinely broken recipe is genuine", "[triage]") {
  int code;
  std::string err;
  auto j = Triage("broken", SourceDir() + "/recipes", {}, &code, &err);
  INFO(err);
  CHECK(code == 1);
  CHECK(j["verdict"] == "genuine");
  CHECK(j["alone"]["failed"] == 3);
  CHECK(j["alone"]["passed"] == 0);
  CHECK(j["under_load"]["failed"].get<int>() + j["under_load"]["passed"].get<int>() == 0);
  CHECK_THAT(j["evidence"].get<std::string>(), Catch::Contains("/api/health"));
  CHECK_THAT(j["confidence"].get<std::string>(), Catch::Contains("0.00-0.56"));
  RequireAllGone(j, err);
}

TEST_CASE("triage: a handshake probed before its listener is intermittent", "[triage]") {
  CounterFiles counters;
  int code;
  std::string err;
  auto j = Triage("handshake", FixtureRecipes(), {}, &code, &err);
  INFO(err);
  CHECK(code == 1);
  CHECK(j["verdict"] == "intermittent");
  CHECK(j["alone"]["failed"].get<int>() >= 1);
  CHECK(j["alone"]["passed"].get<int>() >= 1);
  CHECK_THAT(j["evidence"].get<std::string>(), Catch::Contains("8081"));
  RequireAllGone(j, err);
}

TEST_CASE("triage: a declared transient failure retried once is known-transient", "[triage]") {
  CounterFiles counters;
  int code;
  std::string err;
  auto j = Triage("transient", FixtureRecipes(), {}, &code, &err);
  INFO(err);
  CHECK(code == 0);
  CHECK(j["verdict"] == "known-transient");
  bool retried = false;
  for (const auto& a : j["attempts"]) retried = retried || a.contains("retried_for");
  CHECK(retried);
  CHECK_THAT(err, Catch::Contains("retrying once"));
  RequireAllGone(j, err);
}

TEST_CASE("triage: a slow boot that misses its deploy budget under load is a load-flake", "[triage]") {
  int code;
  std::string err;
  auto j = Triage("slow-boot", FixtureRecipes(), {"--load-cpu", "8"}, &code, &err);
  INFO(err);
  CHECK(code == 1);
  CHECK(j["verdict"] == "load-flake");
  CHECK(j["failing_phase"] == "converge");
  CHECK(j["alone"]["passed"] == 3);
  CHECK(j["under_load"]["failed"].get<int>() >= 2);
  CHECK_THAT(j["direction"].get<std::string>(), Catch::Contains("deploy budget"));
  RequireAllGone(j, err);
}

TEST_CASE("triage: a restore that races its writer under load is a load-flake", "[triage]") {
  int code;
  std::string err;
  auto j = Triage("restore-race", FixtureRecipes(), {"--load-cpu", "8"}, &code, &err);
  INFO(err);
  CHECK(code == 1);
  CHECK(j["verdict"] == "load-flake");
  CHECK(j["failing_phase"] == "test");
  CHECK_THAT(j["evidence"].get<std::string>(), Catch::Contains("compared with the backup"));
  RequireAllGone(j, err);
}

TEST_CASE("an isolated run refuses to run beside another run", "[triage]") {
  auto state = (fs::temp_directory_path() / "harness-e2e-state-isolation").string();
  HarnessProcess other({"run", "slow", "--recipes", FixtureRecipes(), "--state", state});
  REQUIRE(other.WaitForLine("converge started", Duration(120000)));
  auto r = RunHarness({"run", "pass", "--isolated", "--no-wait", "--recipes", FixtureRecipes(),
                       "--state", state},
                      Duration(60000));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains("isolation refused"));
  CHECK_THAT(r.err, !Catch::Contains("deploy started"));
  other.Signal(SIGINT);
  CHECK(other.Wait(Duration(120000)) == 130);
  Leftovers left = LeftoversOf(other.namespace_name());
  CHECK(left.empty());
}

}  // namespace
}  // namespace harness::testing
