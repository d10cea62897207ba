#include "verdict/verdict.h"

#include <catch2/catch.hpp>

namespace harness {
namespace {

using O = Attempt::Outcome;

// A history in one string, a character per attempt: p/f/i an alone pass, failure or
// infrastructure failure, P/F/I the same under load. Failures carry `evidence` (the same
// fingerprint) and a run id "run-<index>".
std::vector<Attempt> History(const std::string& runs,
                             const std::string& evidence = "status of /: expected 200, got 404") {
  std::vector<Attempt> out;
  for (char c : runs) {
    if (c == ' ') continue;
    Attempt a;
    a.loaded = c == 'P' || c == 'F' || c == 'I';
    a.outcome = (c == 'p' || c == 'P') ? O::kPass : (c == 'f' || c == 'F') ? O::kFail : O::kInfra;
    a.run_id = "run-" + std::to_string(out.size());
    a.artifacts = "artifacts/run-" + std::to_string(out.size());
    a.elapsed = Duration(30000);
    if (a.outcome == O::kFail) {
      a.phase = "test";
      a.step = "serves the index";
      a.evidence = evidence;
    }
    out.push_back(a);
  }
  return out;
}

Attempt Failure(bool loaded, const std::string& step, const std::string& evidence,
                const std::string& run_id) {
  Attempt a;
  a.loaded = loaded;
  a.outcome = O::kFail;
  a.phase = "test";
  a.step = step;
  a.evidence = evidence;
  a.run_id = run_id;
  return a;
}

const TriagePolicy kPolicy;

TEST_CASE("no attempts yet: the schedule starts alone", "[verdict]") {
  auto d = Decide({}, kPolicy);
  CHECK(d.next == Next::kAlone);
  CHECK(d.verdict.kind == "undecided");
}

TEST_CASE("runs follow the interleaved schedule A L L A A L L A", "[verdict]") {
  std::vector<Next> seen;
  std::string history;
  for (int i = 0; i < 8; ++i) {
    auto d = Decide(History(history), kPolicy);
    seen.push_back(d.next);
    history += d.next == Next::kLoaded ? 'F' : 'p';  // a load-flake stays within reach
  }
  using N = Next;
  CHECK(seen == std::vector<Next>{N::kAlone, N::kLoaded, N::kLoaded, N::kAlone, N::kAlone,
                                  N::kLoaded, N::kLoaded, N::kAlone});
}

TEST_CASE("fails alone the same way 9 times in a row: genuine, not before", "[verdict]") {
  // A L, then alone only: failing alone and no better under load is no load-flake.
  auto first = Decide(History("fF"), kPolicy);
  CHECK(first.next == Next::kAlone);
  CHECK_THAT(first.verdict.reason, Catch::Contains("fails alone every time"));
  auto eight = Decide(History("fF fffffff"), kPolicy);
  CHECK(eight.next == Next::kAlone);
  auto nine = Decide(History("fF ffffffff"), kPolicy);
  REQUIRE(nine.next == Next::kStop);
  const Verdict& v = nine.verdict;
  CHECK(v.kind == "genuine");
  CHECK(v.alone.fail == 9);
  CHECK(v.test == "same-failure-in-a-row");
  CHECK(v.p_value == Approx(2 * std::pow(0.5, 9)));
  CHECK(v.p_value <= v.threshold);
  CHECK(v.threshold == Approx(0.005));
  CHECK(v.evidence == "status of /: expected 200, got 404");
  CHECK(v.representative_run == "run-0");
  REQUIRE(v.failures.size() == 1);
  CHECK(v.failures[0].alone == 9);
  CHECK(v.failures[0].loaded == 1);
  CHECK(v.failures[0].artifacts == "artifacts/run-0");
  CHECK_THAT(v.confidence,
             Catch::Contains("alone: 9 of 9 failed (100 %; 99 % interval 56 %-100 %)"));
  CHECK_THAT(v.direction, Catch::Contains("recipe or its test"));
}

TEST_CASE("the error level sets the runs genuine needs; min-decisive is a floor", "[verdict]") {
  TriagePolicy p;
  p.error_level = 0.05;  // 2 * 0.5^n <= 0.025: n = 7
  CHECK(MakePlan(p).genuine_runs == 7);
  p.min_decisive = 11;
  CHECK(MakePlan(p).genuine_runs == 11);
  p.max_alone = 10;  // out of reach: no genuine within the budget
  CHECK(MakePlan(p).genuine_runs == 0);
}

TEST_CASE("failures alone with two fingerprints: intermittent, naming both", "[verdict]") {
  std::vector<Attempt> h = {Failure(false, "a", "boom", "r0"), Failure(true, "a", "boom", "r1"),
                            Failure(true, "a", "boom", "r2"), Failure(false, "b", "bang", "r3")};
  auto d = Decide(h, kPolicy);
  REQUIRE(d.next == Next::kStop);
  CHECK(d.verdict.kind == "intermittent");
  CHECK(d.verdict.failures.size() == 2);
  CHECK_THAT(d.verdict.reason, Catch::Contains("2 different failures"));
  CHECK_THAT(d.verdict.reason, Catch::Contains(d.verdict.failures[0].id));
  CHECK_THAT(d.verdict.reason, Catch::Contains(d.verdict.failures[1].id));
}

TEST_CASE("a pass and a failure alone: intermittent at once, with the rate's interval",
          "[verdict]") {
  auto d = Decide(History("pFPf"), kPolicy);
  REQUIRE(d.next == Next::kStop);
  CHECK(d.verdict.kind == "intermittent");
  CHECK_THAT(d.verdict.reason, Catch::Contains("fails alone 1 of 2 (50 %, 99 % interval"));
  CHECK(d.verdict.fail_alone.low > 0);
  CHECK(d.verdict.fail_alone.high < 1);
}

// A recipe that fails on every second deploy (the handshake fixture), whichever deploy
// comes first: with A L L A both arms get one of each, so it is intermittent after 4 runs;
// plain alternation (A L A L) would have made it a load-flake.
TEST_CASE("a recipe failing every second deploy is intermittent, never a load-flake", "[verdict]") {
  for (int first_fails : {0, 1}) {
    std::string history;
    Decision d;
    for (int deploy = 0; deploy < 18; ++deploy) {
      d = Decide(History(history), kPolicy);
      if (d.next == Next::kStop) break;
      bool fails = deploy % 2 == first_fails;
      history += d.next == Next::kLoaded ? (fails ? 'F' : 'P') : (fails ? 'f' : 'p');
    }
    INFO("first deploy fails: " << first_fails << ", runs " << history);
    CHECK(d.verdict.kind == "intermittent");
    CHECK(history.size() == 4);
  }
}

TEST_CASE("green alone, red under load: load-flake at the first look that suffices", "[verdict]") {
  // Looks after 12, 14, 16 and 18 runs, each at 0.005/4; 6 of 6 against 0 of 6 is 1/924.
  TriagePlan plan = MakePlan(kPolicy);
  CHECK(plan.looks == 4);
  CHECK(plan.look_alpha[12] == Approx(0.00125));
  CHECK(plan.look_alpha[10] == 0);
  std::string h = "pFFp pFFp pF";
  auto ten = Decide(History(h.substr(0, 12)), kPolicy);  // 10 runs (spaces skipped)
  CHECK(ten.next != Next::kStop);
  auto d = Decide(History(h + "Fp"), kPolicy);
  REQUIRE(d.next == Next::kStop);
  CHECK(d.verdict.kind == "load-flake");
  CHECK(d.verdict.test == "fisher");
  CHECK(d.verdict.p_value == Approx(1.0 / 924));
  CHECK(d.verdict.threshold == Approx(0.00125));
  CHECK(d.verdict.failing_phase == "test");
  CHECK(d.verdict.representative_run == "run-1");  // no failure alone: the first under load
  CHECK_THAT(d.verdict.reason, Catch::Contains("Fisher's exact test (one-sided) p = 0.0011"));
}

TEST_CASE("green alone 3 of 3 then 2 failures under load is not a load-flake any more",
          "[verdict]") {
  // The old rule's mistake: a recipe failing a quarter of its runs whatever the load.
  auto d = Decide(History("pFFp p"), kPolicy);
  CHECK(d.verdict.kind == "undecided");
  CHECK(d.next != Next::kStop);
}

TEST_CASE("runs off the schedule never make a load-flake", "[verdict]") {
  // Green alone, red under load, but not interleaved: alone runs go on (a failure alone
  // would still show intermittent) until as many as "not reproduced" needs.
  auto d = Decide(History("ppp FFFFFF"), kPolicy);
  CHECK(d.next == Next::kAlone);
  CHECK_THAT(d.verdict.reason, Catch::Contains("left the interleaved schedule"));
  auto end = Decide(History("ppp FFFFFF ppppp"), kPolicy);
  REQUIRE(end.next == Next::kStop);
  CHECK(end.verdict.kind == "undecided");
  CHECK_THAT(end.verdict.reason, Catch::Contains("green alone in 8 runs"));
  CHECK_THAT(end.verdict.reason, Catch::Contains("cannot reach load-flake"));
}

TEST_CASE("without a load: alone runs only, and no load-flake", "[verdict]") {
  TriagePolicy p;
  p.with_load = false;
  auto d = Decide(History("p"), p);
  CHECK(d.next == Next::kAlone);
  CHECK_THAT(d.verdict.reason, Catch::Contains("no load"));
}

TEST_CASE("nothing fails in 8 runs: not reproduced, undecided", "[verdict]") {
  auto seven = Decide(History("pPPp pPP"), kPolicy);
  CHECK(seven.next == Next::kAlone);
  auto d = Decide(History("pPPp pPPp"), kPolicy);
  REQUIRE(d.next == Next::kStop);
  CHECK(d.verdict.kind == "undecided");
  CHECK_THAT(d.verdict.reason, Catch::Contains("not reproduced"));
  CHECK_THAT(d.verdict.needs, Catch::Contains("one failure alone would decide intermittent"));
  CHECK_THAT(d.verdict.needs, Catch::Contains("would decide load-flake"));
}

TEST_CASE("the run budget ends in undecided, saying what more would decide it", "[verdict]") {
  TriagePolicy p;
  p.max_runs = 6;
  auto d = Decide(History("fF ffff"), p);
  REQUIRE(d.next == Next::kStop);
  CHECK(d.verdict.kind == "undecided");
  CHECK_THAT(d.verdict.reason, Catch::Contains("run budget"));
  CHECK_THAT(
      d.verdict.needs,
      Catch::Contains("about 4 more run(s) alone, failing the same way, would decide genuine "
                      "(raise --max-runs to 10)"));
  // A small budget can still decide a clear load-flake: its one look comes after 10 runs.
  TriagePolicy small;
  small.max_runs = 10;
  auto lf = Decide(History("pFFp pFFp pF"), small);
  CHECK(lf.verdict.kind == "load-flake");
  TriagePolicy tiny;
  tiny.max_runs = 8;
  auto more = Decide(History("pFFp pFFp"), tiny);
  CHECK(more.verdict.kind == "undecided");
  CHECK_THAT(more.verdict.needs, Catch::Contains("about 2 more run(s), interleaved"));
  CHECK_THAT(more.verdict.needs, Catch::Contains("raise --max-runs to 10"));
}

TEST_CASE("the time budget: no run that would end after it starts", "[verdict]") {
  TriagePolicy p;
  p.max_time = Duration(100000);
  auto d = Decide(History("pFF"), p);  // 90 s spent, 30 s a run
  REQUIRE(d.next == Next::kStop);
  CHECK_THAT(d.verdict.reason, Catch::Contains("time budget"));
  CHECK(Decide(History("pFF"), p, Duration(10000)).next == Next::kAlone);
}

TEST_CASE("infrastructure failures do not count for or against the recipe", "[verdict]") {
  auto d = Decide(History("i f"), kPolicy);
  CHECK(d.next == Next::kLoaded);  // the infra attempt is re-run: the schedule goes on from A
  auto infra = Decide(History("iii"), kPolicy);
  CHECK(infra.verdict.kind == "infra");
  CHECK_THAT(infra.verdict.direction, Catch::Contains("infrastructure"));
  CHECK_THAT(infra.verdict.confidence, Catch::Contains("3 infrastructure failure(s) not counted"));
}

TEST_CASE("a declared transient failure retried once and then green: known-transient",
          "[verdict]") {
  auto h = History("pPPpp");
  h[0].transient_retry = true;
  h[0].transient_class = "registry-timeout";
  auto d = Decide(h, kPolicy);
  CHECK(d.verdict.kind == "known-transient");
  CHECK_THAT(d.verdict.direction, Catch::Contains("registry-timeout"));
  auto early = Decide(std::vector<Attempt>(h.begin(), h.begin() + 4), kPolicy);
  CHECK(early.next == Next::kAlone);  // 2 alone runs: fewer than min-decisive
}

TEST_CASE("the representative failure of a fingerprint is its first one alone", "[verdict]") {
  std::vector<Attempt> h = {History("p")[0], Failure(true, "a", "boom", "loaded-1"),
                            Failure(true, "a", "boom", "loaded-2"),
                            Failure(false, "a", "boom", "alone-3")};
  auto v = Conclude(h, kPolicy);
  CHECK(v.kind == "intermittent");
  REQUIRE(v.failures.size() == 1);
  CHECK(v.failures[0].run_id == "alone-3");
  CHECK(v.failures[0].alone == 1);
  CHECK(v.failures[0].loaded == 2);
}

TEST_CASE("concluding early: intermittent when certain, else undecided", "[verdict]") {
  CHECK(Conclude(History("pF"), kPolicy).kind == "undecided");
  CHECK_THAT(Conclude(History("pF"), kPolicy).needs, Catch::Contains("would decide"));
  CHECK(Conclude(History("fF"), kPolicy).kind == "undecided");
}

}  // namespace
}  // namespace harness
