#include "events/console.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/json_text.h"

namespace harness {
namespace {

constexpr const char* kGreen = "32";
constexpr const char* kRed = "31";
constexpr const char* kYellow = "33";
constexpr const char* kDim = "2";
constexpr const char* kBold = "1";

bool DumbTerminal() {
  const char* term = std::getenv("TERM");
  return term != nullptr && std::strcmp(term, "dumb") == 0;
}

std::string Wrap(const std::string& text, const char* code, bool color) {
  if (!color) return text;
  return std::string("\x1b[") + code + "m" + text + "\x1b[0m";
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// Columns a UTF-8 string takes (one per code point; escape sequences take none).
size_t Columns(const std::string& s) {
  size_t cols = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++cols;
  }
  return cols;
}

std::string Pad(const std::string& s, size_t width) {
  size_t cols = Columns(s);
  return cols >= width ? s : s + std::string(width - cols, ' ');
}

}  // namespace

bool ConsoleLive(int fd) { return isatty(fd) == 1 && !DumbTerminal(); }

bool ConsoleColor(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return ConsoleLive(fd);
}

int ConsoleWidth(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

std::string PaintResult(const std::string& result, bool color) {
  if (result == "passed") return Wrap(result, kGreen, color);
  if (result == "failed" || result == "error") return Wrap(result, kRed, color);
  return Wrap(result, kYellow, color);  // infra, interrupted
}

// ---- plain and JSON lines

void PlainConsole::OnEvent(const Event& e) {
  switch (e.kind) {
    case EventKind::kMessage: {
      // A run's closing line starts with its result: coloured like everywhere else.
      std::string text = e.text;
      for (const char* result : {"passed", "failed", "error", "infra", "interrupted"}) {
        std::string word = result;
        if (text.compare(0, word.size(), word) == 0 &&
            (text.size() == word.size() || text[word.size()] == ':')) {
          text = PaintResult(word, color_) + text.substr(word.size());
          break;
        }
      }
      *out_ << "harness: " << (e.recipe.empty() ? "" : "[" + e.recipe + "] ") << text << std::endl;
      break;
    }
    case EventKind::kFatal:
      *out_ << "harness: " << Wrap(e.text, kRed, color_) << std::endl;
      break;
    case EventKind::kVerdict:
      *out_ << "harness: [" << e.recipe << "] verdict " << Wrap(e.status, kBold, color_)
            << (e.text.empty() ? "" : ": " + FirstLine(e.text)) << std::endl;
      break;
    default:
      break;  // runs, phases, tests and retries: the messages around them say the same
  }
}

void JsonConsole::OnEvent(const Event& e) { *out_ << JsonText(EventJson(e)) << std::endl; }

// ---- the live view

LiveConsole::LiveConsole(std::ostream* out, bool color, std::function<int()> width)
    : out_(out), color_(color), width_(std::move(width)) {}

LiveConsole::~LiveConsole() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  std::lock_guard<std::mutex> lock(mu_);
  active_.clear();
  run_order_.clear();
  RedrawLocked(Clock::now());
}

void LiveConsole::StartTicker(Duration period) {
  ticker_ = std::thread([this, period] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      stop_cv_.wait_for(lock, period, [this] { return stop_; });
      if (!stop_ && !active_.empty()) RedrawLocked(Clock::now());
    }
  });
}

std::string LiveConsole::Paint(const std::string& text, const char* code) const {
  return Wrap(text, code, color_);
}

std::string LiveConsole::Fit(const std::string& line) const {
  // Lines never wrap: the block is redrawn by moving up as many lines as it drew.
  size_t width = static_cast<size_t>(std::max(20, width_ ? width_() : 80) - 1);
  if (Columns(line) <= width) return line;
  std::string out;
  size_t cols = 0;
  for (size_t i = 0; i < line.size() && cols < width - 1; ++i) {
    if (line[i] == '\x1b') {
      size_t end = line.find('m', i);
      out += line.substr(i, end - i + 1);
      i = end;
      continue;
    }
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) ++cols;
    out += line[i];
  }
  // Finish the code point that was cut, close any colour, mark the cut.
  return out + (color_ ? "\x1b[0m" : "") + "…";
}

