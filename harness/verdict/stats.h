// Exact small-sample statistics for triage verdicts: binomial tails, Clopper-Pearson bounds
// and Fisher's exact test, written out here rather than taken from a library so that what
// a verdict's error level rests on can be read in one page.
//
// Everything is computed in log space (lgamma, log-sum-exp) and is exact to double
// precision for the counts triage meets (up to a few hundred runs); no normal
// approximation anywhere. Wilson's score interval is kept for the reports' pass rates.
//
// Thread-safety: pure functions of their arguments; any thread.
#pragma once

namespace harness {

struct Interval {
  double low = 0, high = 1;
};

// log C(n, k); -infinity when k < 0 or k > n.
double LogChoose(int n, int k);

// P(X >= k) for X ~ Binomial(n, p). 1 when k <= 0, 0 when k > n.
double BinomialUpperTail(int n, int k, double p);
// P(X <= k) for X ~ Binomial(n, p). 1 when k >= n, 0 when k < 0.
double BinomialLowerTail(int n, int k, double p);

// Clopper-Pearson bounds for a rate of which k of n trials were hits, each one-sided at
// level `alpha` (0 < alpha < 1): the lower bound is the p at which P(X >= k) = alpha (0
// when k is 0); the upper bound the p at which P(X <= k) = alpha (1 when k is n).
// REQUIRES: 0 <= k <= n.
double ClopperPearsonLower(int k, int n, double alpha);
double ClopperPearsonUpper(int k, int n, double alpha);
// The two-sided interval with `alpha` split evenly between its ends; [0, 1] when n is 0.
Interval ClopperPearson(int k, int n, double alpha);

// The Wilson score interval (95%) for `passes` out of `n`; [0, 1] when n is 0.
Interval Wilson(int passes, int n);

// Fisher's exact test, one-sided, for "b fails more often than a": with a's failures
// `fails_a` of `n_a` and b's `fails_b` of `n_b`, the probability that b gets at least
// `fails_b` of all the table's failures when both fail at the same rate (the
// hypergeometric upper tail given the margins). 1 when b has no runs.
// REQUIRES: 0 <= fails_a <= n_a, 0 <= fails_b <= n_b.
double FisherGreater(int fails_a, int n_a, int fails_b, int n_b);

}  // namespace harness
