#include "verdict/verdict.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace harness {
namespace {

std::string Rate(const char* where, const Tally& t) {
  char buf[160];
  if (t.runs() == 0) {
    std::snprintf(buf, sizeof buf, "%s: no runs", where);
  } else {
    Interval w = Wilson(t.pass, t.runs());
    std::snprintf(buf, sizeof buf, "%s %d/%d passed (95%% CI for the pass rate %.2f-%.2f)", where,
                  t.pass, t.runs(), w.low, w.high);
  }
  std::string s = buf;
  if (t.infra > 0) s += ", " + std::to_string(t.infra) + " infrastructure failure(s) not counted";
  return s;
}

std::string Direction(const std::string& kind, const std::string& phase, const std::string& transient) {
  if (kind == "genuine") {
    if (phase == "deploy" || phase == "converge") return "recipe: it does not deploy or converge at this version";
    return "recipe or its test: it fails alone every time (read the evidence to tell which)";
  }
  if (kind == "load-flake") {
    if (phase == "deploy" || phase == "converge") {
      return "harness/timeouts: give it a larger deploy budget or a higher weight (fewer neighbours)";
    }
    return "test: make it robust on a slow host (wait for conditions with eventually, not fixed delays)";
  }
  if (kind == "intermittent") return "test or recipe: a race that shows alone (probe readiness before testing)";
  if (kind == "known-transient") return "infrastructure: declared transient class '" + transient + "'";
  if (kind == "infra") return "infrastructure: Docker or the host, not the recipe";
  return "more evidence: re-run with more attempts";
}

}  // namespace

Decision Decide(const std::vector<Attempt>& attempts, const TriagePolicy& policy) {
  Decision d;
  Verdict& v = d.verdict;
  std::string transient;
  std::map<std::string, int> phases;
  const Attempt* first_alone = nullptr;
  const Attempt* first_loaded = nullptr;
  for (const auto& a : attempts) {
    Tally& t = a.loaded ? v.loaded : v.alone;
    switch (a.outcome) {
      case Attempt::Outcome::kPass: ++t.pass; break;
      case Attempt::Outcome::kFail:
        ++t.fail;
        ++phases[a.phase];
        if (a.loaded && first_loaded == nullptr) first_loaded = &a;
        if (!a.loaded && first_alone == nullptr) first_alone = &a;
        break;
      case Attempt::Outcome::kInfra: ++t.infra; break;
    }
    if (a.transient_retry && a.outcome == Attempt::Outcome::kPass) transient = a.transient_class;
  }
  // A representative failure: the first one alone, else the first one under load; the
  // failing phase is the most common one.
  if (const Attempt* rep = first_alone ? first_alone : first_loaded) {
    v.evidence = rep->evidence;
    v.failing_phase = rep->phase;
    for (const auto& [phase, n] : phases) {
      if (n > phases[v.failing_phase]) v.failing_phase = phase;
    }
  }
  v.confidence = Rate("alone", v.alone) + "; " + Rate("under load", v.loaded);
  auto decide = [&](const std::string& kind, const std::string& reason) {
    v.kind = kind;
    v.reason = reason;
    v.direction = Direction(kind, v.failing_phase, transient);
    d.next = Next::kStop;
    return d;
  };
  const Tally& al = v.alone;
  const Tally& ld = v.loaded;

  if (al.infra + ld.infra >= policy.max_infra && al.fail + ld.fail == 0) {
    return decide("infra", std::to_string(al.infra + ld.infra) +
                               " attempts failed in the infrastructure and none in the recipe");
  }
  if (al.fail > 0 && al.pass > 0) {
    return decide("intermittent", "mixed results alone: " + std::to_string(al.fail) + " failed, " +
                                      std::to_string(al.pass) + " passed");
  }
  if (al.fail >= policy.min_decisive && al.pass == 0) {
    return decide("genuine", "failed all " + std::to_string(al.fail) + " runs alone");
  }
  bool alone_green = al.pass >= policy.min_decisive && al.fail == 0;
  if (!alone_green) {
    if (al.runs() >= policy.max_alone || al.infra >= policy.max_infra) {
      return decide("undecided", "alone: " + std::to_string(al.pass) + " passed, " +
                                     std::to_string(al.fail) + " failed; not decisive");
    }
    d.next = Next::kAlone;
    v.reason = "running alone until the outcome is decisive";
    return d;
  }
  if (!transient.empty() && ld.fail == 0 && ld.runs() == 0) {
    return decide("known-transient", "failed in the declared transient class '" + transient +
                                         "', and its single retry passed; green alone otherwise");
  }
  if (ld.fail >= policy.min_load_failures) {
    return decide("load-flake", "green alone (" + std::to_string(al.pass) + "/" +
                                    std::to_string(al.runs()) + "), red under load (" +
                                    std::to_string(ld.fail) + " of " + std::to_string(ld.runs()) +
                                    " failed)");
  }
  if (ld.runs() >= policy.max_loaded || ld.infra >= policy.max_infra ||
      (ld.fail == 0 && ld.pass >= policy.max_loaded - policy.min_load_failures + 1)) {
    if (!transient.empty() && ld.fail == 0) {
      return decide("known-transient", "failed in the declared transient class '" + transient +
                                           "', and its single retry passed");
    }
    return decide("undecided", ld.fail == 0
                                   ? "not reproduced: green alone and under load"
                                   : "green alone, one failure under load in " +
                                         std::to_string(ld.runs()) + ": not decisive");
  }
  d.next = Next::kLoaded;
  v.reason = "green alone; running under load";
  return d;
}

}  // namespace harness
