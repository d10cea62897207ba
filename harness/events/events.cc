#include "events/events.h"

#include "base/time.h"

namespace harness {

const char* EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kRunStarted: return "run_started";
    case EventKind::kPhaseStarted: return "phase_started";
    case EventKind::kPhaseEnded: return "phase_ended";
    case EventKind::kStepStarted: return "step_started";
    case EventKind::kStepEnded: return "step_ended";
    case EventKind::kAttempt: return "attempt";
    case EventKind::kRunEnded: return "run_ended";
    case EventKind::kVerdict: return "verdict";
    case EventKind::kMessage: return "message";
    case EventKind::kFatal: return "fatal";
  }
  return "unknown";
}

nlohmann::json EventJson(const Event& e) {
  nlohmann::json j;
  j["schema"] = "recipe-harness/event/v1";
  j["event"] = EventKindName(e.kind);
  j["at"] = IsoTime(e.at);
  if (!e.run_id.empty()) j["run_id"] = e.run_id;
  if (!e.recipe.empty()) j["recipe"] = e.recipe;
  if (!e.name.empty()) j["name"] = e.name;
  if (!e.status.empty()) j["status"] = e.status;
  if (!e.text.empty()) j["text"] = e.text;
  if (e.kind == EventKind::kPhaseEnded || e.kind == EventKind::kStepEnded || e.kind == EventKind::kRunEnded) {
    j["elapsed_ms"] = e.elapsed.count();
  }
  if (e.budget.count() > 0) j["budget_ms"] = e.budget.count();
  if (e.attempt > 0) j["attempt"] = e.attempt;
  if (e.kind == EventKind::kRunEnded) j["exit_code"] = e.exit_code;
  return j;
}

void EventBus::OnEvent(const Event& e) {
  std::lock_guard<std::mutex> lock(mu_);
  for (EventSink* l : listeners_) l->OnEvent(e);
}

void EventBus::Message(const std::string& line) {
  Event e;
  e.kind = EventKind::kMessage;
  e.text = line;
  if (line.size() > 2 && line[0] == '[') {
    if (size_t close = line.find("] "); close != std::string::npos) {
      e.recipe = line.substr(1, close - 1);
      e.text = line.substr(close + 2);
    }
  }
  OnEvent(e);
}

}  // namespace harness
