#include "verdict/plan.h"

#include <algorithm>
#include <cmath>

#include "verdict/stats.h"

namespace harness {
namespace {

// The k-th run (from 0) of the interleaving pattern A L L A, A L L A, ...
Arm Pattern(int k) {
  bool alone_first = (k / 2) % 2 == 0;
  bool first_of_pair = k % 2 == 0;
  return first_of_pair == alone_first ? Arm::kAlone : Arm::kLoaded;
}

// Fisher's p for the best table a look after `t` runs can show from here: every further
// alone run passed, every further loaded run failed.
double BestCaseP(const TriagePlan& plan, int t, int look, int alone_fails, int loaded_fails,
                 int* fails_then) {
  int loaded_then = plan.loaded[look];
  *fails_then = loaded_fails + (loaded_then - plan.loaded[t]);
  return FisherGreater(alone_fails, plan.alone[look], *fails_then, loaded_then);
}

}  // namespace

double SameFailureInARow(double rate, int n) {
  if (rate >= 1) return 1;
  if (rate <= 0) return 0;
  double many = std::floor(1 / rate);
  double rest = std::max(0.0, 1 - many * rate);
  return many * std::pow(rate, n) + std::pow(rest, n);
}

TriagePlan MakePlan(const TriagePolicy& policy) {
  TriagePlan plan;
  plan.alpha = std::clamp(policy.error_level, 1e-9, 0.5);
  plan.alpha_genuine = plan.alpha / 2;
  plan.alpha_load = plan.alpha / 2;
  plan.genuine_rate = std::clamp(policy.genuine_rate, 0.0, 1.0);
  plan.min_load_failures = std::max(1, policy.min_load_failures);
  for (int n = std::max(1, policy.min_decisive); n <= policy.max_alone; ++n) {
    double chance = SameFailureInARow(plan.genuine_rate, n);
    if (chance <= plan.alpha_genuine) {
      plan.genuine_runs = n;
      plan.genuine_p = chance;
      break;
    }
  }

  // The schedule: the pattern, within the caps.
  int alone = 0, loaded = 0;
  plan.alone.push_back(0);
  plan.loaded.push_back(0);
  for (int k = 0; static_cast<int>(plan.arms.size()) < policy.max_runs; ++k) {
    bool alone_full = alone >= policy.max_alone;
    bool loaded_full = loaded >= policy.max_loaded;
    if (alone_full && loaded_full) break;
    Arm arm = Pattern(k);
    if (arm == Arm::kAlone && alone_full) arm = Arm::kLoaded;
    if (arm == Arm::kLoaded && loaded_full) arm = Arm::kAlone;
    plan.arms.push_back(arm);
    (arm == Arm::kAlone ? alone : loaded) += 1;
    plan.alone.push_back(alone);
    plan.loaded.push_back(loaded);
  }

  // The looks: after every second run and after the last, from the first one at which the
  // most extreme table (all alone runs passed, all loaded runs failed; its p is
  // 1/C(n, loaded)) reaches an even share of alpha_load among the looks from there on.
  const int total = static_cast<int>(plan.arms.size());
  plan.look_alpha.assign(total + 1, 0.0);
  std::vector<int> candidates;
  for (int t = 1; t <= total; ++t) {
    if ((t % 2 == 0 || t == total) && plan.loaded[t] >= plan.min_load_failures &&
        plan.alone[t] >= 1) {
      candidates.push_back(t);
    }
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    int t = candidates[i];
    double share = plan.alpha_load / static_cast<double>(candidates.size() - i);
    double most_extreme = std::exp(-LogChoose(plan.alone[t] + plan.loaded[t], plan.loaded[t]));
    if (most_extreme <= share) {
      for (size_t j = i; j < candidates.size(); ++j) plan.look_alpha[candidates[j]] = share;
      plan.looks = static_cast<int>(candidates.size() - i);
      break;
    }
  }
  return plan;
}

bool LoadFlakeReachable(const TriagePlan& plan, int t, int alone_fails, int loaded_fails) {
  const int total = static_cast<int>(plan.arms.size());
  for (int look = t + 1; look <= total; ++look) {
    if (plan.look_alpha[look] <= 0) continue;
    int fails_then = 0;
    double p = BestCaseP(plan, t, look, alone_fails, loaded_fails, &fails_then);
    if (fails_then >= plan.min_load_failures && p <= plan.look_alpha[look]) return true;
  }
  return false;
}

int RunsToLoadFlake(const TriagePolicy& policy, int t, int alone_fails, int loaded_fails,
                    int* budget) {
  // The schedule with a budget of 200 runs; raising the budget keeps the runs so far on it
  // (a cap reached already stays). A budget of R runs has its looks among the even counts
  // and R; the last look has the most data and the same level as the others.
  constexpr int kMost = 200;
  TriagePlan now = MakePlan(policy);
  if (t > static_cast<int>(now.arms.size())) return 0;
  TriagePolicy raised = policy;
  raised.max_runs = kMost;
  if (now.alone[t] < policy.max_alone) raised.max_alone = kMost;
  if (now.loaded[t] < policy.max_loaded) raised.max_loaded = kMost;
  TriagePlan big = MakePlan(raised);
  const int total = static_cast<int>(big.arms.size());
  auto eligible = [&](int c) {
    return big.alone[c] >= 1 && big.loaded[c] >= big.min_load_failures;
  };
  std::vector<double> most_extreme(total + 1, 2.0);
  for (int c = 1; c <= total; ++c) {
    if (eligible(c))
      most_extreme[c] = std::exp(-LogChoose(big.alone[c] + big.loaded[c], big.loaded[c]));
  }
  std::vector<int> looks;
  for (int runs = t + 1; runs <= total; ++runs) {
    if (!eligible(runs)) continue;
    looks.clear();
    for (int c = 2; c < runs; c += 2) {
      if (eligible(c)) looks.push_back(c);
    }
    looks.push_back(runs);
    double share = 0;
    for (size_t i = 0; i < looks.size(); ++i) {
      double s = big.alpha_load / static_cast<double>(looks.size() - i);
      if (most_extreme[looks[i]] <= s) {
        share = s;
        break;
      }
    }
    if (share <= 0) continue;
    int fails_then = 0;
    double p = BestCaseP(big, t, runs, alone_fails, loaded_fails, &fails_then);
    if (fails_then >= big.min_load_failures && p <= share) {
      if (budget) *budget = runs;
      return runs - t;
    }
  }
  return 0;
}

}  // namespace harness
