// The verdict simulator: recipes as random processes of known behaviour (a failure rate
// alone, one under load, and how their failures split among fingerprints), each triaged
// thousands of times by the real Decide(), over the grid
//   rate alone ∈ {0, 0.1, 0.25, 0.5, 0.75, 1} × rate under load ∈ {same, +0.25, 1}
//   × failures of one fingerprint, or of two (half each).
// A verdict is wrong by the truths stated in verdict/verdict.h:
//   genuine       wrong unless one fingerprint fails alone at a rate above 1/2 (a rate of
//                 exactly 1/2 is the boundary: genuine counts as wrong there);
//   load-flake    wrong unless the rate under load is above the rate alone (equal: wrong);
//   intermittent  wrong unless 0 < rate alone < 1, or the failures alone have two
//                 fingerprints (rate alone > 0);
//   known-transient, infra  always wrong here (nothing is transient, nothing infra);
//   undecided     never wrong.
// The bound asserted in every cell: wrong verdicts ≤ 1 % of the triages, and the 95 %
// Clopper-Pearson upper bound of the wrong rate ≤ 1 % too (3000 triages per cell, fixed
// seeds). `unit_tests "[.simulator-table]"` prints the table of docs/triage.md.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "verdict/verdict.h"

namespace harness {
namespace {

// splitmix64: small, fast, and the same sequence on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

struct SimRecipe {
  double alone = 0, loaded = 0;
  std::vector<double> kinds = {1.0};  // shares of the fingerprints among the failures
};

bool Wrong(const std::string& kind, const SimRecipe& r, double genuine_rate) {
  if (kind == "undecided") return false;
  if (kind == "genuine") {
    for (double share : r.kinds) {
      if (r.alone * share > genuine_rate) return false;
    }
    return true;
  }
  if (kind == "load-flake") return !(r.loaded > r.alone);
  if (kind == "intermittent")
    return !((r.alone > 0 && r.alone < 1) || (r.alone > 0 && r.kinds.size() >= 2));
  return true;
}

struct Cell {
  int triages = 0;
  int wrong = 0;
  std::map<std::string, int> count;
  std::map<std::string, long> runs;  // attempts, summed per verdict
};

Cell Simulate(const SimRecipe& r, const TriagePolicy& policy, int triages, uint64_t seed) {
  Rng rng(seed);
  Cell cell;
  std::vector<Attempt> attempts;
  for (int i = 0; i < triages; ++i) {
    attempts.clear();
    while (true) {
      Decision d = Decide(attempts, policy);
      if (d.next == Next::kStop) {
        cell.triages += 1;
        cell.count[d.verdict.kind] += 1;
        cell.runs[d.verdict.kind] += static_cast<long>(attempts.size());
        if (Wrong(d.verdict.kind, r, policy.genuine_rate)) cell.wrong += 1;
        break;
      }
      Attempt a;
      a.loaded = d.next == Next::kLoaded;
      a.elapsed = Duration(60000);
      a.run_id = "run-" + std::to_string(attempts.size());
      if (rng.Uniform() < (a.loaded ? r.loaded : r.alone)) {
        a.outcome = Attempt::Outcome::kFail;
        a.phase = "test";
        double u = rng.Uniform();
        size_t k = 0;
        while (k + 1 < r.kinds.size() && u >= r.kinds[k]) u -= r.kinds[k++];
        a.fingerprint = "test | check | failure " + std::to_string(k);
      }
      attempts.push_back(a);
    }
  }
  return cell;
}

struct GridCell {
  SimRecipe recipe;
  std::string kinds_name;
};

std::vector<GridCell> Grid() {
  std::vector<GridCell> grid;
  for (const auto& [kinds, name] : std::vector<std::pair<std::vector<double>, std::string>>{
           {{1.0}, "one"}, {{0.5, 0.5}, "two"}}) {
    for (double alone : {0.0, 0.1, 0.25, 0.5, 0.75, 1.0}) {
      std::vector<double> loads;
      for (double l : {alone, std::min(1.0, alone + 0.25), 1.0}) {
        if (loads.empty() || l > loads.back() + 1e-9) loads.push_back(l);
      }
      for (double loaded : loads) grid.push_back({{alone, loaded, kinds}, name});
    }
  }
  return grid;
}

uint64_t SeedOf(const SimRecipe& r, size_t kinds) {
  return 0x5eed0000u + static_cast<uint64_t>(r.alone * 100) * 1000 +
         static_cast<uint64_t>(r.loaded * 100) * 10 + kinds;
}

constexpr int kTriages = 3000;

TEST_CASE("simulator: wrong verdicts stay within 1 % in every cell of the grid",
          "[verdict][simulator]") {
  TriagePolicy policy;
  for (const auto& g : Grid()) {
    Cell cell = Simulate(g.recipe, policy, kTriages, SeedOf(g.recipe, g.recipe.kinds.size()));
    INFO("rate alone " << g.recipe.alone << ", under load " << g.recipe.loaded << ", fingerprints "
                       << g.kinds_name << ": " << cell.wrong << " wrong of " << cell.triages);
    CHECK(cell.triages == kTriages);
    CHECK(cell.wrong * 100 <= cell.triages);
    CHECK(ClopperPearsonUpper(cell.wrong, cell.triages, 0.05) <= 0.01);
  }
}

TEST_CASE("simulator: the recipes of the field reports get their verdicts",
          "[verdict][simulator]") {
  TriagePolicy policy;
  // Broken at its version: genuine, after the plan's 9 failures alone.
  Cell broken = Simulate({1.0, 1.0, {1.0}}, policy, 500, 1);
  CHECK(broken.count["genuine"] == 500);
  CHECK(broken.runs["genuine"] == 500L * 10);  // 9 alone, and the loaded run of A L
  // Green alone, red under load: load-flake.
  Cell load = Simulate({0.0, 1.0, {1.0}}, policy, 500, 2);
  CHECK(load.count["load-flake"] == 500);
  // A quarter or half of its deploys fail, whatever the load: intermittent mostly,
  // undecided otherwise; genuine or load-flake hardly ever (≤ 1 %).
  for (double rate : {0.25, 0.5}) {
    Cell c = Simulate({rate, rate, {1.0}}, policy, 2000, 3);
    INFO("rate " << rate);
    CHECK(c.count["genuine"] + c.count["load-flake"] <= 20);
    CHECK(c.count["intermittent"] >= (rate == 0.5 ? 1800 : 1300));
    CHECK(c.count["intermittent"] + c.count["undecided"] + c.count["genuine"] +
              c.count["load-flake"] ==
          2000);
  }
}

// The simulator can see wrong verdicts: at a lax error level (50 %) genuine comes after 3
// failures in a row alone, and a recipe failing half its runs gets it about 1 time in 8.
TEST_CASE("simulator: a lax error level shows up as wrong verdicts", "[verdict][simulator]") {
  TriagePolicy lax;
  lax.error_level = 0.5;
  Cell c = Simulate({0.5, 0.5, {1.0}}, lax, 2000, 4);
  CHECK(c.wrong * 100 > 5 * c.triages);
  CHECK(c.count["genuine"] * 100 > 5 * c.triages);
}

std::string Share(const Cell& c, const std::string& kind) {
  auto it = c.count.find(kind);
  if (it == c.count.end() || it->second == 0) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f %% (%.1f)", 100.0 * it->second / c.triages,
                static_cast<double>(c.runs.at(kind)) / it->second);
  return buf;
}

TEST_CASE("simulator: the table for docs/triage.md", "[.simulator-table]") {
  TriagePolicy policy;
  std::ostringstream os;
  os << "| rate alone | rate under load | fingerprints | genuine | intermittent | load-flake | "
        "undecided | "
        "wrong | mean runs |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& g : Grid()) {
    Cell c = Simulate(g.recipe, policy, kTriages, SeedOf(g.recipe, g.recipe.kinds.size()));
    long runs = 0;
    for (const auto& [kind, n] : c.runs) runs += n;
    char head[96];
    std::snprintf(head, sizeof head, "| %.2g | %.2g | %s | ", g.recipe.alone, g.recipe.loaded,
                  g.kinds_name.c_str());
    char tail[64];
    std::snprintf(tail, sizeof tail, "%.2f %% | %.1f |", 100.0 * c.wrong / c.triages,
                  static_cast<double>(runs) / c.triages);
    os << head << Share(c, "genuine") << " | " << Share(c, "intermittent") << " | "
       << Share(c, "load-flake") << " | " << Share(c, "undecided") << " | " << tail << "\n";
  }
  std::cout << os.str();
  SUCCEED();
}

}  // namespace
}  // namespace harness
