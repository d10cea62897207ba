#include "verdict/verdict.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "verdict/fingerprint.h"

namespace harness {
namespace {

// Below this one-sided p, a load effect is promising enough to keep testing it after the
// alone runs have already shown intermittent (only how long a triage runs depends on it).
constexpr double kPromising = 0.2;

// What the attempts show, replayed in order.
struct Evidence {
  Tally alone, loaded;
  int counted = 0;  // passes and failures (the plan's t)
  // The load-flake test can no longer be decided: no load, the runs left the schedule,
  // or pruned (failing alone every time); `why_dead` says which.
  bool load_dead = false;
  std::string why_dead;
  std::string transient;  // a declared class whose retry passed
  std::vector<FailureKind> failures;
  int alone_kinds = 0;  // fingerprints among the failures alone
  Duration spent{0};
  int attempts = 0;
};

std::string Percent(double x) {
  char buf[32];
  if (x > 0 && x < 0.1) {
    std::snprintf(buf, sizeof buf, "%.2g %%", 100 * x);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f %%", 100 * x);
  }
  return buf;
}

std::string Number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", x);
  return buf;
}

std::string Rate(const char* where, const Tally& t, const Interval& ci, double alpha) {
  std::string s = where;
  if (t.runs() == 0) {
    s += ": no runs";
  } else {
    s += ": " + std::to_string(t.fail) + " of " + std::to_string(t.runs()) + " failed (" +
         Percent(static_cast<double>(t.fail) / t.runs()) + "; " + Percent(1 - alpha) +
         " interval " + Percent(ci.low) + "-" + Percent(ci.high) + ")";
  }
  if (t.infra > 0) s += ", " + std::to_string(t.infra) + " infrastructure failure(s) not counted";
  return s;
}

std::string Direction(const std::string& kind, const std::string& phase,
                      const std::string& transient) {
  if (kind == "genuine") {
    if (phase == "deploy" || phase == "converge")
      return "recipe: it does not deploy or converge at this version";
    return "recipe or its test: it fails alone, the same way, most of the time (read the evidence "
           "to tell which)";
  }
  if (kind == "load-flake") {
    if (phase == "deploy" || phase == "converge") {
      return "harness/timeouts: give it a larger deploy budget or a higher weight (fewer "
             "neighbours)";
    }
    return "test: make it robust on a slow host (wait for conditions with eventually, not fixed "
           "delays)";
  }
  if (kind == "intermittent")
    return "test or recipe: a race that shows alone (probe readiness before testing)";
  if (kind == "known-transient")
    return "infrastructure: declared transient class '" + transient + "'";
  if (kind == "infra") return "infrastructure: Docker or the host, not the recipe";
  return "more evidence: see what would decide it";
}

Evidence Gather(const std::vector<Attempt>& attempts, const TriagePlan& plan,
                const TriagePolicy& policy) {
  Evidence e;
  std::map<std::string, size_t> kinds;
  auto kill = [&](const std::string& why) {
    if (!e.load_dead) e.why_dead = why;
    e.load_dead = true;
  };
  if (!policy.with_load) kill("no load to run beside");
  for (const auto& a : attempts) {
    ++e.attempts;
    e.spent += a.elapsed;
    Tally& t = a.loaded ? e.loaded : e.alone;
    if (a.transient_retry && a.outcome == Attempt::Outcome::kPass) e.transient = a.transient_class;
    if (a.outcome == Attempt::Outcome::kInfra) {
      ++t.infra;  // re-run in the same arm: not a step of the schedule
      continue;
    }
    Arm arm = a.loaded ? Arm::kLoaded : Arm::kAlone;
    if (e.counted >= static_cast<int>(plan.arms.size()) || plan.arms[e.counted] != arm) {
      kill("the runs left the interleaved schedule");
    }
    ++e.counted;
    if (a.outcome == Attempt::Outcome::kPass) {
      ++t.pass;
    } else {
      ++t.fail;
      std::string key =
          a.fingerprint.empty() ? MakeFingerprint(a.phase, a.step, a.evidence).key : a.fingerprint;
      auto [it, added] = kinds.emplace(key, e.failures.size());
      if (added) {
        FailureKind k;
        k.key = key;
        k.id = FingerprintId(key);
        k.phase = a.phase;
        k.step = a.step;
        e.failures.push_back(k);
      }
      FailureKind& k = e.failures[it->second];
      // The representative: the first failure alone, else the first under load.
      if (a.loaded ? k.run_id.empty() : k.alone == 0) {
        k.run_id = a.run_id;
        k.artifacts = a.artifacts;
        k.evidence = a.evidence;
      }
      if (!a.loaded && k.alone == 0) e.alone_kinds += 1;
      ++(a.loaded ? k.loaded : k.alone);
    }
    // Failing alone every time, and no better under load: not what a load-flake looks
    // like; from here on the runs go to the alone arm (genuine or intermittent).
    if (!e.load_dead && e.alone.pass == 0 && e.alone.fail >= 1 &&
        (e.alone.fail >= 2 || (e.loaded.runs() >= 1 && e.loaded.pass == 0))) {
      kill("it fails alone every time so far");
    }
  }
  std::stable_sort(e.failures.begin(), e.failures.end(),
                   [](const FailureKind& a, const FailureKind& b) {
                     return std::make_pair(a.alone, a.loaded) > std::make_pair(b.alone, b.loaded);
                   });
  return e;
}

// Counts, rates, fingerprints and the representative failure.
Verdict Describe(const Evidence& e, const TriagePlan& plan) {
  Verdict v;
  v.alone = e.alone;
  v.loaded = e.loaded;
  v.error_level = plan.alpha;
  v.fail_alone = ClopperPearson(e.alone.fail, e.alone.runs(), plan.alpha);
  v.fail_loaded = ClopperPearson(e.loaded.fail, e.loaded.runs(), plan.alpha);
  v.failures = e.failures;
  v.confidence = Rate("alone", e.alone, v.fail_alone, plan.alpha) + "; " +
                 Rate("under load", e.loaded, v.fail_loaded, plan.alpha) + "; error level " +
                 Percent(plan.alpha);
  if (!e.failures.empty()) {
    const FailureKind& top = e.failures.front();
    v.evidence = top.evidence;
    v.failing_phase = top.phase;
    v.representative_run = top.run_id;
  }
  return v;
}

std::string Kinds(const std::vector<FailureKind>& failures) {
  std::string s;
  for (const auto& k : failures) {
    s += (s.empty() ? "" : ", ") + k.id + " (" + k.phase + (k.step.empty() ? "" : ": " + k.step) +
         ") " + std::to_string(k.alone) + " alone, " + std::to_string(k.loaded) + " under load";
  }
  return s;
}

// What more would decide it, for an undecided verdict.
std::string Needs(const Evidence& e, const TriagePlan& plan, const TriagePolicy& policy) {
  std::vector<std::string> ways;
  const Tally& al = e.alone;
  if (al.pass == 0 && e.alone_kinds <= 1) {
    int n = plan.genuine_runs;
    if (n == 0) {
      TriagePolicy more = policy;
      more.max_alone = 1000;
      n = MakePlan(more).genuine_runs;
    }
    int more_runs = std::max(1, n - al.fail);
    std::string raise;
    if (n > policy.max_alone) raise = "--max-alone to " + std::to_string(n);
    if (e.attempts + more_runs > policy.max_runs) {
      raise += (raise.empty() ? "" : " and ") + std::string("--max-runs to ") +
               std::to_string(e.attempts + more_runs);
    }
    ways.push_back("about " + std::to_string(more_runs) +
                   " more run(s) alone, failing the same way, would decide genuine" +
                   (raise.empty() ? "" : " (raise " + raise + ")") +
                   (al.fail > 0 ? "; one pass alone, intermittent" : ""));
  }
  if (al.fail == 0 && al.pass > 0) ways.push_back("one failure alone would decide intermittent");
  // Only a test that is still on its schedule can be continued with a larger budget.
  bool on_schedule = !e.load_dead;
  if (on_schedule && (al.fail == 0 || e.loaded.fail * al.runs() > al.fail * e.loaded.runs())) {
    int budget = 0;
    int runs = RunsToLoadFlake(policy, e.counted, al.fail, e.loaded.fail, &budget);
    if (runs > 0) {
      ways.push_back(
          "about " + std::to_string(runs) +
          " more run(s), interleaved, with the loaded ones failing and the alone ones passing, "
          "would decide load-flake" +
          (budget > policy.max_runs ? " (raise --max-runs to " + std::to_string(budget) + ")"
                                    : ""));
    }
  }
  if (ways.empty()) return "nothing within reach: re-run the triage with a larger budget";
  std::string s;
  for (const auto& w : ways) s += (s.empty() ? "" : "; or ") + w;
  return s;
}

std::string IntermittentReason(const Evidence& e, const Verdict& v, const TriagePlan& plan) {
  const Tally& al = e.alone;
  std::string s = "fails alone " + std::to_string(al.fail) + " of " + std::to_string(al.runs()) +
                  " (" + Percent(static_cast<double>(al.fail) / std::max(1, al.runs())) + ", " +
                  Percent(1 - plan.alpha) + " interval " + Percent(v.fail_alone.low) + "-" +
                  Percent(v.fail_alone.high) + ")";
  if (e.alone_kinds >= 2) {
    s += "; " + std::to_string(e.failures.size()) + " different failures: " + Kinds(e.failures);
  }
  return s;
}

std::string GenuineReason(const Evidence& e, const TriagePlan& plan, double p_value) {
  return "failed all " + std::to_string(e.alone.fail) + " runs alone, the same way (" + e.failures.front().id +
         "): were no failure to recur alone more often than " + Percent(plan.genuine_rate) +
         " of the time, that would happen with a chance of at most " + Number(p_value) + " (at most " +
         Number(plan.alpha_genuine) + ", half the error level)";
}

std::string LoadFlakeReason(const Evidence& e, const TriagePlan& plan, double p_value, double level) {
  return "under load " + std::to_string(e.loaded.fail) + " of " + std::to_string(e.loaded.runs()) +
         " failed, alone " + std::to_string(e.alone.fail) + " of " + std::to_string(e.alone.runs()) +
         ": Fisher's exact test (one-sided) p = " + Number(p_value) + " <= " + Number(level) +
         ", this look's share of " + Number(plan.alpha_load) + " (half the error level, over " +
         std::to_string(plan.looks) + " looks)";
}

// The next run: the schedule's while the load-flake test is alive, else alone; kStop, with
// `why` set, once there is none, the run or time budget is spent, or `stop_now`.
Next NextRun(const Evidence& e, const TriagePlan& plan, const TriagePolicy& policy, bool load_alive,
             Duration spent, bool stop_now, std::string* why) {
  bool has_next = false;
  Next next = Next::kAlone;
  if (load_alive) {
    has_next = e.counted < static_cast<int>(plan.arms.size());
    if (has_next) next = plan.arms[e.counted] == Arm::kLoaded ? Next::kLoaded : Next::kAlone;
  } else {
    has_next = e.alone.runs() < policy.max_alone;
  }
  Duration used = spent.count() >= 0 ? spent : e.spent;
  Duration per_run = e.attempts > 0 ? e.spent / e.attempts : Duration(0);
  bool out_of_time = used + per_run > policy.max_time;
  if (stop_now || !has_next || e.attempts >= policy.max_runs || out_of_time) {
    *why = stop_now      ? "stopped"
           : out_of_time ? "the time budget is spent"
                         : "the run budget is spent";
    return Next::kStop;
  }
  return next;
}

// The rules, in order (see verdict.h); `stop_now` ends the triage here with what the
// evidence already shows.
Decision Judge(const std::vector<Attempt>& attempts, const TriagePolicy& policy, Duration spent,
               bool stop_now) {
  const TriagePlan plan = MakePlan(policy);
  Evidence e = Gather(attempts, plan, policy);
  const Tally& al = e.alone;
  const Tally& ld = e.loaded;
  const int fails = al.fail + ld.fail;
  const bool mixed = (al.pass >= 1 && al.fail >= 1) || e.alone_kinds >= 2;
  Decision d;
  Verdict& v = d.verdict;
  v.alone = al;
  v.loaded = ld;
  v.error_level = plan.alpha;
  // A verdict: described in full (the intervals cost more than the rules, so only here).
  auto decide = [&](const std::string& kind, const std::string& reason) {
    Verdict full = Describe(e, plan);
    full.test = v.test;
    full.p_value = v.p_value;
    full.threshold = v.threshold;
    v = full;
    v.kind = kind;
    v.reason = kind == "intermittent" ? IntermittentReason(e, v, plan) + reason : reason;
    if (kind == "undecided") v.needs = Needs(e, plan, policy);
    v.direction = Direction(kind, v.failing_phase, e.transient);
    d.next = Next::kStop;
    return d;
  };

  if (al.infra + ld.infra >= policy.max_infra) {
    if (fails == 0) {
      return decide("infra", std::to_string(al.infra + ld.infra) +
                                 " attempts failed in the infrastructure and none in the recipe");
    }
    if (!mixed)
      return decide("undecided",
                    std::to_string(al.infra + ld.infra) + " infrastructure failures: stopped");
  }

  // genuine: one moment to decide it, when the alone failures in a row reach the plan's n.
  const bool genuine_open = al.pass == 0 && e.alone_kinds <= 1 && plan.genuine_runs > 0;
  if (genuine_open && al.fail >= plan.genuine_runs) {
    v.test = "same-failure-in-a-row";
    v.p_value = SameFailureInARow(plan.genuine_rate, al.fail);
    v.threshold = plan.alpha_genuine;
    return decide("genuine", GenuineReason(e, plan, v.p_value));
  }

  // load-flake: at the plan's looks, Fisher's exact test against the look's level.
  bool load_alive = !e.load_dead;
  const double p_now =
      (al.runs() > 0 && ld.runs() > 0) ? FisherGreater(al.fail, al.runs(), ld.fail, ld.runs()) : 1;
  if (ld.runs() > 0) {
    v.test = "fisher";
    v.p_value = p_now;
  }
  if (load_alive && e.counted < static_cast<int>(plan.look_alpha.size())) {
    double level = plan.look_alpha[e.counted];
    if (level > 0) v.threshold = level;
    if (level > 0 && ld.fail >= plan.min_load_failures && p_now <= level) {
      return decide("load-flake", LoadFlakeReason(e, plan, p_now, level));
    }
  }
  if (load_alive && !LoadFlakeReachable(plan, e.counted, al.fail, ld.fail)) {
    load_alive = false;
    e.why_dead = "load-flake is out of reach within the budget";
  }

  // intermittent: certain once alone has shown both, or two fingerprints; unless a load
  // effect looks promising enough to go on testing it.
  if (mixed) {
    bool promising = load_alive && p_now <= kPromising && ld.fail * al.runs() > al.fail * ld.runs();
    if (!promising) return decide("intermittent", "");
  }
  if (fails == 0 && !e.transient.empty() && al.pass >= policy.min_decisive) {
    return decide("known-transient", "failed only in the declared transient class '" + e.transient +
                                         "', and its single retry passed; green otherwise");
  }
  if (fails == 0 && e.counted >= policy.not_reproduced_after) {
    return decide("undecided",
                  "not reproduced: nothing failed in " + std::to_string(e.counted) + " runs");
  }
  // Green alone, failures under load that cannot make a load-flake: alone runs can still
  // show intermittent, up to as many as would show "not reproduced".
  if (!mixed && !genuine_open && !load_alive && ld.fail > 0 &&
      al.runs() >= policy.not_reproduced_after) {
    return decide("undecided",
                  "green alone in " + std::to_string(al.runs()) +
                      " runs; the failures under load cannot reach load-flake within the budget at "
                      "this error level");
  }

  std::string why_stop;
  d.next = NextRun(e, plan, policy, load_alive, spent, stop_now, &why_stop);
  if (d.next == Next::kStop) {
    if (mixed) return decide("intermittent", " (" + why_stop + " while testing the load)");
    return decide("undecided", why_stop);
  }
  v.reason = mixed        ? "intermittent alone; testing whether load makes it worse"
             : load_alive ? "interleaving alone and loaded runs"
                          : "running alone (" + e.why_dead + ")";
  return d;
}

}  // namespace

Decision Decide(const std::vector<Attempt>& attempts, const TriagePolicy& policy, Duration spent) {
  return Judge(attempts, policy, spent, /*stop_now=*/false);
}

Verdict Conclude(const std::vector<Attempt>& attempts, const TriagePolicy& policy) {
  return Judge(attempts, policy, Duration(-1), /*stop_now=*/true).verdict;
}

}  // namespace harness
