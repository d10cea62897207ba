#include "sched/scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace harness {

bool CanStart(int weight, int in_use, int capacity) {
  return in_use == 0 || in_use + weight <= capacity;
}

std::vector<Job> PlanOrder(std::vector<Job> jobs) {
  Duration longest{0};
  for (const auto& j : jobs) longest = std::max(longest, j.expected);
  auto key = [&](const Job& j) { return j.expected.count() > 0 ? j.expected : longest; };
  std::stable_sort(jobs.begin(), jobs.end(), [&](const Job& a, const Job& b) {
    if (key(a) != key(b)) return key(a) > key(b);
    if (a.weight != b.weight) return a.weight > b.weight;
    return a.name < b.name;
  });
  return jobs;
}

size_t Pool::Run(const std::vector<Job>& plan, const std::function<void(const Job&)>& work,
                 const CancelToken& cancel) {
  std::mutex mu;
  std::condition_variable cv;
  int in_use = 0;
  std::vector<bool> started(plan.size(), false);
  std::vector<std::thread> threads;
  size_t count = 0;
  std::unique_lock<std::mutex> lock(mu);
  while (count < plan.size() && !cancel.cancelled()) {
    size_t pick = plan.size();
    for (size_t i = 0; i < plan.size(); ++i) {
      if (!started[i] && CanStart(plan[i].weight, in_use, capacity_)) {
        pick = i;
        break;
      }
    }
    if (pick == plan.size()) {
      // Nothing fits: wait for a job to finish (or for a signal, checked on wake-up).
      cv.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    started[pick] = true;
    ++count;
    int weight = plan[pick].weight;
    in_use += weight;
    const Job& job = plan[pick];
    threads.emplace_back([&, weight, job] {
      work(job);
      std::lock_guard<std::mutex> done(mu);
      in_use -= weight;
      cv.notify_all();
    });
  }
  lock.unlock();
  for (auto& t : threads) t.join();
  return count;
}

}  // namespace harness
