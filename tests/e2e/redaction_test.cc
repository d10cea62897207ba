// Redaction: a run whose script and app leak a generated secret everywhere they can;
// no output of the harness (artifacts, sweep reports, logs, console) contains it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/e2e.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST_CASE("a planted secret appears in no output", "[canon]") {
  const fs::path planted = "/tmp/recipe-harness-fixture-leaky.secret";
  fs::remove(planted);
  auto artifacts = fs::temp_directory_path() / "harness-e2e-redaction";
  fs::remove_all(artifacts);
  const fs::path state = artifacts / "state";
  auto r = RunHarness({"sweep", "--only", "leaky", "--recipes", FixtureRecipes(), "--artifacts",
                       artifacts.string(), "--state", state.string()},
                      Duration(300000));
  INFO(r.err);
  CHECK(r.exit_code == 1);  // its test fails, on purpose
  // Torn down all the same.
  auto namespaces = NamespacesOfRuns(artifacts.string());
  REQUIRE(namespaces.size() == 1);
  CHECK_THAT(LeftoversOf(namespaces[0]), NothingLeft());
  CleanUp(namespaces[0]);
  std::string token = Slurp(planted);
  fs::remove(planted);
  REQUIRE(token.size() == 32);

  // Reports rendered later from the ledger, and the ledger itself (its WAL included), are
  // scanned with everything else below.
  auto report = RunHarness({"report", "--state", state.string(), "--artifacts", artifacts.string(), "-o",
                            (artifacts / "report").string()},
                           Duration(60000));
  CHECK(report.exit_code == 0);
  CHECK(fs::exists(artifacts / "report" / "report.html"));
  CHECK(fs::exists(state / "ledger.sqlite"));
  int files = 0, placeholders = 0;
  for (const auto& e : fs::recursive_directory_iterator(artifacts)) {
    if (!e.is_regular_file()) continue;
    ++files;
    std::string text = Slurp(e.path());
    INFO("file " << e.path());
    CHECK(text.find(token) == std::string::npos);
    if (text.find("[redacted:api_token]") != std::string::npos) ++placeholders;
  }
  CHECK(r.out.find(token) == std::string::npos);
  CHECK(r.err.find(token) == std::string::npos);
  // The leaks really happened (and were replaced): run.log, the artifact, the service log,
  // the test's proof packet, summary.json and the sweep's reports.
  CHECK(files >= 15);
  CHECK(placeholders >= 6);
  CHECK_THAT(r.err, Catch::Contains("got \"[redacted:api_token]\""));
}

}  // namespace
}  // namespace harness::testing
