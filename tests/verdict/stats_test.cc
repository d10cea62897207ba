#include "verdict/stats.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace harness {
namespace {

TEST_CASE("binomial coefficients and tails, exactly", "[verdict][stats]") {
  CHECK(LogChoose(10, 3) == Approx(std::log(120.0)));
  CHECK(LogChoose(2000, 1000) == Approx(std::lgamma(2001.0) - 2 * std::lgamma(1001.0)));
  CHECK(std::isinf(LogChoose(3, 4)));
  CHECK(BinomialUpperTail(10, 9, 0.5) == Approx(11.0 / 1024));
  CHECK(BinomialUpperTail(10, 0, 0.3) == 1);
  CHECK(BinomialUpperTail(10, 11, 0.3) == 0);
  CHECK(BinomialUpperTail(5, 5, 1.0) == 1);
  CHECK(BinomialUpperTail(5, 1, 0.0) == 0);
  CHECK(BinomialLowerTail(10, 1, 0.5) == Approx(11.0 / 1024));
  CHECK(BinomialLowerTail(4, 4, 0.2) == 1);
  // Tails far out stay accurate in log space.
  CHECK(BinomialUpperTail(200, 200, 0.5) == Approx(std::pow(0.5, 200)));
}

TEST_CASE("Clopper-Pearson bounds", "[verdict][stats]") {
  // None of n: the upper bound solves (1-p)^n = alpha; all of n: the lower p^n = alpha.
  CHECK(ClopperPearsonUpper(0, 10, 0.05) == Approx(1 - std::pow(0.05, 0.1)).epsilon(1e-9));
  CHECK(ClopperPearsonLower(9, 9, 0.01) == Approx(std::pow(0.01, 1.0 / 9)).epsilon(1e-9));
  CHECK(ClopperPearsonLower(0, 10, 0.05) == 0);
  CHECK(ClopperPearsonUpper(10, 10, 0.05) == 1);
  // The textbook two-sided 95% interval for 5 of 10.
  Interval half = ClopperPearson(5, 10, 0.05);
  CHECK(half.low == Approx(0.1871).margin(1e-4));
  CHECK(half.high == Approx(0.8129).margin(1e-4));
  // By definition, the tail at the bound is the level.
  double low = ClopperPearsonLower(3, 20, 0.005);
  CHECK(BinomialUpperTail(20, 3, low) == Approx(0.005).epsilon(1e-6));
  Interval none = ClopperPearson(0, 0, 0.01);
  CHECK(none.low == 0);
  CHECK(none.high == 1);
}

TEST_CASE("Wilson intervals", "[verdict][stats]") {
  Interval none = Wilson(0, 0);
  CHECK(none.low == 0);
  CHECK(none.high == 1);
  Interval zero = Wilson(0, 3);
  CHECK(zero.low == Approx(0).margin(1e-9));
  CHECK(zero.high == Approx(0.5615).margin(0.001));
  Interval half = Wilson(5, 10);
  CHECK(half.low == Approx(0.2366).margin(0.001));
  CHECK(half.high == Approx(0.7634).margin(0.001));
}

TEST_CASE("Fisher's exact test, one-sided", "[verdict][stats]") {
  // The lady tasting tea: all 4 of 4 picked right is 1/70; 3 of 4 is 17/70.
  CHECK(FisherGreater(0, 4, 4, 4) == Approx(1.0 / 70));
  CHECK(FisherGreater(1, 4, 3, 4) == Approx(17.0 / 70));
  // Green alone 7 times, red under load 7 times: 1 / C(14, 7).
  CHECK(FisherGreater(0, 7, 7, 7) == Approx(1.0 / 3432));
  // No difference, or the other way round: nothing to see.
  CHECK(FisherGreater(2, 4, 2, 4) == Approx(1 - 1.0 / 70 - 16.0 / 70).margin(1e-12));
  CHECK(FisherGreater(4, 4, 0, 4) == Approx(1));
  CHECK(FisherGreater(0, 0, 3, 3) == Approx(1));
  CHECK(FisherGreater(0, 3, 0, 0) == 1);
  // More failures under load, or fewer alone, can only lower p.
  CHECK(FisherGreater(1, 8, 6, 8) < FisherGreater(1, 8, 5, 8));
  CHECK(FisherGreater(0, 8, 5, 8) < FisherGreater(1, 8, 5, 8));
}

}  // namespace
}  // namespace harness
