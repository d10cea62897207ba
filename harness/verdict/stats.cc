#include "verdict/stats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace harness {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr int kTable = 1024;

// log(n!) for n < kTable, computed once (a function-local static: thread-safe).
const std::array<double, kTable>& LogFactorials() {
  static const std::array<double, kTable> table = [] {
    std::array<double, kTable> t{};
    for (int n = 1; n < kTable; ++n) t[n] = t[n - 1] + std::log(static_cast<double>(n));
    return t;
  }();
  return table;
}

double LogFactorial(int n) { return n < kTable ? LogFactorials()[n] : std::lgamma(n + 1.0); }

// Adds exp(x) to a sum kept as log(sum), without overflow or needless underflow.
void AddLog(double* acc, double x) {
  if (x == kNegInf) return;
  if (*acc == kNegInf) {
    *acc = x;
  } else if (x > *acc) {
    *acc = x + std::log1p(std::exp(*acc - x));
  } else {
    *acc += std::log1p(std::exp(x - *acc));
  }
}

// log P(X = k) for X ~ Binomial(n, p), 0 <= k <= n.
double LogBinomialTerm(int n, int k, double p) {
  if (p <= 0) return k == 0 ? 0 : kNegInf;
  if (p >= 1) return k == n ? 0 : kNegInf;
  return LogChoose(n, k) + k * std::log(p) + (n - k) * std::log1p(-p);
}

// The p in [0, 1] at which f, continuous and monotone in p (`increasing` says which way),
// crosses `target`, by bisection (60 halvings reach double precision).
template <typename F>
double Solve(F f, double target, bool increasing) {
  double lo = 0, hi = 1;
  for (int i = 0; i < 60; ++i) {
    double mid = (lo + hi) / 2;
    bool below = f(mid) < target;
    if (below == increasing) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return (lo + hi) / 2;
}

}  // namespace

double LogChoose(int n, int k) {
  if (k < 0 || k > n || n < 0) return kNegInf;
  return LogFactorial(n) - LogFactorial(k) - LogFactorial(n - k);
}

double BinomialUpperTail(int n, int k, double p) {
  if (k <= 0) return 1;
  if (k > n) return 0;
  double acc = kNegInf;
  for (int x = k; x <= n; ++x) AddLog(&acc, LogBinomialTerm(n, x, p));
  return std::min(1.0, std::exp(acc));
}

double BinomialLowerTail(int n, int k, double p) {
  if (k >= n) return 1;
  if (k < 0) return 0;
  double acc = kNegInf;
  for (int x = 0; x <= k; ++x) AddLog(&acc, LogBinomialTerm(n, x, p));
  return std::min(1.0, std::exp(acc));
}

double ClopperPearsonLower(int k, int n, double alpha) {
  if (k <= 0) return 0;
  // P(X >= k) grows with p.
  return Solve([&](double p) { return BinomialUpperTail(n, k, p); }, alpha, /*increasing=*/true);
}

double ClopperPearsonUpper(int k, int n, double alpha) {
  if (k >= n) return 1;
  // P(X <= k) falls as p grows.
  return Solve([&](double p) { return BinomialLowerTail(n, k, p); }, alpha, /*increasing=*/false);
}

Interval ClopperPearson(int k, int n, double alpha) {
  if (n <= 0) return {0, 1};
  return {ClopperPearsonLower(k, n, alpha / 2), ClopperPearsonUpper(k, n, alpha / 2)};
}

Interval Wilson(int passes, int n) {
  if (n <= 0) return {0, 1};
  const double z = 1.959963984540054;
  double p = static_cast<double>(passes) / n;
  double denom = 1 + z * z / n;
  double centre = (p + z * z / (2.0 * n)) / denom;
  double half = z * std::sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / denom;
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

double FisherGreater(int fails_a, int n_a, int fails_b, int n_b) {
  if (n_b <= 0) return 1;
  const int total = n_a + n_b;
  const int fails = fails_a + fails_b;
  const double log_all = LogChoose(total, n_b);
  double acc = kNegInf;
  for (int x = fails_b; x <= std::min(fails, n_b); ++x) {
    AddLog(&acc, LogChoose(fails, x) + LogChoose(total - fails, n_b - x) - log_all);
  }
  return std::min(1.0, std::exp(acc));
}

}  // namespace harness
