#include "verdict/verdict.h"

#include <catch2/catch.hpp>

namespace harness {
namespace {

using O = Attempt::Outcome;

Attempt A(O o, bool loaded = false, std::string phase = "test", std::string evidence = "boom") {
  Attempt a;
  a.outcome = o;
  a.loaded = loaded;
  if (o == O::kFail) {
    a.phase = std::move(phase);
    a.evidence = std::move(evidence);
  }
  return a;
}

std::vector<Attempt> Repeat(int n, const Attempt& a) { return std::vector<Attempt>(n, a); }

std::vector<Attempt> Concat(std::vector<Attempt> a, const std::vector<Attempt>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TriagePolicy kPolicy;

TEST_CASE("no attempts yet: run alone", "[verdict]") {
  auto d = Decide({}, kPolicy);
  CHECK(d.next == Next::kAlone);
  CHECK(d.verdict.kind == "undecided");
}

TEST_CASE("fails alone every time: genuine, only after enough runs", "[verdict]") {
  auto two = Decide(Repeat(2, A(O::kFail)), kPolicy);
  CHECK(two.next == Next::kAlone);  // not decisive yet
  auto three = Decide(Repeat(3, A(O::kFail, false, "test", "status of /: expected 200, got 404")), kPolicy);
  CHECK(three.next == Next::kStop);
  CHECK(three.verdict.kind == "genuine");
  CHECK(three.verdict.alone.fail == 3);
  CHECK(three.verdict.evidence == "status of /: expected 200, got 404");
  CHECK_THAT(three.verdict.confidence, Catch::Contains("alone 0/3 passed (95% CI for the pass rate 0.00-0.56)"));
  CHECK_THAT(three.verdict.direction, Catch::Contains("recipe or its test"));
  auto converge = Decide(Repeat(3, A(O::kFail, false, "converge")), kPolicy);
  CHECK_THAT(converge.verdict.direction, Catch::Contains("does not deploy or converge"));
}

TEST_CASE("mixed alone: intermittent as soon as both are seen", "[verdict]") {
  auto d = Decide({A(O::kPass), A(O::kFail)}, kPolicy);
  CHECK(d.next == Next::kStop);
  CHECK(d.verdict.kind == "intermittent");
  CHECK_THAT(d.verdict.reason, Catch::Contains("1 failed, 1 passed"));
}

TEST_CASE("green alone then red under load: load-flake", "[verdict]") {
  auto alone = Repeat(3, A(O::kPass));
  auto d0 = Decide(alone, kPolicy);
  CHECK(d0.next == Next::kLoaded);
  auto one = Decide(Concat(alone, {A(O::kFail, true, "converge", "did not converge")}), kPolicy);
  CHECK(one.next == Next::kLoaded);  // one failure under load is not yet decisive
  auto two = Decide(Concat(alone, {A(O::kFail, true, "converge"), A(O::kPass, true),
                                   A(O::kFail, true, "converge")}),
                    kPolicy);
  CHECK(two.next == Next::kStop);
  CHECK(two.verdict.kind == "load-flake");
  CHECK(two.verdict.loaded.fail == 2);
  CHECK(two.verdict.failing_phase == "converge");
  CHECK_THAT(two.verdict.direction, Catch::Contains("deploy budget"));
  CHECK_THAT(two.verdict.confidence, Catch::Contains("under load 1/3 passed"));
}

TEST_CASE("green alone and under load: undecided (not reproduced), stopping early", "[verdict]") {
  auto alone = Repeat(3, A(O::kPass));
  auto three = Decide(Concat(alone, Repeat(3, A(O::kPass, true))), kPolicy);
  CHECK(three.next == Next::kLoaded);
  auto five = Decide(Concat(alone, Repeat(5, A(O::kPass, true))), kPolicy);
  CHECK(five.next == Next::kStop);
  CHECK(five.verdict.kind == "undecided");
  CHECK_THAT(five.verdict.reason, Catch::Contains("not reproduced"));
}

TEST_CASE("one failure under load out of the maximum: undecided", "[verdict]") {
  auto loaded = Concat({A(O::kFail, true)}, Repeat(5, A(O::kPass, true)));
  auto d = Decide(Concat(Repeat(3, A(O::kPass)), loaded), kPolicy);
  CHECK(d.next == Next::kStop);
  CHECK(d.verdict.kind == "undecided");
  CHECK_THAT(d.verdict.reason, Catch::Contains("one failure under load in 6"));
}

TEST_CASE("infrastructure failures do not count for or against the recipe", "[verdict]") {
  auto d = Decide({A(O::kInfra), A(O::kFail), A(O::kFail)}, kPolicy);
  CHECK(d.next == Next::kAlone);
  CHECK_THAT(d.verdict.confidence, Catch::Contains("1 infrastructure failure(s) not counted"));
  auto infra = Decide(Repeat(3, A(O::kInfra)), kPolicy);
  CHECK(infra.verdict.kind == "infra");
  CHECK_THAT(infra.verdict.direction, Catch::Contains("infrastructure"));
}

TEST_CASE("a declared transient failure retried once and then green: known-transient", "[verdict]") {
  Attempt retried = A(O::kPass);
  retried.transient_retry = true;
  retried.transient_class = "registry_timeout";
  auto d = Decide({retried, A(O::kPass), A(O::kPass)}, kPolicy);
  CHECK(d.verdict.kind == "known-transient");
  CHECK_THAT(d.verdict.direction, Catch::Contains("registry_timeout"));
}

TEST_CASE("alone never decisive within the maximum: undecided", "[verdict]") {
  TriagePolicy p;
  p.max_alone = 2;
  auto d = Decide({A(O::kFail), A(O::kFail)}, p);
  CHECK(d.next == Next::kStop);
  CHECK(d.verdict.kind == "undecided");
}

}  // namespace
}  // namespace harness
