// The event stream's listeners: the live view drawn in place, plain lines, JSON lines, and
// when colour and the live view are used (a real pseudo-terminal, NO_COLOR).
#include "events/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>

namespace harness {
namespace {

using Clock = std::chrono::system_clock;
const Clock::time_point t0 = Clock::time_point(std::chrono::seconds(1795672800));

Event At(EventKind kind, const std::string& run, const std::string& recipe, int ms) {
  Event e;
  e.kind = kind;
  e.run_id = run;
  e.recipe = recipe;
  e.at = t0 + std::chrono::milliseconds(ms);
  return e;
}

// The text as a terminal would show it: escape sequences dropped.
std::string Visible(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {
      while (i < s.size() && !std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
      continue;
    }
    out += s[i];
  }
  return out;
}

TEST_CASE("the live view: a line per active run, finished runs scroll above", "[events]") {
  std::ostringstream out;
  LiveConsole live(&out, false, [] { return 100; });
  live.OnEvent(At(EventKind::kRunStarted, "r1", "web", 0));
  live.OnEvent(At(EventKind::kRunStarted, "r2", "notes", 100));
  Event converge = At(EventKind::kPhaseStarted, "r1", "web", 1000);
  converge.name = "converge";
  converge.budget = Duration(60000);
  live.OnEvent(converge);
  Event note = At(EventKind::kMessage, "", "web", 1100);
  note.text = "swarm converged; readiness probe";
  live.OnEvent(note);

  auto block = live.Block(t0 + std::chrono::milliseconds(5200));
  REQUIRE(block.size() == 2);
  CHECK(block[0] == "  web            converge  4.2s / 1m00s    run 5.2s · swarm converged; readiness probe");
  CHECK(block[1] == "  notes          starting  5.1s            run 5.1s");

  // A message of no run scrolls above at once; the block is redrawn under it.
  out.str("");
  Event sweep = At(EventKind::kMessage, "", "", 1200);
  sweep.text = "sweep: starting broken";
  live.OnEvent(sweep);
  std::string frame = out.str();
  CHECK(frame.rfind("\x1b[2F\x1b[J", 0) == 0);  // up over the 2 lines drawn, cleared
  CHECK(Visible(frame).find("sweep: starting broken\n  web") != std::string::npos);

  // A finished run leaves the block and stays above it with its result.
  out.str("");
  Event ended = At(EventKind::kRunEnded, "r1", "web", 9000);
  ended.status = "passed";
  ended.elapsed = Duration(9000);
  live.OnEvent(ended);
  CHECK(Visible(out.str()).find("web            passed in 9.0s\n  notes") != std::string::npos);
  CHECK(live.Block(t0 + std::chrono::seconds(10)).size() == 1);
  CHECK(out.str().find("\x1b[3") == std::string::npos);  // no colour was asked for
}

TEST_CASE("the live view never wraps a line of its block", "[events]") {
  std::ostringstream out;
  LiveConsole live(&out, true, [] { return 40; });
  live.OnEvent(At(EventKind::kRunStarted, "r1", "a-recipe-with-a-long-name", 0));
  Event msg = At(EventKind::kMessage, "", "a-recipe-with-a-long-name", 10);
  msg.text = "converge: waiting for 3 of 4 tasks — ünïcode and more text than fits";
  live.OnEvent(msg);
  out.str("");
  live.Redraw(t0 + std::chrono::seconds(3));
  std::string frame = Visible(out.str());
  std::istringstream lines(frame);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    size_t cols = 0;
    for (unsigned char c : line) cols += (c & 0xC0) != 0x80;
    CHECK(cols <= 39);
  }
  CHECK(n == 1);
  CHECK_THAT(frame, Catch::EndsWith("…\n"));
}

TEST_CASE("the live view shows retries and verdicts, in colour when asked", "[events]") {
  std::ostringstream out;
  LiveConsole live(&out, true, [] { return 120; });
  Event retry = At(EventKind::kAttempt, "r1", "transient", 0);
  retry.attempt = 2;
  retry.text = "failure matches the declared transient class 'registry'";
  live.OnEvent(retry);
  Event ended = At(EventKind::kRunEnded, "r2", "transient", 10);
  ended.status = "failed";
  live.OnEvent(ended);
  Event verdict = At(EventKind::kVerdict, "", "transient", 20);
  verdict.status = "load-flake";
  live.OnEvent(verdict);
  CHECK_THAT(Visible(out.str()), Catch::Contains("retry (attempt 2): failure matches"));
  CHECK_THAT(out.str(), Catch::Contains("\x1b[31mfailed\x1b[0m"));
  CHECK_THAT(Visible(out.str()), Catch::Contains("verdict load-flake"));
}

TEST_CASE("plain lines: one per message, the result coloured only when asked", "[events]") {
  std::ostringstream plain, colour;
  PlainConsole p(&plain, false), c(&colour, true);
  EventBus bus;
  bus.Add(&p);
  bus.Add(&c);
  bus.Message("[web] failed: 1 of 2 tests failed");
  bus.Message("sweep: 3 recipes, 2 slots");
  bus.OnEvent(At(EventKind::kPhaseStarted, "r1", "web", 0));  // said by the messages already
  CHECK(plain.str() == "harness: [web] failed: 1 of 2 tests failed\nharness: sweep: 3 recipes, 2 slots\n");
  CHECK(colour.str() ==
        "harness: [web] \x1b[31mfailed\x1b[0m: 1 of 2 tests failed\nharness: sweep: 3 recipes, 2 slots\n");
}

TEST_CASE("JSON lines: one object per event", "[events]") {
  std::ostringstream out;
  JsonConsole json(&out);
  Event ended = At(EventKind::kRunEnded, "r1", "web", 0);
  ended.status = "passed";
  ended.elapsed = Duration(1234);
  ended.exit_code = 0;
  json.OnEvent(ended);
  Event phase = At(EventKind::kPhaseStarted, "r1", "web", 5);
  phase.name = "deploy";
  phase.budget = Duration(300000);
  json.OnEvent(phase);
  std::istringstream lines(out.str());
  std::string a, b, rest;
  std::getline(lines, a);
  std::getline(lines, b);
  CHECK_FALSE(std::getline(lines, rest));
  auto ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
  CHECK(ja["schema"] == "recipe-harness/event/v1");
  CHECK(ja["event"] == "run_ended");
  CHECK(ja["at"] == "2026-11-26T06:00:00.000Z");
  CHECK(ja["elapsed_ms"] == 1234);
  CHECK(ja["exit_code"] == 0);
  CHECK(jb["event"] == "phase_started");
  CHECK(jb["budget_ms"] == 300000);
  CHECK_FALSE(jb.contains("elapsed_ms"));
}

TEST_CASE("colour and the live view: a terminal, NO_COLOR, TERM=dumb", "[events]") {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  REQUIRE(master >= 0);
  REQUIRE(grantpt(master) == 0);
  REQUIRE(unlockpt(master) == 0);
  int tty = open(ptsname(master), O_RDWR | O_NOCTTY);
  REQUIRE(tty >= 0);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::string saved_term = getenv("TERM") ? getenv("TERM") : "";
  unsetenv("NO_COLOR");
  setenv("TERM", "xterm", 1);
  CHECK(ConsoleLive(tty));
  CHECK(ConsoleColor(tty));
  CHECK_FALSE(ConsoleLive(fds[1]));
  CHECK_FALSE(ConsoleColor(fds[1]));
  setenv("NO_COLOR", "1", 1);
  CHECK(ConsoleLive(tty));  // NO_COLOR is about colour only
  CHECK_FALSE(ConsoleColor(tty));
  setenv("NO_COLOR", "", 1);  // empty: as if unset
  CHECK(ConsoleColor(tty));
  setenv("TERM", "dumb", 1);
  CHECK_FALSE(ConsoleLive(tty));
  CHECK_FALSE(ConsoleColor(tty));
  unsetenv("NO_COLOR");
  if (saved_term.empty()) unsetenv("TERM"); else setenv("TERM", saved_term.c_str(), 1);
  close(tty);
  close(master);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace harness
