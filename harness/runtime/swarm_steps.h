// Small steps shared by SwarmRuntime's files (swarm.cc, swarm_teardown.cc): the budgets of
// one docker command and of teardown's polls, and the label filters of a namespace. Not a
// public interface: only SwarmRuntime's own .cc files include it. Pure; any thread.
#pragma once

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/deadline.h"

namespace harness::swarm_steps {

constexpr Duration kStepTimeout{30000};    // one docker command
constexpr Duration kTeardownPoll{200};          // without Docker's event stream
constexpr Duration kTeardownFallbackPoll{1000};  // with it: in case an event was missed
constexpr Duration kTeardownSettle{1000};       // a quiet span that confirms nothing is coming
constexpr Duration kLingering{5000};             // services still there after this are removed again

inline std::vector<std::string> Words(const std::string& out) {
  std::vector<std::string> words;
  std::istringstream in(out);
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

inline Deadline Step(Deadline overall) { return overall.Min(Deadline::In(kStepTimeout)); }

inline void Pause(Duration d) { std::this_thread::sleep_for(d); }

inline std::string StackLabel(const std::string& ns) { return "label=com.docker.stack.namespace=" + ns; }
inline std::string HarnessLabel(const std::string& ns) { return "label=harness.namespace=" + ns; }

}  // namespace harness::swarm_steps