void LiveConsole::Above(std::string line) { pending_.push_back(std::move(line)); }

void LiveConsole::OnEvent(const Event& e) {
  std::lock_guard<std::mutex> lock(mu_);
  auto find_recipe = [&](const std::string& recipe) -> Active* {
    for (auto it = run_order_.rbegin(); it != run_order_.rend(); ++it) {
      if (active_[*it].recipe == recipe) return &active_[*it];
    }
    return nullptr;
  };
  switch (e.kind) {
    case EventKind::kRunStarted: {
      Active a;
      a.recipe = e.recipe;
      a.phase = "starting";
      a.run_started = a.phase_started = e.at;
      if (Active* previous = find_recipe(e.recipe)) a.attempt = previous->attempt;
      active_[e.run_id] = a;
      run_order_.push_back(e.run_id);
      break;
    }
    case EventKind::kPhaseStarted:
      if (auto it = active_.find(e.run_id); it != active_.end()) {
        it->second.phase = e.name;
        it->second.phase_started = e.at;
        it->second.budget = e.budget;
      }
      break;
    case EventKind::kStepStarted:
      if (auto it = active_.find(e.run_id); it != active_.end()) it->second.note = "test: " + e.name;
      break;
    case EventKind::kRunEnded: {
      std::string line = Paint(Pad(e.recipe, 14), kBold) + " " + PaintResult(e.status, color_) + " in " +
                         FormatDuration(e.elapsed);
      if (!e.text.empty()) line += Paint(" · " + FirstLine(e.text), kDim);
      Above(line);
      active_.erase(e.run_id);
      run_order_.erase(std::remove(run_order_.begin(), run_order_.end(), e.run_id), run_order_.end());
      break;
    }
    case EventKind::kAttempt:
      Above(Paint(Pad(e.recipe, 14), kBold) + " " + Paint("retry", kYellow) + " (attempt " +
            std::to_string(e.attempt) + "): " + FirstLine(e.text));
      break;
    case EventKind::kVerdict:
      Above(Paint(Pad(e.recipe, 14), kBold) + " verdict " + Paint(e.status, kBold) +
            (e.text.empty() ? "" : ": " + FirstLine(e.text)));
      break;
    case EventKind::kFatal:
      Above(Paint("error: " + e.text, kRed));
      break;
    case EventKind::kMessage: {
      // A run's messages become its line's note; the rest scroll above.
      Active* a = e.recipe.empty() ? nullptr : find_recipe(e.recipe);
      if (a != nullptr) {
        a->note = FirstLine(e.text);
      } else {
        Above((e.recipe.empty() ? "" : "[" + e.recipe + "] ") + FirstLine(e.text));
      }
      break;
    }
    default:
      break;
  }
  RedrawLocked(e.at);
}

std::vector<std::string> LiveConsole::Block(Clock::time_point now) const {
  std::vector<std::string> lines;
  for (const auto& id : run_order_) {
    const Active& a = active_.at(id);
    auto since = [&](Clock::time_point t) {
      return FormatDuration(std::max(Duration(0), std::chrono::duration_cast<Duration>(now - t)));
    };
    std::string timing = since(a.phase_started);
    if (a.budget.count() > 0) timing += " / " + FormatDuration(a.budget);
    std::string line = "  " + Paint(Pad(a.recipe, 14), kBold) + " " + Pad(a.phase, 9) + " " + Pad(timing, 16) +
                       Paint("run " + since(a.run_started), kDim);
    if (!a.note.empty()) line += Paint(" · " + a.note, kDim);
    lines.push_back(line);
  }
  return lines;
}

void LiveConsole::Redraw(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  RedrawLocked(now);
}

void LiveConsole::RedrawLocked(Clock::time_point now) {
  std::string frame;
  if (drawn_ > 0) frame += "\x1b[" + std::to_string(drawn_) + "F";  // up to the block's first line
  frame += "\x1b[J";                                                 // and clear from there down
  for (const auto& line : pending_) frame += line + "\n";  // printed once: may wrap
  pending_.clear();
  std::vector<std::string> block = Block(now);
  for (const auto& line : block) frame += Fit(line) + "\n";
  drawn_ = static_cast<int>(block.size());
  *out_ << frame << std::flush;
}

}  // namespace harness
