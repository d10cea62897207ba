// `harness report` and the sweep page: a real sweep on top of a week of recorded history
// in the ledger, its reports validated, and its HTML page opened in headless Chromium
// (no console message, the page's script ran; a screenshot is kept).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "ledger/ledger.h"
#include "report/summary.h"
#include "support/e2e.h"
#include "support/schema_check.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Seven earlier nights of the canon: web and notes green, broken red for the last three.
void RecordHistory(const std::string& state, const std::string& artifacts) {
  auto ledger = Ledger::Open(state);
  REQUIRE(ledger.ok());
  for (int night = 0; night < 7; ++night) {
    std::string day = "2026-11-1" + std::to_string(night + 1);
    std::string sweep = "sweep-" + day.substr(0, 4) + day.substr(5, 2) + day.substr(8, 2) + "T020000";
    for (const std::string recipe : {"web", "notes", "broken"}) {
      RunOutcome r;
      r.run_id = sweep.substr(6) + "-" + recipe + "-hist0" + std::to_string(night);
      r.recipe = recipe;
      r.version = "1.0.0+1";
      r.namespace_name = recipe + "-hist0" + std::to_string(night);
      bool red = recipe == "broken" && night >= 4;
      r.result = red ? "failed" : "passed";
      r.exit_code = red ? 1 : 0;
      r.failed_phase = red ? "test" : "";
      r.reason = red ? "1 of 2 tests failed; first: status of /api/health: expected 200, got 404" : "";
      r.elapsed = Duration(11000 + 400 * night + (recipe == "notes" ? 1500 : 0));
      r.deployed = true;
      r.phases = {{"prepare", Status::Ok(), Duration(50)}, {"deploy", Status::Ok(), Duration(200)}};
      std::string dir = artifacts + "/" + r.run_id;
      r.artifacts = dir;
      fs::create_directories(dir);
      std::string summary = SummaryJson(r).dump(2) + "\n";
      std::ofstream(dir + "/summary.json") << summary;
      RunRecord rec;
      rec.id = r.run_id;
      rec.recipe = recipe;
      rec.namespace_name = r.namespace_name;
      rec.pid = 1;
      rec.started_at = day + "T02:00:00.000Z";
      rec.sweep = sweep;
      rec.artifacts = dir;
      REQUIRE((*ledger)->BeginRun(rec).ok());
      REQUIRE((*ledger)->EndRun(rec.id, r.version, r.result, r.exit_code, summary).ok());
    }
  }
  // Triage looked at broken after its last failure.
  REQUIRE((*ledger)->RecordVerdict({"broken", "genuine", "alone 0/3 passed", "failed alone every time",
                                    "2026-11-17T03:00:00.000Z"}).ok());
}

std::string TestArtifactsDir() {
  const char* d = std::getenv("HARNESS_TEST_ARTIFACTS");
  std::string dir = d && *d ? d : (fs::temp_directory_path() / "harness-test-artifacts").string();
  fs::create_directories(dir);
  return dir;
}

TEST_CASE("a sweep's page with history renders in headless Chromium", "[report]") {
  TempDir tmp("report-e2e");
  std::string state = tmp.path() + "/state", artifacts = tmp.path() + "/artifacts";
  RecordHistory(state, artifacts);

  auto sweep = RunHarness({"sweep", "--only", "web", "--only", "broken", "--state", state, "--artifacts",
                           artifacts, "--recipes", SourceDir() + "/recipes", "--json"},
                          Duration(600000));
  INFO(sweep.err);
  REQUIRE(sweep.exit_code == 1);  // broken fails, as every night
  auto runs = nlohmann::json::parse(sweep.out)["runs"];
  for (const auto& run : runs) {
    CHECK_THAT(LeftoversOf(run["namespace"]), NothingLeft());
    CleanUp(run["namespace"]);
  }
  std::string sweep_dir = SweepDir(artifacts);
  REQUIRE_FALSE(sweep_dir.empty());
  for (const char* f : {"junit.xml", "summary.md", "summary.json", "report.html"}) {
    CHECK(fs::exists(sweep_dir + "/" + f));
  }
  std::string invalid = ValidateArtifacts(artifacts);
  INFO(invalid);
  CHECK(invalid.empty());

  // The page knows the history: eight nights of web, broken red for four.
  std::string html = ReadAll(sweep_dir + "/report.html");
  CHECK_THAT(html, Catch::Contains("failing since 2026-11-15 02:00 (4 runs)"));
  CHECK_THAT(html, Catch::Contains("(8/8, 95% CI"));
  CHECK(html.find("notes") == std::string::npos);  // not in this sweep

  // Headless Chromium: the page renders, its script ran, and the console stayed silent
  // (a blocked fetch, a script error or a log line would all show up there).
  TempDir profile("chromium-profile");
  std::string shot = TestArtifactsDir() + "/sweep-report.png";
  fs::remove(shot);
  LocalExecutor exec;
  auto chromium = [&](const std::vector<std::string>& extra) {
    Command cmd;
    cmd.argv = {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                "--v=0", "--user-data-dir=" + profile.path(), "--window-size=1400,900"};
    cmd.argv.insert(cmd.argv.end(), extra.begin(), extra.end());
    cmd.argv.push_back("file://" + fs::absolute(sweep_dir + "/report.html").string());
    cmd.deadline = Deadline::In(Duration(120000));
    auto r = exec.Run(cmd, CancelToken::None());
    REQUIRE(r.ok());
    INFO(r->err);
    REQUIRE(r->exit_code == 0);
    std::istringstream lines(r->err);
    for (std::string line; std::getline(lines, line);) {
      INFO(line);
      CHECK(line.find(":CONSOLE") == std::string::npos);
    }
    return r->out;
  };
  chromium({"--screenshot=" + shot});
  REQUIRE(fs::exists(shot));
  CHECK(fs::file_size(shot) > 10000);
  std::string dom = chromium({"--dump-dom"});
  CHECK_THAT(dom, Catch::Contains("data-ready=\"1\""));
  CHECK_THAT(dom, Catch::Contains("<h1>Canon sweep "));
  WARN("screenshot of the sweep page: " << shot);
}

