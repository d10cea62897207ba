#include <catch2/catch.hpp>
#include <string>

#include "runtime/docker_api.h"

namespace harness {
namespace {

// One frame as Docker writes it: stream byte, three zero bytes, size big endian, payload.
std::string Frame(unsigned char stream, const std::string& payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  const size_t n = payload.size();
  f[4] = static_cast<char>((n >> 24) & 0xff);
  f[5] = static_cast<char>((n >> 16) & 0xff);
  f[6] = static_cast<char>((n >> 8) & 0xff);
  f[7] = static_cast<char>(n & 0xff);
  return f + payload;
}

TEST_CASE("stream demux: frames go to their stream, split anywhere", "[runtime]") {
  const std::string big(70000, 'x');  // a size over 16 bits
  const std::string wire = Frame(1, "hello\n") + Frame(2, "oops\n") + Frame(1, big) + Frame(2, "") +
                           Frame(1, std::string("a\0b", 3));
  for (size_t piece : {size_t{1}, size_t{3}, size_t{8}, size_t{9}, size_t{4096}, wire.size()}) {
    StreamDemux d;
    for (size_t at = 0; at < wire.size(); at += piece) d.Feed(std::string_view(wire).substr(at, piece));
    INFO("pieces of " << piece);
    CHECK(d.out == "hello\n" + big + std::string("a\0b", 3));
    CHECK(d.err == "oops\n");
  }
}

TEST_CASE("stream demux: an unfinished frame is held, not guessed", "[runtime]") {
  StreamDemux d;
  const std::string f = Frame(1, "partial");
  d.Feed(std::string_view(f).substr(0, f.size() - 1));
  CHECK(d.out.empty());
  d.Feed(std::string_view(f).substr(f.size() - 1));
  CHECK(d.out == "partial");
}

}  // namespace
}  // namespace harness
