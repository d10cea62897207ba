// Approval tests: the JUnit XML, the Markdown summary, summary.json and the results table
// of recorded runs, compared exactly with the baselines in tests/report/baselines/.
// HARNESS_UPDATE_BASELINES=1 rewrites the baselines (then review the diff).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "report/html.h"
#include "report/junit.h"
#include "report/reports.h"
#include "report/summary.h"

namespace harness {
namespace {

RunOutcome Passed() {
  RunOutcome r;
  r.run_id = "20261126T052515-web-k3x9a2";
  r.recipe = "web";
  r.version = "1.0.0+2.4";
  r.namespace_name = "web-k3x9a2";
  r.result = "passed";
  r.exit_code = 0;
  r.deployed = true;
  r.elapsed = Duration(11600);
  r.phases = {{"prepare", Status::Ok(), Duration(80)}, {"deploy", Status::Ok(), Duration(120)},
              {"converge", Status::Ok(), Duration(3500)}, {"test", Status::Ok(), Duration(300)},
              {"teardown", Status::Ok(), Duration(7500)}};
  r.tests = {{"serves the index", Status::Ok(), Duration(100), ""},
             {"unknown path is a 404", Status::Ok(), Duration(90), ""}};
  return r;
}

RunOutcome FailedTest() {
  RunOutcome r = Passed();
  r.run_id = "20261126T052530-broken-d83wy0";
  r.recipe = "broken";
  r.version = "2.0.0+3.1";
  r.namespace_name = "broken-d83wy0";
  r.result = "failed";
  r.exit_code = 1;
  r.failed_phase = "test";
  r.reason = "1 of 2 tests failed; first: recipes/broken/recipe.lua:23: status of /api/health: expected 200, got 404";
  r.phases[3].status = Status::Failed(r.reason);
  r.tests = {{"serves the index", Status::Ok(), Duration(100), ""},
             {"health <endpoint> & \"friends\"",
              Status::Failed("recipes/broken/recipe.lua:23: status of /api/health: expected 200, got 404"),
              Duration(50), "stack traceback:\n\trecipes/broken/recipe.lua:23: in function <recipes/broken/recipe.lua:21>"}};
  return r;
}

RunOutcome ConvergeTimeout() {
  RunOutcome r;
  r.run_id = "20261126T052545-slow-boot-rg2tkv";
  r.recipe = "slow-boot";
  r.version = "0.0.0+local";
  r.namespace_name = "slow-boot-rg2tkv";
  r.result = "failed";
  r.exit_code = 1;
  r.failed_phase = "converge";
  r.reason = "did not converge within the deploy budget of 9.0s; last state: slow-boot-rg2tkv_app 0/1";
  r.elapsed = Duration(19000);
  r.phases = {{"prepare", Status::Ok(), Duration(90)}, {"deploy", Status::Ok(), Duration(60)},
              {"converge", Status::Timeout(r.reason), Duration(9300)}, {"teardown", Status::Ok(), Duration(7600)}};
  return r;
}

RunOutcome Infra() {
  RunOutcome r = Passed();
  r.run_id = "20261126T052600-slow-7vg8wv";
  r.recipe = "slow";
  r.namespace_name = "slow-7vg8wv";
  r.version = "0.0.0+local";
  r.result = "infra";
  r.exit_code = 3;
  r.failed_phase = "test";
  r.reason = "the Docker daemon restarted during the run (pid/start 3139/1234 -> 4242/9876)";
  r.tests = {{"sleeps 20 s", Status::Ok(), Duration(20050), ""}};
  return r;
}

RunOutcome Interrupted() {
  RunOutcome r = ConvergeTimeout();
  r.run_id = "20261126T052615-slow-abc123";
  r.recipe = "slow";
  r.namespace_name = "slow-abc123";
  r.result = "interrupted";
  r.exit_code = 130;
  r.failed_phase = "converge";
  r.reason = "interrupted by SIGINT";
  r.phases[2].status = Status::Cancelled(r.reason);
  return r;
}

RunOutcome Escalated() {
  RunOutcome r = FailedTest();
  r.run_id = "20261126T052630-transient-x1y2z3";
  r.recipe = "transient";
  r.namespace_name = "transient-x1y2z3";
  r.retry_of = "20261126T052620-transient-a1b2c3";
  r.transient_class = "registry-timeout";
  r.first_reason = "1 of 1 tests failed; first: status: expected \"ready\\n\", got \"pull: registry timeout\\n\"";
  r.escalated = true;
  r.reason = "failed again after one retry for the transient class 'registry-timeout' (escalated): " + r.reason;
  return r;
}

std::vector<RunOutcome> Recorded() {
  return {Passed(), FailedTest(), ConvergeTimeout(), Infra(), Interrupted(), Escalated()};
}

void Approve(const std::string& name, const std::string& actual) {
  std::string path = std::string(HARNESS_SOURCE_DIR) + "/tests/report/baselines/" + name;
  if (const char* u = std::getenv("HARNESS_UPDATE_BASELINES"); u && std::string(u) == "1") {
    std::ofstream(path) << actual;
  }
  std::ifstream f(path);
  REQUIRE(f);
  std::stringstream expected;
  expected << f.rdbuf();
  INFO("baseline " << path << " (HARNESS_UPDATE_BASELINES=1 rewrites it)");
  CHECK(actual == expected.str());
}

// The recorded runs as a report rendered later sees them: one failure triaged since.
std::vector<RunOutcome> RecordedAndTriaged() {
  std::vector<RunOutcome> runs = Recorded();
  runs[2].triage_verdict = "load-flake";
  runs[2].triage_confidence = "alone 3/3 passed; under load 0/3 passed";
  return runs;
}

TEST_CASE("JUnit XML of recorded runs", "[report]") {
  Approve("sweep.junit.xml", JUnitXml(RecordedAndTriaged(), "recipe-harness sweep"));
}

TEST_CASE("Markdown summary of recorded runs", "[report]") {
  Approve("sweep.summary.md", MarkdownSummary(RecordedAndTriaged(), "Canon sweep 20261126T052515"));
}

TEST_CASE("summary.json of recorded runs", "[report]") {
  std::string all;
  for (const auto& r : Recorded()) all += SummaryJson(r).dump(2) + "\n";
  Approve("summary.json.txt", all);
}

TEST_CASE("results table of recorded runs", "[report]") {
  Approve("results-table.txt", ResultsTable(Recorded()));
}

TEST_CASE("summary.json reads back into the outcome it describes", "[report]") {
  for (const auto& r : Recorded()) {
    INFO(r.run_id);
    nlohmann::json j = SummaryJson(r);
    auto back = RunOutcomeFromSummary(j);
    REQUIRE(back.ok());
    CHECK(SummaryJson(*back) == j);
    // Reports rendered later from the ledger are the reports the sweep wrote.
    CHECK(JUnitXml({*back}, "s") == JUnitXml({r}, "s"));
    CHECK(MarkdownSummary({*back}, "s") == MarkdownSummary({r}, "s"));
  }
  CHECK_FALSE(RunOutcomeFromSummary(nlohmann::json{{"schema", "recipe-harness/summary/v9"}}).ok());
  CHECK_FALSE(RunOutcomeFromSummary(nlohmann::json::array()).ok());
  nlohmann::json missing = SummaryJson(Passed());
  missing.erase("recipe");
  auto bad = RunOutcomeFromSummary(missing);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("malformed summary"));
}

// Eight nightly sweeps: web always green, broken red since the fifth, transient flaky with
// an escalated retry last, slow-boot interrupted once and hit by infrastructure once.
HtmlPage RecordedHistory() {
  HtmlPage page;
  page.title = "Canon sweep 20261126T052515";
  page.generated_at = "2026-11-26T06:00:00.000Z";
  std::map<std::string, std::vector<ReportRun>> by_recipe;
  for (int night = 0; night < 8; ++night) {
    std::string day = "2026-11-" + std::to_string(19 + night);
    std::string sweep = "sweep-202611" + std::to_string(19 + night) + "T052515";
    auto add = [&](RunOutcome r, const std::string& recipe, int64_t ms) {
      r.recipe = recipe;
      r.run_id = "202611" + std::to_string(19 + night) + "T0525-" + recipe;
      r.elapsed = Duration(ms);
      ReportRun rr{r, day + "T05:25:15.000Z", sweep, "../" + r.run_id};
      by_recipe[recipe].push_back(rr);
      if (night == 7) page.selected.push_back(rr);
    };
    add(Passed(), "web", 11000 + 300 * night);
    add(night >= 4 ? FailedTest() : Passed(), "broken", 12000 + 500 * (night % 3));
    add(night == 7 ? Escalated() : night % 3 == 1 ? FailedTest() : Passed(), "transient", 9000 + 700 * night);
    add(night == 2 ? Interrupted() : night == 5 ? Infra() : Passed(), "slow-boot", 20000 - 900 * night);
  }
  for (auto& [recipe, runs] : by_recipe) page.history.push_back(runs);
  page.selected[1].outcome.triage_verdict = "genuine";
  page.selected[1].outcome.triage_confidence = "alone 0/3 passed (95% CI for the pass rate 0.00-0.56)";
  return page;
}

TEST_CASE("HTML page of a sweep with history", "[report]") {
  Approve("sweep.report.html", HtmlReport(RecordedHistory()));
}

TEST_CASE("the HTML page escapes what runs report", "[report]") {
  HtmlPage page = RecordedHistory();
  page.selected.back().outcome.reason = "<script>alert(1)</script>";
  page.selected.back().outcome.recipe = "x\"><img src=x>";
  std::string html = HtmlReport(page);
  CHECK(html.find("<script>alert(1)") == std::string::npos);
  CHECK(html.find("<img src=x>") == std::string::npos);
  CHECK_THAT(html, Catch::Contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
  // Self-contained: nothing is fetched from anywhere.
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
}

TEST_CASE("a triage verdict on a failure shows in JUnit and Markdown", "[report]") {
  RunOutcome r = FailedTest();
  r.triage_verdict = "load-flake";
  r.triage_confidence = "alone 3/3 passed; under load 0/3";
  std::string xml = JUnitXml({r}, "s");
  CHECK_THAT(xml, Catch::Contains("<property name=\"triage_verdict\" value=\"load-flake\"/>"));
  CHECK_THAT(xml, Catch::Contains("<property name=\"triage_confidence\" value=\"alone 3/3 passed; under load 0/3\"/>"));
  CHECK_THAT(MarkdownSummary({r}, "s"), Catch::Contains("| verdict: load-flake |"));
  // summary.json is the run's own record: a later verdict is not written into it.
  CHECK_FALSE(SummaryJson(r).dump().find("load-flake") != std::string::npos);
}

TEST_CASE("report time windows", "[report]") {
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1795672800));  // 2026-11-26T06:00:00Z
  CHECK(*ParseSince("36h", now) == "2026-11-24T18:00:00.000Z");
  CHECK(*ParseSince("7d", now) == "2026-11-19T06:00:00.000Z");
  CHECK(*ParseSince("90m", now) == "2026-11-26T04:30:00.000Z");
  CHECK(*ParseSince("2026-11-20", now) == "2026-11-20T00:00:00.000Z");
  CHECK(*ParseSince("2026-11-20T06:30Z", now) == "2026-11-20T06:30:00.000Z");
  CHECK(*ParseSince("2026-11-20T06:30:01.5Z", now) == "2026-11-20T06:30:01.500Z");
  for (const char* bad : {"", "yesterday", "7w", "-3d", "2026-11-20 06:30", "7d; rm -rf /"}) {
    INFO(bad);
    auto r = ParseSince(bad, now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
  }
}

TEST_CASE("a retried attempt is left out of a report's selection", "[report]") {
  ReportRun first{FailedTest(), "2026-11-26T05:26:20.000Z", "s", ""};
  first.outcome.run_id = "20261126T052620-transient-a1b2c3";
  ReportRun retry{Escalated(), "2026-11-26T05:26:30.000Z", "s", ""};
  ReportRun other{Passed(), "2026-11-26T05:25:15.000Z", "s", ""};
  auto kept = WithoutRetriedAttempts({other, first, retry});
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].outcome.run_id == other.outcome.run_id);
  CHECK(kept[1].outcome.run_id == retry.outcome.run_id);
}

TEST_CASE("XML escaping", "[report]") {
  CHECK(XmlEscape("a<b>&\"c'\x01") == "a&lt;b&gt;&amp;&quot;c&apos;");
}

}  // namespace
}  // namespace harness
