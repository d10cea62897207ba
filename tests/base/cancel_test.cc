#include "base/cancel.h"

#include <catch2/catch.hpp>
#include <poll.h>
#include <signal.h>

using namespace harness;

namespace {

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return fd >= 0 && poll(&p, 1, 0) == 1;
}

}  // namespace

TEST_CASE("cancel source: its own token stops, others do not; signals stop all", "[cancel]") {
  CancelSource a, b;
  CHECK_FALSE(a.token().cancelled());
  CHECK_FALSE(Readable(a.token().fd()));
  a.Cancel();
  CHECK(a.token().cancelled());
  CHECK(Readable(a.token().fd()));
  CHECK_FALSE(b.token().cancelled());
  CHECK_FALSE(Readable(b.token().fd()));
  CHECK_FALSE(CancelToken::Signals().cancelled());

  CancelToken::RaiseForTest(SIGTERM);
  CHECK(b.token().cancelled());
  CHECK(b.token().signal() == SIGTERM);
  CHECK(Readable(b.token().fd()));
  CancelSource late;  // made after the signal: already cancelled and woken
  CHECK(late.token().cancelled());
  CHECK(Readable(late.token().fd()));
  CHECK_FALSE(CancelToken::None().cancelled());
  CancelToken::ResetForTest();
  CHECK_FALSE(b.token().cancelled());
}

TEST_CASE("cancel source: more sources than slots still cancel", "[cancel]") {
  std::vector<std::unique_ptr<CancelSource>> many;
  for (int i = 0; i < 80; ++i) many.push_back(std::make_unique<CancelSource>());
  many.back()->Cancel();
  CHECK(many.back()->token().cancelled());
  CHECK_FALSE(many.front()->token().cancelled());
  many.clear();
  CancelSource again;  // slots are given back
  again.Cancel();
  CHECK(Readable(again.token().fd()));
}
