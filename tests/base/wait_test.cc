#include "base/wait.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <thread>

namespace harness {
namespace {

Duration Since(Clock::time_point t) { return std::chrono::duration_cast<Duration>(Clock::now() - t); }

TEST_CASE("WaitFor runs its course when nothing cancels it", "[wait]") {
  CancelSource source;
  auto started = Clock::now();
  CHECK(WaitFor(Duration(50), source.token()));
  CHECK(Since(started) >= Duration(50));
  started = Clock::now();
  CHECK(WaitFor(Duration(20), CancelToken::None()));
  CHECK(Since(started) >= Duration(20));
}

TEST_CASE("WaitFor wakes as soon as its token is cancelled", "[wait]") {
  CancelSource source;
  auto started = Clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // lets the wait begin first
    source.Cancel();
  });
  bool whole = WaitFor(Duration(60000), source.token());
  canceller.join();
  CHECK_FALSE(whole);
  CHECK(Since(started) < Duration(10000));
}

TEST_CASE("WaitFor on a token cancelled beforehand returns at once", "[wait]") {
  CancelSource source;
  source.Cancel();
  auto started = Clock::now();
  CHECK_FALSE(WaitFor(Duration(60000), source.token()));
  CHECK(Since(started) < Duration(10000));
}

TEST_CASE("WaitFor wakes for a signal too", "[wait]") {
  CancelSource source;
  CancelToken::RaiseForTest(SIGTERM);
  CHECK_FALSE(WaitFor(Duration(60000), source.token()));
  CHECK_FALSE(WaitFor(Duration(60000), CancelToken::Signals()));
  CancelToken::ResetForTest();
  CHECK(WaitFor(Duration(1), source.token()));
}

}  // namespace
}  // namespace harness
