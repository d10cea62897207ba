// The event stream of the engine: runs, phases and steps starting and ending, retries,
// verdicts and fatal errors, and the progress messages between them. One interface
// (EventSink), several listeners: the live terminal view, plain lines, JSON lines.
//
// Thread-safety: EventBus::OnEvent and EventBus::Message may be called from any thread;
// the bus owns no listener (each must outlive it) and calls them one
// event at a time, in the order the events were emitted.
#pragma once

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/deadline.h"

namespace harness {

enum class EventKind {
  kRunStarted,    // run_id, recipe, text = namespace
  kPhaseStarted,  // name = phase, budget (0 when the phase has none of its own)
  kPhaseEnded,    // name, status ("ok" or a code name), elapsed, text = error
  kStepStarted,   // name = test
  kStepEnded,     // name, status ("passed" | "failed"), elapsed, text = error
  kAttempt,       // attempt (2 for a retry), text = why
  kRunEnded,      // status = result, elapsed, text = reason, exit_code
  kVerdict,       // status = verdict, text = its reasons (triage)
  kMessage,       // text: a progress line (recipe set when it is a run's)
  kFatal,         // text: the command cannot go on
};

const char* EventKindName(EventKind kind);

struct Event {
  EventKind kind = EventKind::kMessage;
  std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
  std::string run_id;
  std::string recipe;
  std::string name;
  std::string status;
  std::string text;
  Duration elapsed{0};
  Duration budget{0};
  int attempt = 0;
  int exit_code = -1;
};

// One JSON object per event (the --json progress stream); schema recipe-harness/event/v1.
nlohmann::json EventJson(const Event& e);

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnEvent(const Event& e) = 0;
};

// Fans events out to its listeners. Listeners must outlive the bus's use.
class EventBus : public EventSink {
 public:
  void Add(EventSink* listener) { listeners_.push_back(listener); }
  void OnEvent(const Event& e) override;
  // A progress line: "[recipe] text" lines are attributed to the recipe.
  void Message(const std::string& line);

 private:
  std::mutex mu_;
  std::vector<EventSink*> listeners_;
};

}  // namespace harness
