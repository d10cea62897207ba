#include "base/strings.h"

#include <catch2/catch.hpp>

namespace harness {
namespace {

TEST_CASE("Lower lower-cases ASCII only", "[strings]") {
  CHECK(Lower("X-Gitea-Event") == "x-gitea-event");
  CHECK(Lower("") == "");
  CHECK(Lower("caf\xC3\x89") == "caf\xC3\x89");  // bytes above ASCII untouched
}

TEST_CASE("Join puts the separator between parts only", "[strings]") {
  CHECK(Join({}, ", ") == "");
  CHECK(Join({"a"}, ", ") == "a");
  CHECK(Join({"a", "b", "c"}, ", ") == "a, b, c");
  CHECK(Join({"a", "", "c"}, "; ") == "a; ; c");
}

TEST_CASE("Trim and TrimRight remove whitespace", "[strings]") {
  CHECK(Trim("  sha256=ab \r\n") == "sha256=ab");
  CHECK(Trim("\t\v\f ") == "");
  CHECK(Trim("a b") == "a b");
  CHECK(TrimRight("  27.3.1\n") == "  27.3.1");
  CHECK(TrimRight("line\r\n \t") == "line");
  CHECK(TrimRight("\n\n") == "");
}

TEST_CASE("TailLines keeps the last lines", "[strings]") {
  CHECK(TailLines("a\nb\nc\n", 2) == "b\nc\n");
  CHECK(TailLines("a\nb\nc", 1) == "c");
  CHECK(TailLines("a\nb", 5) == "a\nb");
  CHECK(TailLines("", 3) == "");
}

}  // namespace
}  // namespace harness
