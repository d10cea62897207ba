#include "sched/scheduler.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <signal.h>

namespace harness {
namespace {

Job J(std::string name, int weight, long long expected_ms) {
  Job j;
  j.name = std::move(name);
  j.weight = weight;
  j.expected = Duration(expected_ms);
  return j;
}

TEST_CASE("plan: longest expected first, unknown counted as the longest", "[sched]") {
  auto plan = PlanOrder({J("short", 1, 1000), J("new", 1, 0), J("long", 1, 9000), J("mid", 2, 5000),
                         J("mid-light", 1, 5000)});
  std::vector<std::string> names;
  for (const auto& j : plan) names.push_back(j.name);
  CHECK(names == std::vector<std::string>{"long", "new", "mid", "mid-light", "short"});
}

TEST_CASE("capacity rule with guaranteed progress", "[sched]") {
  CHECK(CanStart(1, 0, 2));
  CHECK(CanStart(1, 1, 2));
  CHECK_FALSE(CanStart(1, 2, 2));
  CHECK_FALSE(CanStart(2, 1, 2));
  CHECK(CanStart(5, 0, 2));   // heavier than the capacity: alone
  CHECK_FALSE(CanStart(5, 1, 2));
}

// Jobs that block until the test lets them finish, recording the weight in use.
struct Probe {
  std::mutex mu;
  std::condition_variable cv;
  int in_use = 0, max_in_use = 0;
  std::vector<std::string> order;
  std::map<std::string, bool> released;
  bool release_all = false;

  void Work(const Job& j) {
    std::unique_lock<std::mutex> l(mu);
    in_use += j.weight;
    max_in_use = std::max(max_in_use, in_use);
    order.push_back(j.name);
    cv.notify_all();
    cv.wait(l, [&] { return release_all || released[j.name]; });
    in_use -= j.weight;
  }
  void WaitStarted(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return order.size() >= n; });
  }
  void Release(const std::string& name) {
    std::lock_guard<std::mutex> l(mu);
    released[name] = true;
    cv.notify_all();
  }
};

TEST_CASE("the pool never exceeds its capacity and runs everything", "[sched]") {
  Probe p;
  p.release_all = true;
  std::vector<Job> plan;
  for (int i = 0; i < 20; ++i) plan.push_back(J("j" + std::to_string(i), 1 + i % 3, 0));
  Pool pool(3);
  size_t n = pool.Run(PlanOrder(plan), [&](const Job& j) { p.Work(j); }, CancelToken::None());
  CHECK(n == 20);
  CHECK(p.order.size() == 20);
  CHECK(p.max_in_use <= 3);
}

TEST_CASE("a heavy job runs alone; smaller ones pass it while it does not fit", "[sched]") {
  Probe p;
  Pool pool(2);
  std::vector<Job> plan = {J("a", 1, 9000), J("heavy", 4, 8000), J("b", 1, 7000)};
  std::thread runner([&] { pool.Run(plan, [&](const Job& j) { p.Work(j); }, CancelToken::None()); });
  p.WaitStarted(2);
  {
    std::lock_guard<std::mutex> l(p.mu);
    // Both small jobs started (in either order: they run on their own threads); the heavy
    // one does not fit beside them.
    std::vector<std::string> first = p.order;
    std::sort(first.begin(), first.end());
    CHECK(first == std::vector<std::string>{"a", "b"});
  }
  p.Release("a");
  p.Release("b");
  p.WaitStarted(3);
  {
    std::lock_guard<std::mutex> l(p.mu);
    CHECK(p.order[2] == "heavy");
    CHECK(p.in_use == 4);  // alone, over the capacity
  }
  p.Release("heavy");
  runner.join();
}

TEST_CASE("once cancelled, no new job starts", "[sched]") {
  CancelToken::ResetForTest();
  Probe p;
  Pool pool(1);
  std::vector<Job> plan = {J("first", 1, 0), J("second", 1, 0)};
  std::thread runner([&] { pool.Run(plan, [&](const Job& j) { p.Work(j); }, CancelToken::Signals()); });
  p.WaitStarted(1);
  CancelToken::RaiseForTest(SIGINT);
  p.Release("first");
  runner.join();
  CancelToken::ResetForTest();
  CHECK(p.order == std::vector<std::string>{"first"});
}

}  // namespace
}  // namespace harness
