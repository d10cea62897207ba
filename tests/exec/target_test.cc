#include "exec/target.h"

#include <catch2/catch.hpp>

namespace harness {
namespace {

TEST_CASE("targets: local, and ssh:// with user, host and port", "[target]") {
  auto local = ParseTarget("local");
  REQUIRE(local.ok());
  CHECK(local->local);
  CHECK(local->Describe() == "local");
  CHECK(ParseTarget("")->local);

  auto full = ParseTarget("ssh://deploy@swarm.example.org:2222");
  REQUIRE(full.ok());
  CHECK_FALSE(full->local);
  CHECK(full->user == "deploy");
  CHECK(full->host == "swarm.example.org");
  CHECK(full->port == 2222);
  CHECK(full->Describe() == "ssh://deploy@swarm.example.org:2222");

  auto bare = ParseTarget("ssh://10.0.0.2");
  REQUIRE(bare.ok());
  CHECK(bare->port == 22);
  CHECK_FALSE(bare->user.empty());  // the local user

  auto v6 = ParseTarget("ssh://root@[fd00::2]:22");
  REQUIRE(v6.ok());
  CHECK(v6->host == "fd00::2");
  CHECK(v6->Describe() == "ssh://root@[fd00::2]:22");
}

TEST_CASE("targets: anything a shell or ssh would interpret is refused", "[target]") {
  for (const char* bad : {"ftp://host", "ssh://", "ssh://root@", "ssh://root@host;touch x", "ssh://$(id)@host",
                          "ssh://root@host:0", "ssh://root@host:99999", "ssh://root@host:22x", "ssh://-oProxyCommand=x",
                          "ssh://root@-host", "ssh://ro ot@host", "ssh://root@[fd00::2", "ssh://root@[zz::1]",
                          "ssh://root@host:", "ssh://root@h\nost", "ssh://root@höst"}) {
    INFO(bad);
    auto t = ParseTarget(bad);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == Status::Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace harness
