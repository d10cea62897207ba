// Listeners that show the event stream to a person or a program.
//
//   LiveConsole   a terminal: one line per active run (recipe, phase, elapsed time and
//                 budget, its latest message), redrawn in place; finished runs and
//                 messages of no run scroll above it.
//   PlainConsole  a pipe, a log file, or --plain: one line per message, as it comes.
//   JsonConsole   --json: one JSON object per event (recipe-harness/event/v1).
//
// Colour only when asked for (a terminal, NO_COLOR unset); see ConsoleColor().
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <ostream>
#include <thread>

#include "events/events.h"

namespace harness {

// Colour for `fd`: a terminal, NO_COLOR unset or empty, and TERM not "dumb".
bool ConsoleColor(int fd);
// Whether `fd` can show a live view (a terminal, TERM not "dumb").
bool ConsoleLive(int fd);
// The terminal's width in columns (80 when it cannot be told).
int ConsoleWidth(int fd);

class PlainConsole : public EventSink {
 public:
  PlainConsole(std::ostream* out, bool color) : out_(out), color_(color) {}
  void OnEvent(const Event& e) override;

 private:
  std::ostream* out_;
  bool color_;
};

class JsonConsole : public EventSink {
 public:
  explicit JsonConsole(std::ostream* out) : out_(out) {}
  void OnEvent(const Event& e) override;

 private:
  std::ostream* out_;
};

class LiveConsole : public EventSink {
 public:
  using Clock = std::chrono::system_clock;
  LiveConsole(std::ostream* out, bool color, std::function<int()> width);
  // Stops the ticker and leaves the screen with the finished lines only.
  ~LiveConsole() override;
  LiveConsole(const LiveConsole&) = delete;
  LiveConsole& operator=(const LiveConsole&) = delete;

  void OnEvent(const Event& e) override;
  // Redraws every `period` (elapsed times move on between events).
  void StartTicker(Duration period);
  // Draws the pending lines and the block of active runs as of `now`.
  void Redraw(Clock::time_point now);
  // The block of active runs as of `now`, one string per line (no escapes but colour).
  std::vector<std::string> Block(Clock::time_point now) const;

 private:
  struct Active {
    std::string recipe;
    std::string phase;
    Clock::time_point run_started;
    Clock::time_point phase_started;
    Duration budget{0};
    std::string note;
    int attempt = 1;
  };
  std::string Paint(const std::string& text, const char* code) const;
  std::string Fit(const std::string& line) const;
  void Above(std::string line);
  void RedrawLocked(Clock::time_point now);

  std::ostream* out_;
  bool color_;
  std::function<int()> width_;
  mutable std::mutex mu_;
  std::map<std::string, Active> active_;       // by run id
  std::vector<std::string> run_order_;         // run ids, oldest first
  std::vector<std::string> pending_;           // lines to scroll above the block
  int drawn_ = 0;                              // lines of the block on screen
  std::thread ticker_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

// The result word of a run, coloured ("passed" green, "failed"/"error" red, ...).
std::string PaintResult(const std::string& result, bool color);

}  // namespace harness