TEST_CASE("harness report renders a run, a window or a sweep from the ledger", "[report]") {
  TempDir tmp("report-cmd");
  std::string state = tmp.path() + "/state", artifacts = tmp.path() + "/artifacts";
  RecordHistory(state, artifacts);
  auto report = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"report", "--state", state, "--artifacts", artifacts});
    return RunHarness(args, Duration(60000));
  };

  // Default: the latest sweep, into its folder.
  auto latest = report({});
  INFO(latest.err);
  REQUIRE(latest.exit_code == 0);
  CHECK_THAT(latest.out, Catch::Contains(artifacts + "/sweep-20261117T020000/{junit.xml"));
  std::string md = ReadAll(artifacts + "/sweep-20261117T020000/summary.md");
  CHECK_THAT(md, Catch::Contains("broken"));
  CHECK_THAT(md, Catch::Contains("/api/health"));
  CHECK_THAT(md, Catch::Contains("| verdict: genuine |"));
  CHECK_THAT(ReadAll(artifacts + "/sweep-20261117T020000/junit.xml"),
             Catch::Contains("<property name=\"triage_verdict\" value=\"genuine\"/>"));
  auto sweep_json = nlohmann::json::parse(ReadAll(artifacts + "/sweep-20261117T020000/summary.json"));
  CHECK(sweep_json["runs"].size() == 3);

  // Machine output names the folder and the files.
  auto json = report({"--json", "-o", tmp.path() + "/json"});
  REQUIRE(json.exit_code == 0);
  auto written = nlohmann::json::parse(json.out);
  CHECK(written["out_dir"] == tmp.path() + "/json");
  CHECK(written["runs"] == 3);
  CHECK(written["files"].size() == 4);

  // One run.
  auto one = report({"--run", "20261113T020000-web-hist02", "-o", tmp.path() + "/one"});
  REQUIRE(one.exit_code == 0);
  std::string junit = ReadAll(tmp.path() + "/one/junit.xml");
  CHECK_THAT(junit, Catch::Contains("tests=\"2\""));
  CHECK(junit.find("broken") == std::string::npos);

  // A window and a recipe: broken since the 15th, three runs.
  auto window = report({"--since", "2026-11-15", "--recipe", "broken", "-o", tmp.path() + "/window"});
  REQUIRE(window.exit_code == 0);
  auto win = nlohmann::json::parse(ReadAll(tmp.path() + "/window/summary.json"));
  CHECK(win["runs"].size() == 3);
  // The page links each run's proof packets, relative to the report.
  CHECK_THAT(ReadAll(tmp.path() + "/window/report.html"),
             Catch::Contains("href=\"../artifacts/20261117T020000-broken-hist06/\""));
  CHECK(ValidateArtifacts(tmp.path() + "/window").empty());

  // Bad input: a clear message, exit 2, nothing written.
  auto bad_since = report({"--since", "last week", "-o", tmp.path() + "/bad"});
  CHECK(bad_since.exit_code == 2);
  CHECK_THAT(bad_since.err, Catch::Contains("--since 'last week': expected"));
  auto none = report({"--run", "no-such-run", "-o", tmp.path() + "/bad"});
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("no finished runs in the ledger"));
  auto both = report({"--run", "a", "--sweep", "b"});
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.err, Catch::Contains("excludes"));
  CHECK_FALSE(fs::exists(tmp.path() + "/bad"));
}

}  // namespace
}  // namespace harness::testing
