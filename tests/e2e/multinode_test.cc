// A two-node Swarm on this machine (support/two_node_swarm.h), reached over SSH the way a
// remote Swarm is.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "exec/local_executor.h"
#include "support/e2e.h"
#include "support/two_node_swarm.h"

namespace harness::testing {
namespace {

nlohmann::json Finding(const nlohmann::json& doctor, const std::string& check, const std::string& contains) {
  for (const auto& f : doctor["findings"]) {
    if (f["check"] == check && f["detail"].get<std::string>().find(contains) != std::string::npos) return f;
  }
  return nullptr;
}

TEST_CASE("two-node swarm: doctor reports each node, and a node that lacks an image", "[multinode]") {
  TwoNodeSwarm swarm;
  auto doctor = [&] {
    auto r = RunHarness({"--json", "--recipes", FixtureRecipes(), "--target", swarm.target(), "--ssh-key",
                         swarm.client_key(), "--known-hosts", swarm.known_hosts(), "doctor"},
                        Duration(120000));
    INFO(r.err);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE(j.is_object());
    return std::make_pair(r.exit_code, j);
  };
  // The image is only on node-a so far.
  auto [rc, j] = doctor();
  INFO(j.dump(2));
  CHECK(rc == 3);
  CHECK(Finding(j, "target", swarm.target()) != nullptr);
  CHECK(Finding(j, "swarm", "2 node(s) ready") != nullptr);
  auto b = Finding(j, "node", "node node-b (10.231.0.3, worker)");
  REQUIRE(b != nullptr);
  CHECK(b["level"] == "fail");
  CHECK_THAT(b["detail"].get<std::string>(), Catch::Contains("images missing: recipe-harness/busybox:1"));
  CHECK(Finding(j, "node", "node-a") == nullptr);  // the target's own node is the rest of the report

  LocalExecutor local;
  Command load;
  load.argv = {"sh", "-c", "docker save recipe-harness/busybox:1 | docker -H " + TwoNodeSwarm::Socket("b") + " load"};
  load.deadline = Deadline::In(Duration(60000));
  auto loaded = local.Run(load, CancelToken::None());
  REQUIRE(loaded.ok());
  REQUIRE(loaded->ok());
  auto [rc2, j2] = doctor();
  INFO(j2.dump(2));
  CHECK(rc2 == 0);
  auto b2 = Finding(j2, "node", "node node-b (10.231.0.3, worker)");
  REQUIRE(b2 != nullptr);
  CHECK(b2["level"] == "ok");
  CHECK_THAT(b2["detail"].get<std::string>(), Catch::Contains("; all 1 image(s) present"));
}

}  // namespace
}  // namespace harness::testing
