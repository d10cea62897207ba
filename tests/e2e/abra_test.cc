// --runtime abra against the abra stand-in (tests/support/abra-standin), on the real Swarm.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/temp_dir.h"
#include "support/e2e.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

std::string StandIn() { return SourceDir() + "/tests/support/abra-standin"; }

struct Call {
  std::string abra_dir;
  std::string words;
};

std::vector<Call> Calls(const std::string& log) {
  std::vector<Call> calls;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto tab = line.find('\t');
    if (tab != std::string::npos) calls.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return calls;
}

// Sets an environment variable for the harness processes this test starts.
struct Env {
  std::string name;
  Env(std::string n, const std::string& value) : name(std::move(n)) { setenv(name.c_str(), value.c_str(), 1); }
  ~Env() { unsetenv(name.c_str()); }
};

TEST_CASE("abra runtime: a run deploys, and tears down, through abra's command line", "[abra]") {
  TempDir tmp("harness-abra-test");
  Env log("ABRA_STANDIN_LOG", tmp.path() + "/calls");
  auto r = RunHarness({"--runtime", "abra", "--abra", StandIn(), "--recipes", FixtureRecipes(), "--artifacts",
                       tmp.path() + "/artifacts", "--plain", "run", "remote"},
                      Duration(180000));
  INFO(r.err << "\n" << r.out);
  CHECK(r.exit_code == 0);
  REQUIRE_FALSE(r.namespace_name.empty());
  const std::string& ns = r.namespace_name;
  auto calls = Calls(tmp.path() + "/calls");
  REQUIRE(calls.size() == 5);
  CHECK(calls[0].words == "app new remote --server default --domain " + ns + " --no-input --chaos");
  CHECK(calls[1].words.rfind("app secret insert " + ns + " token v1 " + calls[1].abra_dir + "/secret-token --file --no-input", 0) == 0);
  CHECK(calls[2].words == "app deploy " + ns + " --no-input --chaos --no-converge-checks --no-domain-checks");
  CHECK(calls[3].words == "app undeploy " + ns + " --no-input");
  CHECK(calls[4].words == "app remove " + ns + " --no-input --force");
  // One ABRA_DIR for the run, gone afterwards, secret file included.
  for (const auto& c : calls) CHECK(c.abra_dir == calls[0].abra_dir);
  CHECK_FALSE(fs::exists(calls[0].abra_dir));
  CHECK_THAT(LeftoversOf(ns), NothingLeft());
  CleanUp(ns);
}

TEST_CASE("abra runtime: concurrent runs each get their own ABRA_DIR", "[abra]") {
  TempDir tmp("harness-abra-test");
  Env log("ABRA_STANDIN_LOG", tmp.path() + "/calls");
  auto r = RunHarness({"--runtime", "abra", "--abra", StandIn(), "--recipes", FixtureRecipes(), "--artifacts",
                       tmp.path() + "/artifacts", "--plain", "sweep", "-j", "2", "--only", "pass", "remote"},
                      Duration(300000));
  INFO(r.err << "\n" << r.out);
  CHECK(r.exit_code == 0);
  std::set<std::string> dirs;
  std::set<std::string> news;
  for (const auto& c : Calls(tmp.path() + "/calls")) {
    dirs.insert(c.abra_dir);
    if (c.words.rfind("app new ", 0) == 0) news.insert(c.words.substr(8, c.words.find(' ', 8) - 8));
  }
  CHECK(dirs.size() == 2);
  CHECK(news == std::set<std::string>{"pass", "remote"});
}

TEST_CASE("abra runtime: abra failing to deploy is an infra failure; teardown still leaves nothing", "[abra]") {
  TempDir tmp("harness-abra-test");
  Env log("ABRA_STANDIN_LOG", tmp.path() + "/calls");
  Env fail("ABRA_STANDIN_FAIL", "app deploy");
  auto r = RunHarness({"--runtime", "abra", "--abra", StandIn(), "--recipes", FixtureRecipes(), "--artifacts",
                       tmp.path() + "/artifacts", "--plain", "run", "remote"},
                      Duration(180000));
  INFO(r.err << "\n" << r.out);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains("abra app deploy failed (exit 1): FATA app deploy failed"));
  auto calls = Calls(tmp.path() + "/calls");
  REQUIRE(calls.size() == 5);
  CHECK(calls[4].words == "app remove " + r.namespace_name + " --no-input --force");
  CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());  // the inserted secret is gone too
  CleanUp(r.namespace_name);
}

}  // namespace
}  // namespace harness::testing
